"""CheckpointHook: saves checkpoints periodically, the last one, and the best ones."""

from __future__ import annotations

import hashlib
import io
import math
import os
import os.path as osp
import shutil
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks._rules import DEFAULT_GREATER_KEYS, DEFAULT_LESS_KEYS, RULE_MAP, infer_rule
from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["CheckpointHook"]


def _is_main_process() -> bool:
    from torchrig.dist import is_main_process

    return is_main_process()


def _as_str_list(
    value: str | Sequence[str] | None, what: str, unique: bool = True
) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        if unique and len(set(value)) != len(value):
            raise ValueError(f"CheckpointHook: {what} has duplicates: {list(value)}")
        return list(value)
    raise TypeError(f"CheckpointHook: {what} must be a str or a list of str, got {value!r}")


def ema_sidecar_path(checkpoint_path: str) -> str:
    """Where ``EMAHook(save_ema_weights=True)`` writes the EMA weights of a checkpoint:
    ``epoch_3.pth`` -> ``epoch_3_ema.pth``."""
    root, ext = osp.splitext(checkpoint_path)
    return f"{root}_ema{ext or '.pth'}"


def _resume_fingerprint(runner: Runner) -> str:
    """A summary of the small state a resume restores besides weights: every hook's
    ``state_dict()`` and every parameter scheduler's."""
    states: list[Any] = []
    for hook in getattr(runner, "hooks", None) or []:
        state_dict = getattr(hook, "state_dict", None)
        if callable(state_dict):
            states.append(state_dict())
    schedulers = getattr(runner, "param_schedulers", None) or []
    groups = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
    for group in groups:
        for scheduler in group:
            state_dict = getattr(scheduler, "state_dict", None)
            if callable(state_dict):
                states.append(state_dict())
    return repr(states)


