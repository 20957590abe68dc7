"""The checkpoint half of the Runner: save, load, resume (see ``_state`` for the contents)."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchrig.runner._build import env as _env
from torchrig.runner._state import build_checkpoint, restore_training_state
from torchrig.runner.checkpoint import (
    CheckpointError,
    _load_checkpoint,
    _load_checkpoint_to_model,
    find_latest_checkpoint,
    save_checkpoint,
)

if TYPE_CHECKING:
    from torchrig.runner.runner import Runner

__all__ = ["CheckpointMethods"]


class CheckpointMethods:
    """Saving, loading and resuming a Runner's state."""

    def _resume_path(self: Runner) -> str | None:
        restarts = _env.elastic_restart_count()
        if restarts:  # torchrun restarted the job after a failure: continue where it stopped
            latest = find_latest_checkpoint(self._work_dir)
            if latest is not None:
                self.logger.info(f"torchrun restart {restarts}: resuming from {latest}")
                return latest
        if not self._resume:
            return None
        if self._load_from is not None:
            return self._load_from
        path = find_latest_checkpoint(self._work_dir)
        if path is None:
            self.logger.info(f"resume=True but no checkpoint in {self._work_dir}; starting anew")
        return path

    def _read_resume_checkpoint(self: Runner) -> tuple[str, dict] | None:
        """Reads the checkpoint to resume from, before anything random is built.

        Re-seeds with the checkpoint's seed (so dataloaders are built as in the interrupted
        run) and restores the visualizer's state before anything is logged.
        """
        if self._has_loaded:
            return None
        path = self._resume_path()
        if path is None:
            return None
        checkpoint = _load_checkpoint(path, map_location="cpu")
        seed = checkpoint.get("meta", {}).get("seed")
        if seed is not None and seed != self._seed:
            self.set_randomness(**{**self._randomness_cfg, "seed": seed})
        if "visualizer" in checkpoint:
            self.visualizer.load_state_dict(checkpoint["visualizer"])
        return path, checkpoint

    def _resume_from(
        self: Runner,
        path: str,
        checkpoint: dict,
        resume_optimizer: bool = True,
        resume_param_scheduler: bool = True,
    ) -> None:
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        try:
            optim_wrapper = self.optim_wrapper if resume_optimizer else None
            if not self._load_shards(path, checkpoint, optim_wrapper):
                _load_checkpoint_to_model(self.model, checkpoint, logger=self.logger)
        except RuntimeError as err:
            raise type(err)(f"checkpoint {path!r}: {err}") from None
        restore_training_state(self, checkpoint, resume_optimizer, resume_param_scheduler)
        self._has_loaded = True
        self.logger.info(f"resumed from {path} at epoch {self.epoch}, iter {self.iter}")

    def _load_shards(self: Runner, path: str, checkpoint: Any, optim_wrapper: Any = None) -> bool:
        """Loads the FSDP shards a checkpoint file names (False for an ordinary checkpoint)."""
        meta = checkpoint.get("meta", {}) if isinstance(checkpoint, dict) else {}
        shards = meta.get("sharded_checkpoint")
        if shards is None:
            return False
        if not callable(getattr(self.model, "load_sharded_checkpoint", None)):
            raise CheckpointError(
                f"its weights are sharded in {shards!r}: load it with model_wrapper_cfg="
                "dict(type='MMFullyShardedDataParallel', ...) or convert it with "
                "torchrig.model.wrappers.fully_sharded_distributed.sharded_to_full_checkpoint"
            )
        self.model.load_sharded_checkpoint(osp.join(osp.dirname(path), shards), optim_wrapper)
        return True

    def _load_weights_if_asked(self: Runner) -> None:
        if self._has_loaded:
            return
        path = self._load_from if not self._resume else self._resume_path()
        if path is not None:
            self.load_checkpoint(path)
            self._has_loaded = True

    def resume(
        self: Runner,
        filename: str,
        resume_optimizer: bool = True,
        resume_param_scheduler: bool = True,
        map_location: str | Any = "default",
    ) -> None:
        """Resumes training state from a checkpoint: weights, optimizer, schedulers, message
        hub, random states, loop position, sampler, hook states and visualizer state.

        Args:
            filename: The checkpoint.
            resume_optimizer: Restore the optim wrapper.
            resume_param_scheduler: Restore the schedulers.
            map_location: Where tensors are loaded; ``'default'`` is the CPU.
        """
        if self._train_loop is None and resume_optimizer and resume_param_scheduler:
            # Called before train(): resume exactly as resume=True would, inside train(),
            # once the optimizer and schedulers exist and before the weights are initialised.
            _load_checkpoint(filename, map_location="cpu")  # a bad file fails here, now
            self._load_from, self._resume, self._has_loaded = filename, True, False
            return
        location = "cpu" if map_location == "default" else map_location
        checkpoint = _load_checkpoint(filename, map_location=location)
        if "visualizer" in checkpoint:
            self.visualizer.load_state_dict(checkpoint["visualizer"])
        self._resume_from(filename, checkpoint, resume_optimizer, resume_param_scheduler)

    def load_checkpoint(
        self: Runner,
        filename: str,
        map_location: str | Any = "cpu",
        strict: bool = False,
        revise_keys: Sequence[tuple[str, str]] = ((r"^module.", ""),),
    ) -> dict:
        """Loads a checkpoint's weights into the model.

        Args:
            filename: The checkpoint (path or URL).
            map_location: Where tensors are loaded.
            strict: Raise when keys or shapes do not fit (the error names them).
            revise_keys: Key rewrites applied before loading.

        Returns:
            The loaded checkpoint.
        """
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        try:
            if not self._load_shards(filename, checkpoint):
                _load_checkpoint_to_model(self.model, checkpoint, strict, self.logger, revise_keys)
        except RuntimeError as err:
            raise type(err)(f"checkpoint {filename!r}: {err}") from None
        meta = checkpoint.get("meta", {}) if isinstance(checkpoint, dict) else {}
        self._fallback_position = (int(meta.get("epoch", 0)), int(meta.get("iter", 0)))
        self.logger.info(f"Load checkpoint from {filename}")
        return checkpoint

    def save_checkpoint(
        self: Runner,
        out_dir: str,
        filename: str,
        file_client_args: dict | None = None,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: dict | None = None,
        by_epoch: bool = True,
        backend_args: dict | None = None,
    ) -> None:
        """Saves everything a resume needs, atomically, after flushing the trackers (rank 0).

        Args:
            out_dir: The directory.
            filename: The file name.
            file_client_args: Unsupported (local files only).
            save_optimizer: Include the optimizer state.
            save_param_scheduler: Include the scheduler states.
            meta: Extra meta values.
            by_epoch: Called at the end of an epoch (rather than after an iteration).
            backend_args: Unsupported (local files only).
        """
        from torchrig.dist import is_main_process

        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
        # A sharded model's state is gathered by a collective: every rank builds the checkpoint.
        if not is_main_process() and not getattr(self.model, "shards_parameters", False):
            return
        # Everything logged before a checkpoint is durable once the checkpoint exists.
        self.visualizer.flush()
        sharded = getattr(self.model, "state_dict_type", "full") == "sharded"
        if sharded:  # FSDP: every rank writes its shards beside the file, which names them
            optim_wrapper = self._optim_wrapper if save_optimizer else None
            self.model.save_sharded_checkpoint(
                osp.join(out_dir, filename + ".shards"), optim_wrapper
            )
            meta = {**(meta or {}), "sharded_checkpoint": filename + ".shards"}
        checkpoint = build_checkpoint(
            self, meta, save_optimizer and not sharded, save_param_scheduler, by_epoch, not sharded
        )
        if not is_main_process():
            return
        self.call_hook("before_save_checkpoint", checkpoint=checkpoint)
        save_checkpoint(checkpoint, osp.join(out_dir, filename), file_client_args, backend_args)
