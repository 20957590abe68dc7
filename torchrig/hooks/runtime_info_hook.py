"""RuntimeInfoHook: keeps the message hub's runtime information and scalars current."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.optim.optimizer.base import BaseOptimWrapper
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["RuntimeInfoHook"]


def _is_scalar(value: Any) -> bool:
    """Whether ``value`` is one number (Python, numpy or a one-element tensor/array)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    numel = getattr(value, "numel", None)  # torch.Tensor
    if callable(numel):
        return numel() == 1
    size = getattr(value, "size", None)  # numpy array or scalar
    return isinstance(size, int) and size == 1 and hasattr(value, "dtype")


@HOOKS.register_module()
class RuntimeInfoHook(Hook):
    """Writes the run's progress and scalars into ``runner.message_hub``.

    Runtime info: ``cfg``, ``seed``, ``experiment_name``, ``torchrig_version`` (before run),
    ``loop_stage``, ``epoch``, ``iter``, ``max_epochs``, ``max_iters``, ``dataset_meta``.
    Scalars: ``train/<lr name>`` (e.g. ``train/lr``) before each train iteration, every entry
    of the train step's outputs as ``train/<key>`` (tensors stay tensors: no host sync here),
    and the metrics of a val/test epoch as ``val/<key>``/``test/<key>`` (non-scalar metrics go
    to runtime info under the same key).
    """

    priority = "VERY_HIGH"

    def __init__(self) -> None:
        self._last_loop_stage: str | None = None
        self._train_keys: dict[str, str] = {}  # name -> 'train/<name>', built once per name

    def _train_key(self, name: str) -> str:
        key = self._train_keys.get(name)
        if key is None:
            key = self._train_keys[name] = f"train/{name}"
        return key

    def before_run(self, runner: Runner) -> None:
        from torchrig.version import __version__

        cfg = getattr(runner, "cfg", None)
        info = {
            "cfg": getattr(cfg, "pretty_text", "") if cfg is not None else "",
            "seed": getattr(runner, "seed", None),
            "experiment_name": runner.experiment_name,
            "torchrig_version": __version__,
        }
        runner.message_hub.update_info_dict(info)

    def before_train(self, runner: Runner) -> None:
        hub = runner.message_hub
        hub.update_info("loop_stage", "train")
        hub.update_info("epoch", runner.epoch)
        hub.update_info("iter", runner.iter)
        hub.update_info("max_epochs", runner.max_epochs)
        hub.update_info("max_iters", runner.max_iters)
        dataset = getattr(runner.train_dataloader, "dataset", None)
        metainfo = getattr(dataset, "metainfo", None)
        if metainfo is not None:
            hub.update_info("dataset_meta", metainfo)

    def after_train(self, runner: Runner) -> None:
        runner.message_hub.pop_info("loop_stage")

    def before_train_epoch(self, runner: Runner) -> None:
        runner.message_hub.update_info("epoch", runner.epoch)

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        hub = runner.message_hub
        hub.update_info("iter", runner.iter)
        optim_wrapper = runner.optim_wrapper
        wrapper_type = type(optim_wrapper)
        if (
            wrapper_type.get_lr is BaseOptimWrapper.get_lr
            and wrapper_type.param_groups is BaseOptimWrapper.param_groups
        ):  # what get_lr() would return: {'lr': [the lr of each group]}
            hub.update_scalar("train/lr", optim_wrapper.optimizer.param_groups[0]["lr"])
            return
        lr_dict = optim_wrapper.get_lr()
        if type(lr_dict) is not dict and not isinstance(lr_dict, dict):
            raise TypeError(
                f"optim_wrapper.get_lr() must return a dict of lists, got {type(lr_dict).__name__}"
            )
        train_key = self._train_key
        for name, values in lr_dict.items():
            hub.update_scalar(train_key(name), values[0])

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if outputs is None:
            return
        update_scalar = runner.message_hub.update_scalar
        train_keys = self._train_keys
        for key, value in outputs.items():
            update_scalar(train_keys.get(key) or self._train_key(key), value)

    def before_val(self, runner: Runner) -> None:
        self._last_loop_stage = runner.message_hub.get_info("loop_stage")
        runner.message_hub.update_info("loop_stage", "val")

    def after_val(self, runner: Runner) -> None:
        # Validation may run inside training: give the stage back to the train loop.
        if self._last_loop_stage == "train":
            runner.message_hub.update_info("loop_stage", "train")
        else:
            runner.message_hub.pop_info("loop_stage")
        self._last_loop_stage = None

    def before_test(self, runner: Runner) -> None:
        runner.message_hub.update_info("loop_stage", "test")

    def after_test(self, runner: Runner) -> None:
        runner.message_hub.pop_info("loop_stage")

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._record_metrics(runner, "val", metrics)

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._record_metrics(runner, "test", metrics)

    @staticmethod
    def _record_metrics(runner: Runner, mode: str, metrics: dict[str, Any] | None) -> None:
        if not metrics:
            return
        hub = runner.message_hub
        for key, value in metrics.items():
            if _is_scalar(value):
                hub.update_scalar(f"{mode}/{key}", value)
            else:
                hub.update_info(f"{mode}/{key}", value)
