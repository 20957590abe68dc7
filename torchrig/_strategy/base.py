"""``BaseStrategy``: where a model runs and how it is wrapped (MMEngine's ``mmengine._strategy``).

A strategy is the part of a run that differs between one device, DDP and FSDP: it builds the
model, moves it to its device and wraps it. :class:`~torchrig.runner.FlexibleRunner` asks its
strategy for the model and does everything else as :class:`~torchrig.runner.Runner` does.

A strategy also works on its own, as in MMEngine's examples (``strategy.prepare(model,
optim_wrapper=..., param_scheduler=...)`` in a hand-written loop): :meth:`BaseStrategy.prepare`
sets up the process environment, builds and wraps the model, its optim wrapper and schedulers.
"""

from __future__ import annotations

import os
import os.path as osp
import time
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from torchrig.dist.utils import infer_launcher

if TYPE_CHECKING:
    import logging

    from torchrig.optim import OptimWrapper

__all__ = ["BaseStrategy"]


class BaseStrategy:
    """Base class of the strategies.

    Keyword Args:
        work_dir: Where :meth:`prepare` (used without a runner) writes its log.
        experiment_name: The name of such a run (a timestamp is appended).
        env_kwargs: :meth:`setup_env`'s arguments, for use without a runner.
        log_kwargs: :meth:`build_logger`'s arguments, for use without a runner.
        auto_scale_lr: ``dict(base_batch_size=..., enable=True)``, for use without a runner
            (a runner scales learning rates itself).
        compile: Accepted for MMEngine configs; a runner reads ``compile`` from its own
            arguments.
    """

    # Whether the strategy needs a process group (DDP, FSDP): then a run started by a launcher
    # (torchrun) with ``launcher='none'`` joins the launcher's processes, as MMEngine's does.
    distributed_strategy: ClassVar[bool] = False

    def __init__(
        self,
        *,
        work_dir: str = "work_dirs",
        experiment_name: str | None = None,
        env_kwargs: dict | None = None,
        log_kwargs: dict | None = None,
        auto_scale_lr: dict | None = None,
        compile: bool | dict = False,
    ) -> None:
        self._work_dir = osp.abspath(work_dir)
        self._experiment_name_prefix = experiment_name
        self._env_kwargs = dict(env_kwargs or {})
        self._log_kwargs = dict(log_kwargs or {})
        self._auto_scale_lr = auto_scale_lr
        self._compile = compile
        self.dispatch_kwargs: dict[str, Any] = {}
        self._environment: dict[str, Any] | None = None
        self._logger: logging.Logger | None = None
        self.model: nn.Module | None = None
        self.optim_wrapper: OptimWrapper | None = None
        self.param_schedulers: Any = None

    # ------------------------------------------------------------------ what differs
    def resolve_launcher(self, launcher: str) -> str:
        """The launcher a run with this strategy uses.

        A distributed strategy given ``'none'`` takes the launcher from the environment
        (torchrun, srun, mpirun set it), as MMEngine's FlexibleRunner examples expect.

        Raises:
            RuntimeError: A distributed strategy in a process no launcher started.
        """
        if launcher != "none" or not self.distributed_strategy:
            return launcher
        inferred = infer_launcher()
        if inferred == "none":
            raise RuntimeError(
                f"{type(self).__name__} trains on several processes, but this process was not "
                "started by a launcher: run it with `torchrun --nproc-per-node N script.py` (or "
                "srun/mpirun with launcher='slurm'/'mpi'), or use "
                "strategy=dict(type='SingleDeviceStrategy') for one process"
            )
        return inferred

    def build_model(self, model: nn.Module | dict) -> nn.Module:
        """Builds the model through MODELS (a module is returned as is).

        Args:
            model: A module or its config.
        """
        from torchrig.runner._build.model import build_model

        return build_model(model)

    def wrap_model(self, model: nn.Module, distributed: bool, logger: logging.Logger) -> nn.Module:
        """Moves the model to its device (and, in subclasses, wraps it).

        Args:
            model: The built model.
            distributed: Whether the process group is initialised.
            logger: The run's logger.
        """
        from torchrig.runner._build.model import wrap_model

        return wrap_model(model, None, False, logger)

    # ------------------------------------------------------------------ environment
    def setup_env(
        self,
        *,
        launcher: str | None = None,
        cudnn_benchmark: bool = False,
        mp_cfg: dict | None = None,
        dist_cfg: dict | None = None,
        resource_limit: int = 4096,
        randomness: dict | None = None,
    ) -> None:
        """Sets up the process (for use without a runner): joins the launcher's process
        group, seeds the random generators and agrees on a timestamp.

        Args:
            launcher: ``'pytorch'``, ``'slurm'``, ``'mpi'`` or ``'none'``; None infers it.
            cudnn_benchmark: Enable cuDNN's benchmark mode.
            mp_cfg: ``dict(mp_start_method=..., opencv_num_threads=...)``.
            dist_cfg: ``torch.distributed.init_process_group`` arguments (``backend``, ...).
            resource_limit: Unused (torchrig leaves the open-file limit alone).
            randomness: ``dict(seed=..., diff_rank_seed=..., deterministic=...)``.
        """
        from torchrig.runner._build import env as _env
        from torchrig.runner.utils import set_random_seed

        launcher = self.resolve_launcher(infer_launcher() if launcher is None else launcher)
        env_cfg = dict(cudnn_benchmark=cudnn_benchmark, mp_cfg=mp_cfg or {})
        env_cfg["dist_cfg"] = dict(dist_cfg or {})
        distributed = launcher != "none"
        rank, world_size = _env.setup_env(env_cfg, launcher, distributed)
        randomness = dict(seed=None) if randomness is None else dict(randomness)
        seed = set_random_seed(
            randomness.get("seed"),
            randomness.get("deterministic", False),
            randomness.get("diff_rank_seed", False),
        )
        timestamp = _env.synced_timestamp(distributed)
        name = self._experiment_name_prefix
        self._environment = dict(
            launcher=launcher,
            distributed=distributed,
            rank=rank,
            world_size=world_size,
            seed=seed,
            randomness=randomness,
            timestamp=timestamp,
            experiment_name=f"{name}_{timestamp}" if name else timestamp,
            log_dir=osp.join(self._work_dir, timestamp),
        )

    def _adopt_environment(self, **environment: Any) -> None:
        """Takes a runner's environment (the runner set the process up itself)."""
        self._environment = dict(environment)
        self._logger = environment.get("logger")

    def _env(self, key: str) -> Any:
        if self._environment is None:
            self.setup_env(**self._env_kwargs)
        assert self._environment is not None
        return self._environment[key]

    @property
    def work_dir(self) -> str:
        """The work directory."""
        return self._work_dir

    @property
    def log_dir(self) -> str:
        """``work_dir/<timestamp>``."""
        return self._env("log_dir")

    @property
    def experiment_name(self) -> str:
        """The run's name."""
        return self._env("experiment_name")

    @property
    def launcher(self) -> str:
        """The launcher."""
        return self._env("launcher")

    @property
    def distributed(self) -> bool:
        """Whether the run spans several processes."""
        return self._env("distributed")

    @property
    def rank(self) -> int:
        """This process's rank."""
        return self._env("rank")

    @property
    def world_size(self) -> int:
        """The number of processes."""
        return self._env("world_size")

    @property
    def seed(self) -> int:
        """The seed the random generators got."""
        return self._env("seed")

    @property
    def timestamp(self) -> str:
        """When the run started (``%Y%m%d_%H%M%S``, the same on every rank)."""
        return self._env("timestamp")

    @property
    def logger(self) -> logging.Logger:
        """The run's logger (built on first use without a runner)."""
        if self._logger is None:
            self._logger = self.build_logger(**self._log_kwargs)
        return self._logger

    def build_logger(
        self, log_level: int | str = "INFO", log_file: str | None = None, **kwargs: Any
    ) -> logging.Logger:
        """The logger: console plus ``log_dir/<timestamp>.log``.

        Args:
            log_level: The level of both outputs.
            log_file: The log file (``log_dir/<timestamp>.log`` when None).
            **kwargs: More ``MMLogger.get_instance`` arguments (``name``, ...).
        """
        from torchrig.runner._build.logging import build_logger

        if log_file is None:
            os.makedirs(self.log_dir, exist_ok=True)
            log_file = osp.join(self.log_dir, f"{self.timestamp}.log")
        name = kwargs.pop("name", self.experiment_name)
        return build_logger(name, log_file, log_level, **kwargs)

    # ------------------------------------------------------------------ without a runner
    def prepare(
        self,
        model: nn.Module | dict,
        *,
        optim_wrapper: OptimWrapper | dict | None = None,
        param_scheduler: Any = None,
        compile: bool | dict = False,
        dispatch_kwargs: dict | None = None,
    ) -> Any:
        """Builds and wraps the model, then its optim wrapper and schedulers, for a loop of
        your own.

        Args:
            model: A module or its config.
            optim_wrapper: An optim wrapper or its config (built after wrapping, so an FSDP
                optimizer holds the shards).
            param_scheduler: Schedulers or their configs (needs ``optim_wrapper``).
            compile: ``True`` or ``torch.compile`` arguments (``target`` names the method,
                ``'forward'`` by default).
            dispatch_kwargs: ``max_iters``, ``max_epochs`` and ``epoch_length`` (default ends
                of schedulers), ``train_micro_batch_size_per_gpu`` (``auto_scale_lr``).

        Returns:
            The model; ``(model, optim_wrapper)`` with an optim wrapper; ``(model,
            optim_wrapper, param_schedulers)`` with schedulers too.
        """
        from torchrig.runner._build.optim import (
            build_optim_wrapper,
            build_param_schedulers,
            scale_lr,
        )

        if param_scheduler is not None and optim_wrapper is None:
            raise ValueError("prepare: param_scheduler needs an optim_wrapper")
        self.dispatch_kwargs.update(dispatch_kwargs or {})
        built = self.build_model(model)
        wrapped = self.wrap_model(built, self.distributed, self.logger)
        if not getattr(wrapped, "shards_parameters", False):
            self._init_weights(wrapped)
        self.model = self.compile_model(wrapped, compile)
        if optim_wrapper is None:
            return self.model
        self.optim_wrapper = build_optim_wrapper(self.model, optim_wrapper)
        micro_batch = self.dispatch_kwargs.get("train_micro_batch_size_per_gpu")
        real_batch = None if micro_batch is None else micro_batch * self.world_size
        scale_lr(self.optim_wrapper, self._auto_scale_lr, real_batch, self.logger)
        if param_scheduler is None:
            return self.model, self.optim_wrapper
        self.param_schedulers = build_param_schedulers(
            param_scheduler,
            self.optim_wrapper,
            max_epochs=self.dispatch_kwargs.get("max_epochs", 0),
            max_iters=self.dispatch_kwargs.get("max_iters", 0),
            epoch_length=self.dispatch_kwargs.get("epoch_length", 1),
        )
        return self.model, self.optim_wrapper, self.param_schedulers

    def _init_weights(self, model: nn.Module) -> None:
        """Runs the bare model's ``init_weights`` and gives every rank rank 0's result."""
        from torchrig.dist import broadcast
        from torchrig.model import is_model_wrapper

        bare = model.module if is_model_wrapper(model) else model
        if not callable(getattr(bare, "init_weights", None)):
            return
        bare.init_weights()
        if self.distributed:
            for tensor in bare.state_dict().values():
                broadcast(tensor)

    def compile_model(self, model: nn.Module, compile: bool | dict = False) -> nn.Module:
        """Compiles ``model.<target>`` (``forward`` by default) with ``torch.compile``.

        Args:
            model: The prepared model.
            compile: False, True, or ``torch.compile`` arguments plus ``target``.
        """
        import torch

        if not compile:
            return model
        kwargs = {} if compile is True else dict(compile)
        target = kwargs.pop("target", "forward")
        setattr(model, target, torch.compile(getattr(model, target), **kwargs))
        self.logger.info(f"compiled {type(model).__name__}.{target} with torch.compile")
        return model

    def model_state_dict(self) -> dict[str, Any]:
        """The prepared model's weights on the CPU (a full state dict under FSDP: a
        collective, every rank calls it)."""
        from torchrig.runner.checkpoint import get_state_dict, weights_to_cpu

        return weights_to_cpu(get_state_dict(self._prepared_model()))

    def optim_state_dict(self) -> dict[str, Any]:
        """The optim wrapper's state (under FSDP gathered and keyed by parameter names)."""
        model = self._prepared_model()
        if self.optim_wrapper is None:
            raise RuntimeError("optim_state_dict: prepare() was not given an optim_wrapper")
        if getattr(model, "shards_parameters", False):
            return model.optim_state_dict(self.optim_wrapper)  # type: ignore[operator]
        return self.optim_wrapper.state_dict()

    def scheduler_state_dict(self) -> list | dict[str, list]:
        """The schedulers' states (a dict of lists for several optim wrappers)."""
        from torchrig.runner._state import _scheduler_states

        return _scheduler_states(self) or []  # type: ignore[arg-type]

    def save_checkpoint(
        self,
        filename: str,
        *,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        extra_ckpt: dict | None = None,
        callback: Any = None,
    ) -> None:
        """Writes the prepared parts to ``filename`` (rank 0, atomically).

        Args:
            filename: The checkpoint file.
            save_optimizer: Include the optim wrapper's state.
            save_param_scheduler: Include the schedulers' states.
            extra_ckpt: More top-level entries (``meta`` is extended, not replaced).
            callback: Called with the checkpoint dict before it is written.
        """
        from torchrig.dist import is_main_process
        from torchrig.runner.checkpoint import save_checkpoint
        from torchrig.version import __version__

        checkpoint: dict[str, Any] = {"state_dict": self.model_state_dict()}
        if save_optimizer and self.optim_wrapper is not None:
            checkpoint["optimizer"] = self.optim_state_dict()
        if save_param_scheduler and self.param_schedulers is not None:
            checkpoint["param_schedulers"] = self.scheduler_state_dict()
        extra = dict(extra_ckpt or {})
        meta = dict(extra.pop("meta", {}))
        meta.update(
            seed=self.seed,
            time=time.strftime("%Y%m%d_%H%M%S", time.localtime()),
            torchrig_version=__version__,
        )
        checkpoint.update(extra, meta=meta)
        if callback is not None:
            callback(checkpoint)
        if is_main_process():
            save_checkpoint(checkpoint, filename)

    def load_checkpoint(
        self,
        filename: str,
        *,
        map_location: str | Any = "cpu",
        strict: bool = False,
        revise_keys: Any = ((r"^module\.", ""),),
        callback: Any = None,
    ) -> dict:
        """Loads a checkpoint's weights into the prepared model.

        Args:
            filename: Path or URL (``torchvision://``, ``open-mmlab://``, ... too).
            map_location: Where tensors are loaded.
            strict: Raise when keys or shapes do not fit.
            revise_keys: ``(pattern, replacement)`` key rewrites.
            callback: Called with the loaded checkpoint before the weights are loaded.

        Returns:
            The checkpoint.
        """
        from torchrig.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

        checkpoint = _load_checkpoint(filename, map_location=map_location)
        if callback is not None:
            callback(checkpoint)
        _load_checkpoint_to_model(
            self._prepared_model(), checkpoint, strict, self.logger, revise_keys
        )
        return checkpoint

    def resume(
        self,
        filename: str,
        *,
        resume_optimizer: bool = True,
        resume_param_scheduler: bool = True,
        map_location: str | Any = "cpu",
        callback: Any = None,
    ) -> dict:
        """Loads weights, optimizer and scheduler states saved by :meth:`save_checkpoint`.

        Args:
            filename: The checkpoint.
            resume_optimizer: Restore the optim wrapper.
            resume_param_scheduler: Restore the schedulers.
            map_location: Where tensors are loaded.
            callback: Called with the loaded checkpoint first.

        Returns:
            The checkpoint (its ``meta`` holds what the loop needs, e.g. the iteration).
        """
        from torchrig.runner._state import _load_schedulers

        checkpoint = self.load_checkpoint(filename, map_location=map_location, callback=callback)
        model = self._prepared_model()
        if resume_optimizer and self.optim_wrapper is not None and "optimizer" in checkpoint:
            if getattr(model, "shards_parameters", False):
                model.load_optim_state_dict(self.optim_wrapper, checkpoint["optimizer"])  # type: ignore[operator]
            else:
                self.optim_wrapper.load_state_dict(checkpoint["optimizer"])
        if resume_param_scheduler:
            _load_schedulers(self, checkpoint.get("param_schedulers"))  # type: ignore[arg-type]
        return checkpoint

    def _prepared_model(self) -> nn.Module:
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__}: call prepare(model, ...) first")
        return self.model