def _atomic_write(data: bytes, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Saves checkpoints through ``runner.save_checkpoint``.

    Regular checkpoints ``epoch_{n}.pth``/``iter_{n}.pth`` are written every ``interval``
    epochs/iterations (from ``save_begin``) and at the end of training (``save_last``); the
    newest path is written to ``<work_dir>/last_checkpoint`` for ``resume=True``. With
    ``save_best``, the checkpoints with the best validation values are kept as
    ``best_{metric}_{epoch|iter}_{n}.pth`` (the ``keep_best`` best per metric; a checkpoint
    pushed out is deleted).

    State (``state_dict``/``load_state_dict``, also mirrored into the message hub's runtime
    info under MMEngine's keys ``best_score``, ``best_ckpt``, ``keep_ckpt_ids``, ``last_ckpt``)
    survives a resume.

    Args:
        interval: Save every this many epochs (``by_epoch``) or iterations; -1: never
            periodically.
        by_epoch: Count ``interval`` in epochs, else in iterations.
        save_optimizer: Store the optimizer state in regular checkpoints.
        save_param_scheduler: Store the schedulers' state in regular checkpoints.
        out_dir: Directory for the checkpoints; ``work_dir`` if None, else
            ``out_dir/<basename of work_dir>``.
        max_keep_ckpts: Keep only this many of the newest regular checkpoints; -1 keeps all.
        save_last: Save at the last epoch/iteration whatever the interval.
        save_best: Metric name(s) whose best value(s) to keep, or ``'auto'`` (the first metric
            of the first evaluation).
        rule: ``'greater'`` or ``'less'`` (one, or one per ``save_best`` entry); None infers it
            from the metric's name (``greater_keys``/``less_keys``).
        greater_keys: Name parts meaning higher is better (default: acc, top, AR@, auc,
            precision, mAP, mDice, mIoU, mAcc, aAcc).
        less_keys: Name parts meaning lower is better (default: loss).
        file_client_args: Deprecated; passed on to ``runner.save_checkpoint``.
        filename_tmpl: Template of regular checkpoint names; ``'epoch_{}.pth'`` or
            ``'iter_{}.pth'`` by default.
        backend_args: Passed on to ``runner.save_checkpoint``.
        published_keys: After training, write ``<ckpt>-<sha256[:8]>.pth`` holding only these
            keys of the last (else best) checkpoint; loadable with ``weights_only=True``.
        save_begin: First epoch/iteration from which ``interval`` counts.
        keep_best: How many best checkpoints to keep per ``save_best`` metric.
        **kwargs: Passed on to ``runner.save_checkpoint``.
    """

    priority = "VERY_LOW"

    rule_map = RULE_MAP
    init_value_map = {"greater": -math.inf, "less": math.inf}
    _default_greater_keys = DEFAULT_GREATER_KEYS
    _default_less_keys = DEFAULT_LESS_KEYS

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        out_dir: str | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | list[str] | None = None,
        rule: str | list[str] | None = None,
        greater_keys: str | Sequence[str] | None = None,
        less_keys: str | Sequence[str] | None = None,
        file_client_args: dict | None = None,
        filename_tmpl: str | None = None,
        backend_args: dict | None = None,
        published_keys: str | list[str] | None = None,
        save_begin: int = 0,
        keep_best: int = 1,
        **kwargs: Any,
    ) -> None:
        if file_client_args is not None and backend_args is not None:
            raise ValueError("CheckpointHook: give backend_args or file_client_args, not both")
        if save_begin < 0:
            raise ValueError(f"CheckpointHook: save_begin must be >= 0, got {save_begin}")
        if not isinstance(keep_best, int) or keep_best < 1:
            raise ValueError(f"CheckpointHook: keep_best must be an int >= 1, got {keep_best!r}")
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self._out_dir_arg = out_dir
        self.out_dir: str = out_dir or ""
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.file_client_args = file_client_args
        self.backend_args = backend_args
        self.save_begin = save_begin
        self.keep_best = keep_best
        self.args = kwargs
        if filename_tmpl is None:
            filename_tmpl = "epoch_{}.pth" if by_epoch else "iter_{}.pth"
        self.filename_tmpl = filename_tmpl

        self.save_best = _as_str_list(save_best, "save_best")
        if self.save_best and "auto" in self.save_best and len(self.save_best) > 1:
            raise ValueError("CheckpointHook: 'auto' must be the only entry of save_best")
        rules = _as_str_list(rule, "rule", unique=False) if isinstance(rule, list) else [rule]
        if self.save_best is not None and len(rules) not in (1, len(self.save_best)):
            raise ValueError(
                f"CheckpointHook: give one rule or one per save_best entry "
                f"({len(self.save_best)}), got {len(rules)}"
            )
        self.greater_keys = _as_str_list(greater_keys, "greater_keys") or list(
            self._default_greater_keys
        )
        self.less_keys = _as_str_list(less_keys, "less_keys") or list(self._default_less_keys)
        self.published_keys = _as_str_list(published_keys, "published_keys")

        self.is_better_than: dict[str, Callable[[float, float], bool]] = {}
        self.key_indicators: list[str] = []
        self.rules: list[str | None] = []
        # Per metric, the kept best checkpoints as [score, path], best first.
        self._best: dict[str, list[list[Any]]] = {}
        if self.save_best is not None:
            self._init_rule(rules, self.save_best)
        self.keep_ckpt_ids: deque[int] = deque()
        self.last_ckpt: str | None = None
        self.saving_path: str | None = None
        self._state_loaded = False
        self._in_train = False
        self._fingerprint = ""

    # Rules -------------------------------------------------------------------------------
    def _infer_rule(self, key: str) -> str:
        return infer_rule(key, self.greater_keys, self.less_keys, "CheckpointHook")

    def _init_rule(self, rules: list[str | None], key_indicators: list[str]) -> None:
        if len(rules) == 1:
            rules = rules * len(key_indicators)
        self.rules = []
        for rule, key in zip(rules, key_indicators):
            if rule is not None and rule not in self.rule_map:
                raise KeyError(
                    f"CheckpointHook: rule must be 'greater', 'less' or None, got {rule!r}"
                )
            if rule is None and key != "auto":
                rule = self._infer_rule(key)
            if rule is not None:
                self.is_better_than[key] = self.rule_map[rule]
            self.rules.append(rule)
        self.key_indicators = list(key_indicators)

    # MMEngine-compatible views of the best checkpoints.
    @property
    def best_ckpt_path(self) -> str | None:
        """Path of the best checkpoint (of the first ``save_best`` metric)."""
        if not self.key_indicators:
            return None
        kept = self._best.get(self.key_indicators[0])
        return kept[0][1] if kept else None

    @property
    def best_ckpt_path_dict(self) -> dict[str, str | None]:
        """Path of the best checkpoint of each ``save_best`` metric."""
        return {k: (v[0][1] if v else None) for k, v in self._best.items()}

    # State ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Kept regular checkpoints, the last one and the best ones (plain values only)."""
        return {
            "last_ckpt": self.last_ckpt,
            "keep_ckpt_ids": list(self.keep_ckpt_ids),
            "key_indicators": list(self.key_indicators),
            "best": {k: [[float(s), str(p)] for s, p in v] for k, v in self._best.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.last_ckpt = state.get("last_ckpt")
        self.keep_ckpt_ids = deque(int(i) for i in state.get("keep_ckpt_ids", []))
        keys = list(state.get("key_indicators", []))
        if self.save_best == ["auto"] and keys and keys != ["auto"]:
            self._init_rule(self.rules, keys)
        self._best = {k: [list(entry) for entry in v] for k, v in state.get("best", {}).items()}
        self._state_loaded = True

    def _restore_from_message_hub(self, runner: Runner) -> None:
        """Restore from MMEngine's runtime-info keys (a checkpoint without hook states)."""
        info = runner.message_hub.runtime_info
        single = len(self.key_indicators) == 1
        for key in self.key_indicators:
            suffix = "" if single else f"_{key}"
            if f"best_ckpt{suffix}" in info and f"best_score{suffix}" in info:
                score = float(info[f"best_score{suffix}"])
                self._best[key] = [[score, info[f"best_ckpt{suffix}"]]]
        if "keep_ckpt_ids" in info:
            self.keep_ckpt_ids = deque(info["keep_ckpt_ids"])
        if "last_ckpt" in info:
            self.last_ckpt = info["last_ckpt"]

    # Stages --------------------------------------------------------------------------------
    def before_train(self, runner: Runner) -> None:
        work_dir = str(runner.work_dir)
        if self._out_dir_arg is None or self._out_dir_arg == work_dir:
            self.out_dir = work_dir
        else:
            self.out_dir = osp.join(self._out_dir_arg, osp.basename(work_dir.rstrip(osp.sep)))
        runner.logger.info(f"Checkpoints will be saved to {self.out_dir}.")
        self._in_train = True
        if not self._state_loaded:
            self._restore_from_message_hub(runner)
        # The limits may be lower than in the run being resumed.
        if self.max_keep_ckpts > 0:
            while len(self.keep_ckpt_ids) > self.max_keep_ckpts:
                self._remove(self._regular_path(self.keep_ckpt_ids.popleft()))
        for kept in self._best.values():
            while len(kept) > self.keep_best:
                self._remove(kept.pop()[1])

    def after_train_epoch(self, runner: Runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval, self.save_begin) or (
            self.save_last and self.is_last_train_epoch(runner)
        ):
            runner.logger.info(f"Saving checkpoint at {runner.epoch + 1} epochs")
            step = runner.epoch + 1
            self._save_regular(runner, step, dict(epoch=step, iter=runner.iter))

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval, self.save_begin) or (
            self.save_last and self.is_last_train_iter(runner)
        ):
            runner.logger.info(f"Saving checkpoint at {runner.iter + 1} iterations")
            step = runner.iter + 1
            self._save_regular(runner, step, dict(epoch=runner.epoch, iter=step))

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        if not self.save_best:
            return
        if not metrics:
            runner.logger.warning(
                "CheckpointHook: the evaluation returned no metrics; best checkpoints are not "
                "updated this time."
            )
            return
        self._save_best(runner, metrics)

    def after_val(self, runner: Runner) -> None:
        # The regular checkpoint of this step was written before validation. When validation
        # changed what a resume restores (best checkpoints, early stopping, plateau
        # schedulers), write it again so that resuming from it continues this run exactly.
        if not self._in_train or self.last_ckpt is None:
            return
        step = runner.epoch if self.by_epoch else runner.iter
        if self.last_ckpt != self._regular_path(step):
            return
        if _resume_fingerprint(runner) != self._fingerprint:
            self._save_regular(runner, step, dict(epoch=runner.epoch, iter=runner.iter))

    def after_train(self, runner: Runner) -> None:
        self._in_train = False
        if self.published_keys is None or not _is_main_process():
            return
        path = self.last_ckpt if self.save_last else None
        path = path or self.best_ckpt_path or self.last_ckpt
        if path is None:
            runner.logger.warning("CheckpointHook: no checkpoint was saved, none is published.")
            return
        self._publish(runner, path)

    # Saving --------------------------------------------------------------------------------
    def _regular_path(self, step: int) -> str:
        return osp.join(self.out_dir, self.filename_tmpl.format(step))

    def _call_save(self, runner: Runner, filename: str, regular: bool, meta: dict) -> None:
        self.saving_path = osp.join(self.out_dir, filename)
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer if regular else False,
                save_param_scheduler=self.save_param_scheduler if regular else False,
                meta=meta,
                by_epoch=self.by_epoch if regular else False,
                backend_args=self.backend_args,
                **self.args,
            )
        finally:
            self.saving_path = None

    def _save_regular(self, runner: Runner, step: int, meta: dict) -> None:
        hub = runner.message_hub
        resave = self.last_ckpt == self._regular_path(step)
        expired: list[int] = []
        # A second save at the same step (after validation) is not a new checkpoint to count.
        if self.max_keep_ckpts > 0 and not resave:
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                expired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        hub.update_info("last_ckpt", self.last_ckpt)
        self._call_save(runner, filename, regular=True, meta=meta)
        self._fingerprint = _resume_fingerprint(runner)
        if not _is_main_process():
            return
        self._write_last_checkpoint(runner)
        # Old checkpoints go only once the new one is safely written.
        for old_step in expired:
            self._remove(self._regular_path(old_step))
        if not resave:
            unit = "epoch" if self.by_epoch else "iter"
            self._log_to_trackers(runner, self.last_ckpt, ("latest", f"{unit}_{step}"), meta)

    def _write_last_checkpoint(self, runner: Runner) -> None:
        """Names ``last_ckpt`` in ``<work_dir>/last_checkpoint`` (what ``resume=True`` reads)."""
        os.makedirs(str(runner.work_dir), exist_ok=True)
        _atomic_write(
            str(self.last_ckpt).encode(), osp.join(str(runner.work_dir), "last_checkpoint")
        )

    def save_at_stop(self, runner: Runner) -> str | None:
        """Saves a checkpoint between two iterations, for a graceful stop (SIGTERM, ...).

        It is ``iter_<n>.pth`` (n: completed iterations): a regular checkpoint when
        iterations are counted, else one beside the epoch checkpoints that
        ``max_keep_ckpts`` leaves alone. It becomes ``last_checkpoint``.

        Returns:
            Its path (None on ranks other than 0).
        """
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if not self.by_epoch:
            self._save_regular(runner, runner.iter, meta)
        else:
            filename = f"iter_{runner.iter}.pth"
            self.last_ckpt = osp.join(self.out_dir, filename)
            runner.message_hub.update_info("last_ckpt", self.last_ckpt)
            self._call_save(runner, filename, regular=True, meta=meta)
            if _is_main_process():
                self._write_last_checkpoint(runner)
        return self.last_ckpt if _is_main_process() else None

    @staticmethod
    def _log_to_trackers(runner: Runner, path: str, aliases: tuple, metadata: dict) -> None:
        """Offer the checkpoint to trackers that keep checkpoints (W&B artifacts, opt-in),
        with its step, epoch, latest metrics and config hash."""
        log_checkpoint = getattr(runner.visualizer, "log_checkpoint", None)
        if callable(log_checkpoint):
            from torchrig.visualization._wandb_artifacts import checkpoint_metadata

            log_checkpoint(path, aliases=aliases, metadata=checkpoint_metadata(runner, metadata))

    def _save_best(self, runner: Runner, metrics: dict[str, Any]) -> None:
        if self.by_epoch:
            cur_type, cur_time = "epoch", runner.epoch
        else:
            cur_type, cur_time = "iter", runner.iter
        ckpt_filename = self.filename_tmpl.format(cur_time)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if self.key_indicators == ["auto"]:
            self._init_rule(self.rules, [next(iter(metrics))])

        single = len(self.key_indicators) == 1
        for key in self.key_indicators:
            if key not in metrics:
                raise KeyError(
                    f"CheckpointHook: save_best metric {key!r} is not among the evaluation's "
                    f"metrics {sorted(metrics)}; fix save_best (e.g. 'prefix/name')."
                )
            value = metrics[key]
            if value is None:
                continue
            score = float(value)
            if math.isnan(score):
                continue
            name = f"best_{key}_{ckpt_filename}".replace("/", "_")
            if not self._admit_best(key, score, osp.join(self.out_dir, name)):
                continue
            kept = self._best[key]
            suffix = "" if single else f"_{key}"
            runner.message_hub.update_info(f"best_score{suffix}", kept[0][0])
            runner.message_hub.update_info(f"best_ckpt{suffix}", kept[0][1])
            self._call_save(runner, name, regular=False, meta=meta)
            if _is_main_process():
                alias = "best" if single else f"best_{key}".replace("/", "_")
                path = osp.join(self.out_dir, name)
                self._log_to_trackers(runner, path, (alias,), {**meta, key: score})
            runner.logger.info(
                f"The best checkpoint with {score:0.4f} {key} at {cur_time} {cur_type} is saved "
                f"to {name}."
            )
            while len(kept) > self.keep_best:
                _, removed = kept.pop()
                self._remove(removed)
                runner.logger.info(f"The previous best checkpoint {removed} is removed")

    def _admit_best(self, key: str, score: float, path: str) -> bool:
        """Insert ``[score, path]`` among the kept best of ``key`` if it belongs there."""
        better = self.is_better_than[key]
        kept = [entry for entry in self._best.get(key, []) if entry[1] != path]
        if len(kept) >= self.keep_best and not better(score, kept[self.keep_best - 1][0]):
            return False
        position = 0
        while position < len(kept) and not better(score, kept[position][0]):
            position += 1
        kept.insert(position, [score, path])
        self._best[key] = kept
        return True

    def _remove(self, path: str) -> None:
        if not _is_main_process():
            return
        # path + ".shards": the directory of an FSDP checkpoint with state_dict_type='sharded'.
        for target in (path, ema_sidecar_path(path), path + ".shards"):
            if osp.isfile(target):
                os.remove(target)
            elif osp.isdir(target):
                shutil.rmtree(target)

    def _publish(self, runner: Runner, path: str) -> None:
        import torch

        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        removed = [key for key in checkpoint if key not in self.published_keys]
        for key in removed:
            checkpoint.pop(key)
        if removed:
            runner.logger.info(
                f"Keys {removed} are not in published_keys and are left out of the published "
                "checkpoint."
            )
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        final_path = f"{osp.splitext(path)[0]}-{sha[:8]}.pth"
        _atomic_write(data, final_path)
        runner.logger.info(f"The checkpoint ({path}) is published to {final_path}.")
