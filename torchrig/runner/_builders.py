"""MMEngine's ``Runner.build_*`` methods, each delegating to a typed builder.

Kept as methods so that code written for MMEngine (and subclasses overriding one) works. Each
imports the lazy references of a pure-Python config (``type=SGD`` after ``from torch.optim
import SGD``) in what it is given first, so that the builders below see classes and functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn
from torch.utils.data import DataLoader

from torchrig.config.lazy import resolve_lazy
from torchrig.runner._build import dataloader as _dataloader
from torchrig.runner._build import evaluator as _evaluator
from torchrig.runner._build import logging as _logging
from torchrig.runner._build import loops as _loops
from torchrig.runner._build import model as _model
from torchrig.runner._build import optim as _optim
from torchrig.runner._build import visualizer as _visualizer

if TYPE_CHECKING:
    from torchrig.evaluator import Evaluator
    from torchrig.logging import MessageHub, MMLogger
    from torchrig.optim import OptimWrapper
    from torchrig.runner._build.optim import ParamSchedulers
    from torchrig.runner.base_loop import BaseLoop
    from torchrig.runner.log_processor import LogProcessor
    from torchrig.runner.runner import Runner
    from torchrig.visualization import Visualizer

__all__ = ["BuildMethods"]


class BuildMethods:
    """The ``build_*`` half of the Runner's interface."""

    @staticmethod
    def build_dataloader(
        dataloader: DataLoader | dict, seed: int | None = None, diff_rank_seed: bool = False
    ) -> DataLoader:
        """See :func:`torchrig.runner._build.dataloader.build_dataloader`."""
        return _dataloader.build_dataloader(resolve_lazy(dataloader), seed, diff_rank_seed)

    def build_model(self: Runner, model: nn.Module | dict) -> nn.Module:  # type: ignore[misc]
        """Builds the model through MODELS (a module is returned as is)."""
        return _model.build_model(resolve_lazy(model))

    def wrap_model(self: Runner, model_wrapper_cfg: dict | None, model: nn.Module) -> nn.Module:  # type: ignore[misc]
        """Moves the model to its device and wraps it for distributed training."""
        return _model.wrap_model(
            model,
            resolve_lazy(model_wrapper_cfg),
            self.distributed,
            self.logger,
            find_unused_parameters=self.cfg.get("find_unused_parameters", False),
        )

    def build_optim_wrapper(self: Runner, optim_wrapper: Any) -> OptimWrapper:  # type: ignore[misc]
        """Builds the optim wrapper for ``self.model``."""
        return _optim.build_optim_wrapper(self.model, resolve_lazy(optim_wrapper))

    def build_param_scheduler(self: Runner, scheduler: Any) -> ParamSchedulers:  # type: ignore[misc]
        """Builds the schedulers of the optim wrapper (ending with training by default)."""
        loop = self.train_loop
        if loop is None:
            raise RuntimeError("parameter schedulers need a train loop (train_cfg)")
        return _optim.build_param_schedulers(
            resolve_lazy(scheduler),
            self.optim_wrapper,
            max_epochs=self.max_epochs,
            max_iters=self.max_iters,
            epoch_length=len(loop.dataloader),
        )

    def build_evaluator(self: Runner, evaluator: Any) -> Evaluator:  # type: ignore[misc]
        """Builds an evaluator from an object, a metric config or a list of them."""
        return _evaluator.build_evaluator(resolve_lazy(evaluator))

    def build_visualizer(self: Runner, visualizer: Any = None) -> Visualizer:  # type: ignore[misc]
        """Builds the visualizer (local files under ``log_dir`` when None)."""
        return _visualizer.build_visualizer(
            resolve_lazy(visualizer), self.experiment_name, self.log_dir
        )

    def build_logger(
        self: Runner, log_level: int | str = "INFO", log_file: str | None = None, **kwargs: Any
    ) -> MMLogger:  # type: ignore[misc]
        """The run's logger, writing ``log_dir/<timestamp>.log`` and the console."""
        if log_file is None:
            log_file = f"{self.log_dir}/{self.timestamp}.log"
        kwargs.setdefault("name", self.experiment_name)
        name = kwargs.pop("name")
        return _logging.build_logger(name, log_file, log_level, **kwargs)

    def build_message_hub(self: Runner, message_hub: dict | None = None) -> MessageHub:  # type: ignore[misc]
        """The run's message hub, named after the experiment."""
        return _logging.build_message_hub(self.experiment_name, message_hub)

    def build_log_processor(self: Runner, log_processor: Any) -> LogProcessor:  # type: ignore[misc]
        """Builds the log processor."""
        return _logging.build_log_processor(resolve_lazy(log_processor))

    def build_train_loop(self: Runner, loop: BaseLoop | dict) -> BaseLoop:  # type: ignore[misc]
        """Builds the train loop with the train dataloader."""
        return _loops.build_train_loop(
            self, resolve_lazy(loop), resolve_lazy(self._train_dataloader_cfg)
        )

    def build_val_loop(self: Runner, loop: BaseLoop | dict) -> BaseLoop:  # type: ignore[misc]
        """Builds the val loop with the val dataloader and evaluator."""
        return _loops.build_val_loop(
            self,
            resolve_lazy(loop),
            resolve_lazy(self._val_dataloader_cfg),
            resolve_lazy(self._val_evaluator_cfg),
        )

    def build_test_loop(self: Runner, loop: BaseLoop | dict) -> BaseLoop:  # type: ignore[misc]
        """Builds the test loop with the test dataloader and evaluator."""
        return _loops.build_test_loop(
            self,
            resolve_lazy(loop),
            resolve_lazy(self._test_dataloader_cfg),
            resolve_lazy(self._test_evaluator_cfg),
        )

    def scale_lr(  # type: ignore[misc]
        self: Runner,
        optim_wrapper: OptimWrapper,
        auto_scale_lr: dict | None = None,
        batch_size: int | None = None,
    ) -> None:
        """Scales learning rates by the linear rule when ``auto_scale_lr`` enables it.

        Args:
            optim_wrapper: The wrapper (before schedulers are built).
            auto_scale_lr: ``dict(base_batch_size=..., enable=True)``.
            batch_size: Batch size per rank (from the train dataloader when None).
        """
        from torchrig.runner._build.optim import scale_lr

        if batch_size is None:
            batch_size = _dataloader.dataloader_batch_size(self._train_dataloader_cfg)
        total = None if batch_size is None else batch_size * self._world_size
        scale_lr(optim_wrapper, auto_scale_lr, total, self.logger)
