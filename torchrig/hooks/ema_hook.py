"""EMAHook: keeps an exponential moving average of the model and evaluates with it."""

from __future__ import annotations

import copy
import os.path as osp
from itertools import chain
from typing import TYPE_CHECKING, Any

from torchrig.hooks.checkpoint_hook import CheckpointHook, ema_sidecar_path
from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS, MODELS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["EMAHook"]


@HOOKS.register_module()
class EMAHook(Hook):
    """Keeps an averaged copy of the model, validates and tests with it.

    The averaged model is built from ``MODELS`` (``ExponentialMovingAverage``,
    ``MomentumAnnealingEMA``, ``StochasticWeightAverage`` or any ``BaseAveragedModel``) and
    updated after every train iteration from ``begin_iter``/``begin_epoch`` on (before that it
    copies the model). Its weights are swapped into the model for each val and test epoch.

    Checkpoints hold the averaged state under ``ema_state_dict``, and their ``state_dict`` holds
    the averaged weights (the model's own weights go to ``ema_state_dict``'s ``module.*``), so
    a checkpoint loaded for inference uses the EMA weights; a resume swaps them back.

    Args:
        ema_type: Registered type of the averaged model.
        strict_load: Load the averaged weights strictly.
        begin_iter: Iteration from which the average is updated.
        begin_epoch: Epoch from which the average is updated (exclusive with ``begin_iter``).
        save_ema_weights: Also write the EMA weights as a file of their own beside each
            checkpoint that :class:`CheckpointHook` saves: ``epoch_3.pth`` ->
            ``epoch_3_ema.pth`` (``ema_iter_{iter}.pth`` in ``work_dir`` for a checkpoint saved
            otherwise), holding ``{'meta': ..., 'state_dict': <weights of the bare model>}``,
            loadable with ``load_checkpoint`` into the model. It is deleted together with its
            checkpoint (``max_keep_ckpts``, best checkpoints).
        **kwargs: Arguments of the averaged model (``momentum``, ``interval``,
            ``update_buffers``, ``device``, ...).
    """

    priority = "NORMAL"

    def __init__(
        self,
        ema_type: str = "ExponentialMovingAverage",
        strict_load: bool = False,
        begin_iter: int = 0,
        begin_epoch: int = 0,
        save_ema_weights: bool = False,
        **kwargs: Any,
    ) -> None:
        if begin_iter != 0 and begin_epoch != 0:
            raise ValueError("EMAHook: set begin_iter or begin_epoch, not both")
        if begin_iter < 0 or begin_epoch < 0:
            raise ValueError(
                f"EMAHook: begin_iter and begin_epoch must be >= 0, got {begin_iter}, {begin_epoch}"
            )
        self.strict_load = strict_load
        self.ema_cfg = dict(type=ema_type, **kwargs)
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.save_ema_weights = save_ema_weights
        # Without begin_epoch the average starts at begin_iter (0 by default).
        self.enabled_by_epoch = begin_epoch > 0

    def before_run(self, runner: Runner) -> None:
        from torchrig.model import is_model_wrapper

        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        self.src_model = model
        self.ema_model = MODELS.build(self.ema_cfg, default_args=dict(model=self.src_model))

    def before_train(self, runner: Runner) -> None:
        if self.enabled_by_epoch and self.begin_epoch > runner.max_epochs:
            raise ValueError(
                f"EMAHook: begin_epoch ({self.begin_epoch}) is after the last epoch "
                f"({runner.max_epochs}); the average would never be updated"
            )
        if not self.enabled_by_epoch and self.begin_iter > runner.max_iters:
            raise ValueError(
                f"EMAHook: begin_iter ({self.begin_iter}) is after the last iteration "
                f"({runner.max_iters}); the average would never be updated"
            )

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if self._ema_started(runner):
            self.ema_model.update_parameters(self.src_model)
            return
        source = self.src_model.state_dict()
        for key, value in self.ema_model.module.state_dict().items():
            value.data.copy_(source[key].data)

    def before_val_epoch(self, runner: Runner) -> None:
        self._swap_ema_parameters()

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._swap_ema_parameters()

    def before_test_epoch(self, runner: Runner) -> None:
        self._swap_ema_parameters()

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._swap_ema_parameters()

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint["ema_state_dict"] = self.ema_model.state_dict()
        # Swap the dicts' entries, not the parameters: the state dict shares their storage.
        self._swap_ema_state_dict(checkpoint)
        if self.save_ema_weights:
            self._save_ema_file(runner, checkpoint)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        from torchrig.runner.checkpoint import load_state_dict

        resuming = bool(getattr(runner, "_resume", False))
        if "ema_state_dict" in checkpoint and resuming:
            # The model's own weights were stored in ema_state_dict: swap them back.
            self._swap_ema_state_dict(checkpoint)
            self.ema_model.load_state_dict(checkpoint["ema_state_dict"], strict=self.strict_load)
            return
        if resuming:
            runner.logger.warning(
                "EMAHook: the checkpoint has no 'ema_state_dict'; the average starts as a copy "
                "of the checkpoint's weights."
            )
        load_state_dict(
            self.ema_model.module,
            copy.deepcopy(checkpoint["state_dict"]),
            strict=self.strict_load,
            logger=runner.logger,
        )

    def _ema_started(self, runner: Runner) -> bool:
        if self.enabled_by_epoch:
            return runner.epoch + 1 >= self.begin_epoch
        return runner.iter + 1 >= self.begin_iter

    def _swap_ema_parameters(self) -> None:
        if self.ema_model.update_buffers:
            averaged = chain(self.ema_model.module.parameters(), self.ema_model.module.buffers())
            source = chain(self.src_model.parameters(), self.src_model.buffers())
        else:
            averaged = self.ema_model.module.parameters()
            source = self.src_model.parameters()
        for p_avg, p_src in zip(averaged, source):
            tmp = p_avg.data.clone()
            p_avg.data.copy_(p_src.data)
            p_src.data.copy_(tmp)

    @staticmethod
    def _swap_ema_state_dict(checkpoint: dict) -> None:
        model_state = checkpoint["state_dict"]
        ema_state = checkpoint["ema_state_dict"]
        for key in ema_state:
            if key.startswith("module."):
                name = key[len("module.") :]
                if name in model_state:
                    ema_state[key], model_state[name] = model_state[name], ema_state[key]

    def _save_ema_file(self, runner: Runner, checkpoint: dict) -> None:
        from torchrig.dist import is_main_process
        from torchrig.runner.checkpoint import save_checkpoint

        if not is_main_process():
            return
        path = None
        for hook in getattr(runner, "hooks", None) or []:
            if isinstance(hook, CheckpointHook) and hook.saving_path is not None:
                path = ema_sidecar_path(hook.saving_path)
                break
        meta = dict(checkpoint.get("meta") or {})
        if path is None:
            step = meta.get("iter", runner.iter)
            path = osp.join(str(runner.work_dir), f"ema_iter_{step}.pth")
        # After the swap, checkpoint['state_dict'] holds the averaged weights.
        weights = {
            key: value.detach().cpu() if hasattr(value, "detach") else value
            for key, value in checkpoint["state_dict"].items()
        }
        save_checkpoint({"meta": meta, "state_dict": weights}, path)
        runner.logger.info(f"EMA weights saved to {path}")
