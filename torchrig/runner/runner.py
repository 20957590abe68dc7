"""The Runner: builds a run's parts from configs or objects and drives train/val/test.

The Runner coordinates; each part is built by a typed function in ``runner/_build`` and
held in a typed attribute. Parts a run may not need (dataloaders, loops, optimizer
wrapper, schedulers) are built when first used, as in MMEngine.
"""

from __future__ import annotations

import copy
import os
import os.path as osp
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from torchrig.config import Config
from torchrig.registry import RUNNERS
from torchrig.runner._build import dataloader as _dataloader
from torchrig.runner._build import env as _env
from torchrig.runner._build import hooks as _hooks
from torchrig.runner._build.describe import describe_objects
from torchrig.runner._builders import BuildMethods
from torchrig.runner._checkpoint_methods import CheckpointMethods
from torchrig.runner._stop import GracefulStop, TrainingStopped, _StopRequested
from torchrig.runner.activation_checkpointing import _turn_on_memory_savers
from torchrig.runner.base_loop import BaseLoop
from torchrig.runner.utils import set_random_seed

if TYPE_CHECKING:
    from torchrig.hooks import Hook
    from torchrig.logging import MessageHub, MMLogger
    from torchrig.optim import OptimWrapper
    from torchrig.runner._build.optim import ParamSchedulers
    from torchrig.runner.log_processor import LogProcessor
    from torchrig.visualization import Visualizer

__all__ = ["Runner"]


def _check_parts(stage: str, parts: dict[str, Any]) -> None:
    given = [name for name, value in parts.items() if value is not None]
    if given and len(given) != len(parts):
        missing = [name for name in parts if name not in given]
        raise ValueError(
            f"{', '.join(parts)} must be given together or not at all (to {stage}); "
            f"got {', '.join(given)} without {', '.join(missing)}"
        )


