"""``FlexibleRunner``: the Runner with a strategy deciding where the model runs and how it is
wrapped (MMEngine's ``mmengine.runner._flexible_runner``).

Everything else (loops, hooks, checkpoints, resume, trackers) is :class:`Runner`'s: a
FlexibleRunner is a Runner whose ``build_model`` and ``wrap_model`` ask its strategy::

    runner = FlexibleRunner(
        model=MyModel(),
        work_dir='work_dirs/fsdp',
        strategy=dict(type='FSDPStrategy', model_wrapper=dict(auto_wrap_policy=policy)),
        train_dataloader=..., optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(by_epoch=True, max_epochs=10),
    )
    runner.train()   # under `torchrun --nproc-per-node 2 train.py`
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch import nn
from torch.utils.data import DataLoader

from torchrig.config import Config
from torchrig.registry import RUNNERS
from torchrig.runner.runner import Runner

if TYPE_CHECKING:
    from torchrig._strategy import BaseStrategy
    from torchrig.hooks import Hook
    from torchrig.optim import OptimWrapper
    from torchrig.runner.log_processor import LogProcessor
    from torchrig.visualization import Visualizer

__all__ = ["FlexibleRunner"]


@RUNNERS.register_module()
class FlexibleRunner(Runner):
    """MMEngine's ``FlexibleRunner``: :class:`Runner` with a ``strategy``.

    Args:
        model: The model or its config.
        work_dir: Where checkpoints, logs and the dumped config go.
        strategy: A strategy or its config (``dict(type='SingleDeviceStrategy' |
            'DDPStrategy' | 'FSDPStrategy', ...)``, through ``STRATEGIES``). None: the
            config's ``strategy`` if ``cfg`` has one, else ``DDPStrategy`` when a launcher
            (torchrun, srun, mpirun) started the process or ``launcher`` names one, else
            ``SingleDeviceStrategy``. ``DeepSpeedStrategy`` and ``ColossalAIStrategy`` raise
            a clear error: torchrig trains on PyTorch's own engine.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``; with a distributed
            strategy, ``'none'`` means the launcher that started the process.
        compile: ``True`` or ``torch.compile`` arguments for the model's steps.
        cfg: The full config (``Runner.from_cfg`` passes it; its ``strategy`` and ``compile``
            are used when the arguments are not given).
        **others: As :class:`Runner` (keyword-only here, as in MMEngine). A
            ``model_wrapper_cfg`` in ``cfg`` is refused: the strategy's ``model_wrapper``
            configures the wrapper.
    """

    def __init__(
        self,
        model: nn.Module | dict,
        *,
        work_dir: str = "work_dir",
        experiment_name: str | None = None,
        train_dataloader: DataLoader | dict | None = None,
        optim_wrapper: OptimWrapper | dict | None = None,
        param_scheduler: Any = None,
        train_cfg: dict | None = None,
        val_dataloader: DataLoader | dict | None = None,
        val_evaluator: Any = None,
        val_cfg: dict | None = None,
        test_dataloader: DataLoader | dict | None = None,
        test_evaluator: Any = None,
        test_cfg: dict | None = None,
        strategy: BaseStrategy | dict | None = None,
        auto_scale_lr: dict | None = None,
        default_hooks: dict[str, Hook | dict | None] | None = None,
        custom_hooks: Sequence[Hook | dict] | None = None,
        data_preprocessor: nn.Module | dict | None = None,
        load_from: str | None = None,
        resume: bool = False,
        launcher: str = "none",
        env_cfg: dict | None = None,
        log_processor: LogProcessor | dict | None = None,
        log_level: int | str = "INFO",
        visualizer: Visualizer | dict | None = None,
        default_scope: str | None = "torchrig",
        randomness: dict | None = None,
        compile: bool | dict = False,
        cfg: Config | dict | None = None,
    ) -> None:
        arguments = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        from torchrig.runner._build.describe import describe_objects

        if not isinstance(compile, (bool, dict)):
            raise TypeError(f"compile must be a bool or a dict, got {type(compile).__name__}")
        if strategy is None and cfg is not None:
            strategy = arguments["strategy"] = cfg.get("strategy")
        self.strategy: BaseStrategy = self.build_strategy(strategy, launcher, work_dir)
        launcher = self.strategy.resolve_launcher(launcher)
        if strategy is None:  # record the strategy chosen
            arguments["strategy"] = dict(type=type(self.strategy).__name__)
        if cfg is None:  # built from objects: describe them, the strategy included
            cfg = describe_objects({k: v for k, v in arguments.items() if k != "cfg"})
        else:
            cfg = copy.deepcopy(cfg)
            if "strategy" not in cfg:
                cfg["strategy"] = arguments["strategy"]
        if compile and not cfg.get("compile"):
            cfg["compile"] = compile  # the Runner compiles the model's steps by the config
        runner_arguments = {
            k: v for k, v in arguments.items() if k not in ("strategy", "compile", "cfg")
        }
        super().__init__(**{**runner_arguments, "launcher": launcher}, cfg=cfg)
        self.strategy._adopt_environment(
            launcher=self.launcher,
            distributed=self.distributed,
            rank=self.rank,
            world_size=self.world_size,
            seed=self.seed,
            randomness=self._randomness_cfg,
            timestamp=self.timestamp,
            experiment_name=self.experiment_name,
            log_dir=self.log_dir,
            logger=self.logger,
        )
        self.strategy.model = self.model

    @staticmethod
    def build_strategy(
        strategy: BaseStrategy | dict | None = None,
        launcher: str = "none",
        work_dir: str = "work_dir",
    ) -> BaseStrategy:
        """Builds the strategy (see the ``strategy`` argument for the default).

        Args:
            strategy: A strategy, its config, or None.
            launcher: The runner's ``launcher`` argument.
            work_dir: The runner's work directory (the strategy's own, if it is used alone).
        """
        from torchrig._strategy import BaseStrategy
        from torchrig.dist.utils import infer_launcher
        from torchrig.registry import STRATEGIES

        if isinstance(strategy, BaseStrategy):
            return strategy
        if strategy is None:
            launched = launcher != "none" or infer_launcher() != "none"
            strategy = dict(type="DDPStrategy" if launched else "SingleDeviceStrategy")
        if not isinstance(strategy, dict):
            raise TypeError(
                "strategy must be a BaseStrategy, a dict such as dict(type='DDPStrategy') or "
                f"None, got {type(strategy).__name__}"
            )
        cfg = copy.deepcopy(dict(strategy))
        cfg.setdefault("work_dir", work_dir)
        return STRATEGIES.build(cfg)

    def build_model(self, model: nn.Module | dict) -> nn.Module:
        """Builds the model through the strategy."""
        return self.strategy.build_model(model)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: nn.Module) -> nn.Module:
        """Moves the model to its device and wraps it as the strategy says.

        Raises:
            ValueError: The config has a ``model_wrapper_cfg`` (it belongs in the strategy).
        """
        if model_wrapper_cfg is not None:
            raise ValueError(
                "FlexibleRunner wraps the model as its strategy says: move the config's "
                "model_wrapper_cfg into strategy=dict(type=..., model_wrapper=dict(...))"
            )
        return self.strategy.wrap_model(model, self.distributed, self.logger)