@RUNNERS.register_module()
class Runner(BuildMethods, CheckpointMethods):
    """Trains, validates and tests a model; MMEngine's ``Runner`` with the same arguments.

    Every part may be a built object or a config dict built through the registries.

    Args:
        model: The model (a ``BaseModel`` or any module with ``train_step``/``val_step``).
        work_dir: Where checkpoints, logs and the dumped config go.
        train_dataloader: The train DataLoader or its config.
        val_dataloader: The val DataLoader or its config.
        test_dataloader: The test DataLoader or its config.
        train_cfg: The train loop: ``dict(by_epoch=True, max_epochs=..., val_interval=...,
            val_begin=...)``, its iteration form, or ``dict(type=..., ...)``.
        val_cfg: The val loop config (``dict()`` for ``ValLoop``).
        test_cfg: The test loop config (``dict()`` for ``TestLoop``).
        auto_scale_lr: ``dict(base_batch_size=..., enable=True)`` scales every learning
            rate by the real total batch size over ``base_batch_size``.
        optim_wrapper: An ``OptimWrapper``/``OptimWrapperDict`` or its config.
        param_scheduler: Schedulers or their configs (a dict per wrapper for several).
        val_evaluator: The val ``Evaluator`` or metric config(s).
        test_evaluator: The test ``Evaluator`` or metric config(s).
        default_hooks: Replaces (or, with None, removes) named default hooks.
        custom_hooks: More hooks or hook configs.
        data_preprocessor: Set on a model config that has none.
        load_from: A checkpoint whose weights are loaded before running.
        resume: Resume training: from ``load_from`` when given, else from the latest
            checkpoint in ``work_dir``.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        env_cfg: ``cudnn_benchmark``, ``mp_cfg``, ``dist_cfg`` and ``graceful_stop`` (what
            SIGTERM/SIGINT/SIGUSR1 do: see ``torchrig.runner._stop.GracefulStop``).
        log_processor: The ``LogProcessor`` or its config.
        log_level: The logger's level.
        visualizer: A ``Visualizer``, its config, or None for one writing local files.
        default_scope: The registry scope used to build from configs.
        randomness: ``dict(seed=..., diff_rank_seed=..., deterministic=...)``.
        experiment_name: The run's name (a timestamp is appended).
        cfg: The full config the runner was made from, recorded with the run.
    """

    cfg: Config

    def __init__(
        self,
        model: nn.Module | dict,
        work_dir: str,
        train_dataloader: DataLoader | dict | None = None,
        val_dataloader: DataLoader | dict | None = None,
        test_dataloader: DataLoader | dict | None = None,
        train_cfg: dict | None = None,
        val_cfg: dict | None = None,
        test_cfg: dict | None = None,
        auto_scale_lr: dict | None = None,
        optim_wrapper: OptimWrapper | dict | None = None,
        param_scheduler: Any = None,
        val_evaluator: Any = None,
        test_evaluator: Any = None,
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
        experiment_name: str | None = None,
        cfg: Config | dict | None = None,
    ) -> None:
        arguments = {k: v for k, v in locals().items() if k not in ("self", "cfg", "__class__")}
        self._work_dir = osp.abspath(work_dir)
        os.makedirs(self._work_dir, exist_ok=True)
        self.cfg = self._resolve_cfg(cfg, arguments)
        self._keep_parts(arguments)
        self._load_from, self._resume = load_from, resume
        self._has_loaded = False
        self._config_recorded = False
        self._fallback_position = (0, 0)  # (epoch, iter) of loaded weights, without a train loop

        env_cfg = dict(dist_cfg=dict(backend="nccl")) if env_cfg is None else env_cfg
        self._graceful_stop = GracefulStop.from_env_cfg(env_cfg)
        self._launcher = launcher
        self._distributed = launcher != "none"
        self._rank, self._world_size = _env.setup_env(env_cfg, launcher, self._distributed)
        self._timestamp = _env.synced_timestamp(self._distributed)
        self._randomness_cfg = dict(seed=None) if randomness is None else dict(randomness)
        self.set_randomness(**self._randomness_cfg)  # before anything random is built
        self._experiment_name = _env.unique_experiment_name(
            experiment_name, self._timestamp, self.cfg.filename
        )
        self._log_dir = osp.join(self._work_dir, self._timestamp)
        os.makedirs(self._log_dir, exist_ok=True)
        self.logger: MMLogger = self.build_logger(log_level=log_level)
        self._log_env(env_cfg)
        self.message_hub: MessageHub = self.build_message_hub()
        self.default_scope = self._init_scope(default_scope)
        self.visualizer: Visualizer = self.build_visualizer(visualizer)
        if isinstance(model, dict) and data_preprocessor is not None:
            model = {"data_preprocessor": data_preprocessor, **model}
        self.model: nn.Module = self.wrap_model(
            self.cfg.get("model_wrapper_cfg"), self.build_model(model)
        )
        self._hooks: list[Hook] = []
        self._stage_callers: dict[str, tuple[Callable[..., Any], ...]] = {}
        self.register_hooks(default_hooks, custom_hooks)
        self.log_processor: LogProcessor = self.build_log_processor(log_processor)
        self.dump_config()

    def _keep_parts(self, arguments: dict[str, Any]) -> None:
        """Checks that each stage's parts come together and keeps their configs (or
        objects) for the builders; nothing is built here."""
        for stage, names in (
            ("train", ("train_dataloader", "train_cfg", "optim_wrapper")),
            ("validate", ("val_dataloader", "val_cfg", "val_evaluator")),
            ("test", ("test_dataloader", "test_cfg", "test_evaluator")),
        ):
            _check_parts(stage, {name: arguments[name] for name in names})
        self._train_dataloader_cfg = arguments["train_dataloader"]
        self._val_dataloader_cfg = arguments["val_dataloader"]
        self._test_dataloader_cfg = arguments["test_dataloader"]
        self._train_loop_cfg: dict | BaseLoop | None = arguments["train_cfg"]
        self._val_loop_cfg: dict | BaseLoop | None = arguments["val_cfg"]
        self._test_loop_cfg: dict | BaseLoop | None = arguments["test_cfg"]
        self._val_evaluator_cfg = arguments["val_evaluator"]
        self._test_evaluator_cfg = arguments["test_evaluator"]
        self._train_loop: BaseLoop | None = None
        self._val_loop: BaseLoop | None = None
        self._test_loop: BaseLoop | None = None
        self._optim_wrapper_cfg = arguments["optim_wrapper"]
        self._optim_wrapper: OptimWrapper | None = None
        self._param_scheduler_cfg = arguments["param_scheduler"]
        self._param_schedulers: ParamSchedulers | None = None
        self.auto_scale_lr: dict | None = arguments["auto_scale_lr"]

    @classmethod
    def from_cfg(cls, cfg: Config | dict) -> Runner:
        """Builds a runner from a full config (MMEngine's keys).

        Args:
            cfg: The config, e.g. from ``Config.fromfile``.
        """
        cfg = copy.deepcopy(cfg)
        # Inside a W&B sweep's run (wandb.agent(sweep_id, function=...)): its parameters win.
        from torchrig.visualization._wandb_sweep import apply_active_sweep

        cfg = apply_active_sweep(cfg)
        return cls(
            model=cfg["model"],
            work_dir=cfg["work_dir"],
            train_dataloader=cfg.get("train_dataloader"),
            val_dataloader=cfg.get("val_dataloader"),
            test_dataloader=cfg.get("test_dataloader"),
            train_cfg=cfg.get("train_cfg"),
            val_cfg=cfg.get("val_cfg"),
            test_cfg=cfg.get("test_cfg"),
            auto_scale_lr=cfg.get("auto_scale_lr"),
            optim_wrapper=cfg.get("optim_wrapper"),
            param_scheduler=cfg.get("param_scheduler"),
            val_evaluator=cfg.get("val_evaluator"),
            test_evaluator=cfg.get("test_evaluator"),
            default_hooks=cfg.get("default_hooks"),
            custom_hooks=cfg.get("custom_hooks"),
            data_preprocessor=cfg.get("data_preprocessor"),
            load_from=cfg.get("load_from"),
            resume=cfg.get("resume", False),
            launcher=cfg.get("launcher", "none"),
            env_cfg=cfg.get("env_cfg", dict(dist_cfg=dict(backend="nccl"))),
            log_processor=cfg.get("log_processor"),
            log_level=cfg.get("log_level", "INFO"),
            visualizer=cfg.get("visualizer"),
            default_scope=cfg.get("default_scope", "torchrig"),
            randomness=cfg.get("randomness", dict(seed=None)),
            experiment_name=cfg.get("experiment_name"),
            cfg=cfg,
        )

    # ------------------------------------------------------------------ set-up helpers
    @staticmethod
    def _resolve_cfg(cfg: Config | dict | None, arguments: dict[str, Any]) -> Config:
        if isinstance(cfg, Config):
            return copy.deepcopy(cfg)
        if isinstance(cfg, dict):
            return Config(copy.deepcopy(cfg))
        # Built from objects: record what can be described (types and arguments).
        return Config(describe_objects(arguments))

    def _init_scope(self, default_scope: str | None) -> Any:
        if default_scope is None:
            return None
        from torchrig.registry import DefaultScope

        return DefaultScope.get_instance(self._experiment_name, scope_name=default_scope)

    def _log_env(self, env_cfg: dict) -> None:
        runtime = dict(
            **env_cfg,
            seed=self._seed,
            deterministic=self._deterministic,
            launcher=self._launcher,
            distributed=self._distributed,
            world_size=self._world_size,
        )
        self.logger.info(_env.format_env(_env.collect_env(), runtime))
        self.logger.info(f"Config:\n{self.cfg.pretty_text}")

    def set_randomness(
        self, seed: int | None = None, diff_rank_seed: bool = False, deterministic: bool = False
    ) -> None:
        """Seeds every random generator (see :func:`torchrig.runner.utils.set_random_seed`).

        Args:
            seed: The seed; None draws one (recorded in checkpoints).
            diff_rank_seed: Different seeds on different ranks.
            deterministic: Select deterministic algorithms.
        """
        self._deterministic = deterministic
        self._seed = set_random_seed(seed, deterministic, diff_rank_seed)

    def dump_config(self) -> None:
        """Writes the config to ``work_dir`` (rank 0)."""
        from torchrig.dist import is_main_process

        if not is_main_process() or len(self.cfg) == 0:
            return
        name = osp.basename(self.cfg.filename) if self.cfg.filename else f"{self._timestamp}.py"
        self.cfg.dump(osp.join(self._work_dir, name))

    # ------------------------------------------------------------------ properties
    @property
    def experiment_name(self) -> str:
        """The run's unique name."""
        return self._experiment_name

    @property
    def work_dir(self) -> str:
        """The work directory."""
        return self._work_dir

    @property
    def log_dir(self) -> str:
        """``work_dir/<timestamp>``: this run's logs and local tracker files."""
        return self._log_dir

    @property
    def timestamp(self) -> str:
        """When the run started (``%Y%m%d_%H%M%S``, the same on every rank)."""
        return self._timestamp

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self._seed

    @property
    def deterministic(self) -> bool:
        """Whether deterministic algorithms are selected."""
        return self._deterministic

    @property
    def launcher(self) -> str:
        """The launcher."""
        return self._launcher

    @property
    def distributed(self) -> bool:
        """Whether the run is distributed."""
        return self._distributed

    @property
    def rank(self) -> int:
        """This process's rank."""
        return self._rank

    @property
    def world_size(self) -> int:
        """The number of processes."""
        return self._world_size

    @property
    def hooks(self) -> list[Hook]:
        """The registered hooks, by priority."""
        return self._hooks

    @property
    def epoch(self) -> int:
        """Completed training epochs."""
        loop = self._train_loop
        return loop.epoch if loop is not None else self._fallback_position[0]  # type: ignore[attr-defined]

    @property
    def iter(self) -> int:
        """Completed training iterations."""
        loop = self._train_loop
        return loop.iter if loop is not None else self._fallback_position[1]  # type: ignore[attr-defined]

    @property
    def max_epochs(self) -> int:
        """Total training epochs (0 without training)."""
        loop = self.train_loop
        return 0 if loop is None else loop.max_epochs  # type: ignore[attr-defined]

    @property
    def max_iters(self) -> int:
        """Total training iterations (0 without training)."""
        loop = self.train_loop
        return 0 if loop is None else loop.max_iters  # type: ignore[attr-defined]

    @property
    def train_loop(self) -> BaseLoop | None:
        """The train loop, built (with its dataloader) on first use; None without one."""
        if self._train_loop is None and self._train_loop_cfg is not None:
            self._train_loop = self.build_train_loop(self._train_loop_cfg)
        return self._train_loop

    @property
    def val_loop(self) -> BaseLoop | None:
        """The val loop, built on first use; None without one."""
        if self._val_loop is None and self._val_loop_cfg is not None:
            self._val_loop = self.build_val_loop(self._val_loop_cfg)
        return self._val_loop

    @property
    def test_loop(self) -> BaseLoop | None:
        """The test loop, built on first use; None without one."""
        if self._test_loop is None and self._test_loop_cfg is not None:
            self._test_loop = self.build_test_loop(self._test_loop_cfg)
        return self._test_loop

    @property
    def train_dataloader(self) -> DataLoader | None:
        """The train dataloader (builds the train loop)."""
        loop = self.train_loop
        return None if loop is None else loop.dataloader

    @property
    def val_dataloader(self) -> DataLoader | None:
        """The val dataloader (builds the val loop)."""
        loop = self.val_loop
        return None if loop is None else loop.dataloader

    @property
    def test_dataloader(self) -> DataLoader | None:
        """The test dataloader (builds the test loop)."""
        loop = self.test_loop
        return None if loop is None else loop.dataloader

    @property
    def val_evaluator(self) -> Any:
        """The val evaluator (builds the val loop)."""
        return getattr(self.val_loop, "evaluator", None)

    @property
    def test_evaluator(self) -> Any:
        """The test evaluator (builds the test loop)."""
        return getattr(self.test_loop, "evaluator", None)

    @property
    def optim_wrapper(self) -> OptimWrapper:
        """The optim wrapper, built (and its lr scaled by ``auto_scale_lr``) on first use."""
        if self._optim_wrapper is None:
            if self._optim_wrapper_cfg is None:
                raise RuntimeError("this runner has no optim_wrapper; pass one to train")
            wrapper = self.build_optim_wrapper(self._optim_wrapper_cfg)
            batch_size = _dataloader.dataloader_batch_size(self._train_dataloader_cfg)
            self.scale_lr(wrapper, self.auto_scale_lr, batch_size)
            self._optim_wrapper = wrapper
        return self._optim_wrapper

    @optim_wrapper.setter
    def optim_wrapper(self, wrapper: OptimWrapper) -> None:
        self._optim_wrapper = wrapper

    @property
    def param_schedulers(self) -> ParamSchedulers | None:
        """The parameter schedulers, built on first use; None without any."""
        if self._param_schedulers is None and self._param_scheduler_cfg is not None:
            self._param_schedulers = self.build_param_scheduler(self._param_scheduler_cfg)
        return self._param_schedulers

    @param_schedulers.setter
    def param_schedulers(self, schedulers: ParamSchedulers | None) -> None:
        self._param_schedulers = schedulers

    # ------------------------------------------------------------------ hooks
    def register_hook(self, hook: Hook | dict, priority: int | str | Any = None) -> None:
        """Adds a hook in priority order (equal priorities keep registration order).

        Args:
            hook: A hook or its config (a ``priority`` key in it wins).
            priority: Overrides the hook's priority.

        Raises:
            TypeError: A method of the hook is named like a stage that does not exist.
        """
        _hooks.insert_by_priority(self._hooks, _hooks.build_hook(hook, priority))
        self._stage_callers = _hooks.stage_callers(self._hooks)

    def register_default_hooks(self, hooks: dict[str, Hook | dict | None] | None = None) -> None:
        """Registers MMEngine's default hooks, with ``hooks`` replacing or removing some.

        Args:
            hooks: ``{name: hook, config or None}`` over the defaults (runtime_info, timer,
                sampler_seed, logger, param_scheduler, checkpoint).
        """
        for hook in _hooks.default_hook_cfgs(hooks):
            self.register_hook(hook)

    def register_custom_hooks(self, hooks: Sequence[Hook | dict]) -> None:
        """Registers user hooks.

        Args:
            hooks: Hooks or hook configs.
        """
        for hook in hooks:
            self.register_hook(hook)

    def register_hooks(
        self,
        default_hooks: dict[str, Hook | dict | None] | None = None,
        custom_hooks: Sequence[Hook | dict] | None = None,
    ) -> None:
        """Registers the default hooks, then the custom ones."""
        self.register_default_hooks(default_hooks)
        if custom_hooks is not None:
            self.register_custom_hooks(custom_hooks)

    def get_hooks_info(self) -> str:
        """Which hook runs at which stage, in the order they run."""
        return _hooks.hooks_info(self._hooks)

    def call_hook(self, fn_name: str, **kwargs: Any) -> None:
        """Calls stage ``fn_name`` of every hook that acts at it, by priority.

        Args:
            fn_name: The stage, e.g. ``'after_train_iter'``.
            **kwargs: The stage's arguments.
        """
        callers = self._stage_callers.get(fn_name)
        if callers is None:  # not a standard stage: ask every hook
            callers = tuple(getattr(h, fn_name) for h in self._hooks if hasattr(h, fn_name))
        for method in callers:
            method(self, **kwargs)

    # ------------------------------------------------------------------ running
    def train(self) -> nn.Module:
        """Trains the model (resuming or loading first when asked); returns the model."""
        if not hasattr(self._unwrapped_model, "train_step"):
            raise TypeError(f"{type(self._unwrapped_model).__name__} has no train_step method")
        with self._closing_visualizer_on_error():
            resume_from = self._read_resume_checkpoint()
            self._record_config()
            loop = self._build_training_parts()
            self.call_hook("before_run")
            self._init_model_weights()
            if resume_from is not None:
                self._resume_from(*resume_from)
            else:
                self._load_weights_if_asked()
            self.optim_wrapper.initialize_count_status(
                self.model,
                loop.iter,  # type: ignore[attr-defined]
                loop.max_iters,  # type: ignore[attr-defined]
            )
            _turn_on_memory_savers(self._unwrapped_model, self.cfg, self.logger)
            self._maybe_compile("train_step")
            with self._graceful_stop.installed():
                try:
                    model = loop.run()
                except _StopRequested as request:
                    raise self._graceful_stop.stop(self, request.signum) from None
            self.call_hook("after_run")
        return model

    def _stop_at_boundary(self) -> None:
        """The train loops call this between iterations: when a stop signal reached any
        rank, training leaves the loop here (see ``runner/_stop.py``)."""
        self._graceful_stop.check(self._distributed)

    def _build_training_parts(self) -> BaseLoop:
        """Builds, in MMEngine's order and before any hook runs, what training needs: the
        train loop (with its dataloader), the optim wrapper (lr scaled), the schedulers and
        the val loop."""
        loop = self.train_loop
        if loop is None:
            raise RuntimeError(
                "this runner cannot train: pass train_dataloader, train_cfg and optim_wrapper"
            )
        _ = (self.optim_wrapper, self.param_schedulers, self.val_loop)
        return loop

    def val(self) -> dict[str, Any]:
        """Validates the model once; returns the metrics."""
        return self._evaluate("val")

    def test(self) -> dict[str, Any]:
        """Tests the model once; returns the metrics."""
        return self._evaluate("test")

    def _evaluate(self, stage: str) -> dict[str, Any]:
        loop = self.val_loop if stage == "val" else self.test_loop
        if loop is None:
            raise RuntimeError(
                f"this runner cannot {stage}: pass {stage}_dataloader, {stage}_cfg and "
                f"{stage}_evaluator"
            )
        with self._closing_visualizer_on_error():
            self._record_config()
            self.call_hook("before_run")
            self._load_weights_if_asked()
            self._maybe_compile(f"{stage}_step")
            metrics = loop.run()
            self.call_hook("after_run")
        return metrics

    @property
    def _unwrapped_model(self) -> nn.Module:
        from torchrig.model import is_model_wrapper

        return self.model.module if is_model_wrapper(self.model) else self.model

    def _init_model_weights(self) -> None:
        if getattr(self.model, "shards_parameters", False):
            return  # FSDP initialised the weights before sharding them (and synced rank 0's)
        model = self._unwrapped_model
        if not callable(getattr(model, "init_weights", None)):
            return
        model.init_weights()
        if self._distributed and isinstance(self.model, nn.parallel.DistributedDataParallel):
            # init_weights ran after DDP's own broadcast: make every rank start alike again.
            from torchrig.dist import broadcast

            for tensor in model.state_dict().values():
                if type(tensor) is torch.Tensor:  # sharded (DTensor) values are left alone
                    broadcast(tensor)

    def _maybe_compile(self, step: str) -> None:
        """Compiles the model's ``step`` method when the config has ``compile=True`` (or a
        dict of ``torch.compile`` arguments), as MMEngine does."""
        compile_cfg = self.cfg.get("compile", False)
        if not compile_cfg:
            return
        kwargs = {} if compile_cfg is True else dict(compile_cfg)
        model = self._unwrapped_model
        method = getattr(model, step)
        if getattr(method, "_torchrig_compiled", False):
            return
        compiled = torch.compile(method, **kwargs)
        compiled._torchrig_compiled = True  # type: ignore[attr-defined]
        setattr(model, step, compiled)

    def _record_config(self) -> None:
        """Sends the resolved config to the trackers, once per runner."""
        if not self._config_recorded:
            self.visualizer.add_config(self.cfg)
            self._config_recorded = True

    @contextmanager
    def _closing_visualizer_on_error(self) -> Generator[None, None, None]:
        """A run that fails keeps what it logged: the trackers are flushed and their runs
        finished with a non-zero exit code, then the error propagates."""
        try:
            yield
        except TrainingStopped:
            raise  # a graceful stop saved a checkpoint and closed the trackers itself
        except BaseException as error:
            try:
                self.call_hook("on_exception", exception=error)
            except Exception as err:  # the original error matters more
                self.logger.warning(f"a hook failed while the run was stopping: {err!r}")
            try:
                self.visualizer.close(exit_code=1)
            except Exception as err:  # the original error matters more
                self.logger.warning(f"closing the visualizer failed: {err!r}")
            raise
