"""``LogProcessor``: turns the message hub's scalars into log lines and tracker dicts
(``mmengine.runner.log_processor``)."""

from __future__ import annotations

import copy
import datetime
import re
from collections import OrderedDict
from itertools import chain
from typing import Any

from torchrig.registry import LOG_PROCESSORS

__all__ = ["LogProcessor"]

_MODES = ("train", "val", "test")
_FLOATS = frozenset((float,))


@LOG_PROCESSORS.register_module()
class LogProcessor:
    """Formats the scalars of the message hub for the console/file log and the visualizer.

    Scalars matching ``mean_pattern`` are averaged over the last ``window_size`` updates; the
    others show their latest value. ``custom_cfg`` overrides that per scalar, e.g.
    ``[dict(data_src='loss', method_name='mean', window_size='global', log_name='loss_avg')]``
    (``window_size``: an int, ``'epoch'`` or ``'global'``; ``method_name`` (or ``method``):
    ``mean``, ``max``, ``min``, ``current`` or a statistic registered on HistoryBuffer).

    Every returned tag dict also carries ``epoch`` and ``iter``: the iteration is the training
    iteration the scalars belong to (``runner.iter + 1`` after a training iteration,
    ``runner.iter`` for validation and test), 0 when the runner has no training loop.

    Args:
        window_size: Default smoothing window, in updates.
        by_epoch: Headers as ``Epoch(train) [e][i/n]`` (True) or ``Iter(train) [i/N]`` (False).
        custom_cfg: Per-scalar statistics, see above.
        num_digits: Digits after the decimal point.
        log_with_hierarchy: Keep the ``train/``, ``val/``, ``test/`` prefix in the tag dict.
        mean_pattern: Regular expression of the scalars averaged by default.
    """

    def __init__(
        self,
        window_size: int = 10,
        by_epoch: bool = True,
        custom_cfg: list[dict[str, Any]] | None = None,
        num_digits: int = 4,
        log_with_hierarchy: bool = False,
        mean_pattern: str = r".*(loss|time|data_time|grad_norm).*",
    ) -> None:
        self.window_size = window_size
        self.by_epoch = by_epoch
        self.custom_cfg = [_normalise_cfg(cfg) for cfg in (custom_cfg or [])]
        self.num_digits = num_digits
        self.log_with_hierarchy = log_with_hierarchy
        self.mean_pattern = mean_pattern
        self._mean_regex = re.compile(mean_pattern)
        # (mode, with prefix) -> (the hub's keys, the scalars of mode: see _scalar_plan)
        self._plans: dict[tuple[str, bool], tuple[tuple[str, ...], tuple]] = {}
        self._cuda: bool | None = None  # torch.cuda.is_available(), asked once
        self._headers: dict[str, tuple] = {}  # mode -> (key, *_header_parts): see _iter_header
        self._line_plans: dict[tuple, tuple] = {}  # see _line_plan
        self._check_custom_cfg()

    def get_log_after_iter(self, runner: Any, batch_idx: int, mode: str) -> tuple[dict, str]:
        """The tag dict and log line after one iteration of ``mode``.

        Args:
            runner: The runner.
            batch_idx: Index of the batch in the current epoch's loop.
            mode: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            ``(tag, log_str)``: scalars (with ``epoch`` and ``iter``) for the visualizer, and
            e.g. ``'Epoch(train)  [1][ 50/100]  lr: 1.0000e-02  eta: 0:00:10  time: ...'``.
        """
        if mode not in _MODES:
            _check_mode(mode, _MODES)
        custom_cfg = self.custom_cfg
        parsed_cfg = self._parse_windows_size(runner, batch_idx, custom_cfg) if custom_cfg else []
        log_tag = self._collect_scalars(parsed_cfg, runner, mode)
        if self.log_with_hierarchy:
            tag: dict[str, Any] = self._collect_scalars(parsed_cfg, runner, mode, True)
        else:
            tag = dict(log_tag)
        plan = self._line_plan(mode, tag, log_tag)
        log_str = self._iter_header(runner, batch_idx, mode)
        eta = self._eta(runner, batch_idx, mode) if plan[1] else None
        log_str += self._line_text(plan, tag, log_tag, eta, self._get_max_memory(runner))
        return self._finish_tag(runner, mode, tag), log_str

    def _line_text(
        self,
        plan: tuple,
        tag: dict[str, Any],
        log_tag: dict[str, Any],
        eta: float | None,
        max_memory: int | None,
    ) -> str:
        """An iteration's line after its header (adds ``memory`` to ``tag`` when given)."""
        lr_keys, timed, rest, templates = plan
        if not timed:
            eta = None
        digits = self.num_digits
        fixed = f".{digits}f"
        values = [tag[key] for key, _ in lr_keys]
        if timed:
            values += (log_tag["time"], log_tag["data_time"])
        values += [log_tag[name] for name in rest]
        if max_memory is None and _FLOATS.issuperset(map(type, values)):
            # The usual line: its template, filled in one step.
            if eta is None:
                return templates[0] % tuple(values)
            values.insert(len(lr_keys), _clock(int(eta)))
            return templates[1] % tuple(values)
        log_str = " ".join([f"{short}: {tag[key]:.{digits}e}" for key, short in lr_keys]) + "  "
        if timed:
            if eta is not None:
                log_str += f"eta: {_clock(int(eta))}  "
            log_str += (
                f"time: {format(log_tag['time'], fixed)}  "
                f"data_time: {format(log_tag['data_time'], fixed)}  "
            )
        if max_memory is not None:
            log_str += f"memory: {max_memory}  "
            tag["memory"] = max_memory
        items = []
        for name in rest:
            value = log_tag[name]
            text = format(value, fixed) if type(value) is float else self._format(value)
            items.append(f"{name}: {text}")
        return log_str + "  ".join(items)

    def _finish_tag(self, runner: Any, mode: str, tag: dict[str, Any]) -> dict[str, Any]:
        """``tag`` with the ``epoch`` and ``iter`` its values belong to."""
        if not _has_train_loop(runner):
            tag["epoch"] = tag["iter"] = 0
        else:
            tag["epoch"] = runner.epoch + 1 if mode == "train" else runner.epoch
            tag["iter"] = runner.iter + 1 if mode == "train" else runner.iter
        return tag

    def _line_plan(
        self, mode: str, tag: dict[str, Any], log_tag: dict[str, Any]
    ) -> tuple[list[tuple[str, str]], bool, list[str], tuple[str, str]]:
        """Which values of an iteration's line go where, worked out once per set of keys:
        ``(tag key, name)`` of each learning rate, whether ``time`` and ``data_time`` are
        there (then the ETA and both times follow), and the other names, in order (for val,
        only the losses: its metrics are logged once, after the epoch; none for test); and
        the ``%`` templates of the line's values without and with the ETA."""
        key = (mode, tuple(tag), tuple(log_tag))
        cached = self._line_plans.get(key)
        if cached is not None:
            return cached
        lr_keys = [(name, _remove_prefix(name, f"{mode}/")) for name in tag if name.endswith("lr")]
        shown = set(log_tag).difference(short for _, short in lr_keys)
        timed = "time" in shown and "data_time" in shown
        if timed:
            shown.difference_update(("time", "data_time"))
        rest = [
            name
            for name in log_tag
            if name in shown and mode != "test" and (mode != "val" or name.startswith("loss"))
        ]
        # The line after the header, for float values and no memory figure: without the ETA,
        # and with it (after the learning rates).
        digits = self.num_digits
        lr_text = " ".join(f"{short.replace('%', '%%')}: %.{digits}e" for _, short in lr_keys)
        times = f"time: %.{digits}f  data_time: %.{digits}f  " if timed else ""
        rest_text = "  ".join(f"{name.replace('%', '%%')}: %.{digits}f" for name in rest)
        templates = (f"{lr_text}  {times}{rest_text}", f"{lr_text}  eta: %s  {times}{rest_text}")
        if len(self._line_plans) > 64:  # keys that keep changing: keep the cache small
            self._line_plans.clear()
        plan = self._line_plans[key] = (lr_keys, timed, rest, templates)
        return plan

    def get_log_after_epoch(
        self, runner: Any, batch_idx: int, mode: str, with_non_scalar: bool = False
    ) -> tuple[dict, str]:
        """The tag dict and log line after a validation or test epoch.

        Args:
            runner: The runner.
            batch_idx: Index of the last batch (only used for ``'epoch'`` windows' fallback).
            mode: ``'val'`` or ``'test'``.
            with_non_scalar: Also put non-scalar runtime information of ``mode`` in the tag.

        Returns:
            ``(tag, log_str)``, e.g. ``'Epoch(val) [1][10/10]    accuracy/top1: 0.9500 ...'``.
        """
        _check_mode(mode, ("val", "test"))
        dataloader_len = self._get_dataloader_size(runner, mode)
        by_epoch = self._by_epoch(runner)
        if by_epoch and mode == "val":
            epoch = self._get_epoch(runner, mode)
            log_str = f"Epoch({mode}) [{epoch}][{dataloader_len}/{dataloader_len}]  "
        elif by_epoch:
            log_str = f"Epoch({mode}) [{dataloader_len}/{dataloader_len}]  "
        else:
            log_str = f"Iter({mode}) [{dataloader_len}/{dataloader_len}]  "

        custom_cfg = copy.deepcopy(self.custom_cfg)
        custom_keys = {_remove_prefix(cfg["data_src"], f"{mode}/") for cfg in custom_cfg}
        for key in ("time", "data_time"):
            if key not in custom_keys:  # times are averaged over the whole epoch
                custom_cfg.append(dict(data_src=key, window_size="epoch", method_name="mean"))
        # The whole epoch, whatever index the caller passes for its last batch.
        epoch_window = max(dataloader_len, batch_idx, 1)
        parsed_cfg = self._parse_windows_size(runner, epoch_window - 1, custom_cfg)
        scalars = self._collect_scalars(parsed_cfg, runner, mode, self.log_with_hierarchy)
        non_scalars = self._collect_non_scalars(runner, mode)
        time_keys = ("time", "data_time", f"{mode}/time", f"{mode}/data_time")
        tag: OrderedDict[str, Any] = OrderedDict()
        time_tag: OrderedDict[str, Any] = OrderedDict()
        for key, value in scalars.items():
            (time_tag if key in time_keys else tag)[key] = value
        items = []
        for name, value in chain(tag.items(), non_scalars.items(), time_tag.items()):
            items.append(f"{name}: {self._format(value)}")
        log_str += "  " + "  ".join(items)
        if with_non_scalar:
            tag.update(non_scalars)
        tag.update(time_tag)
        tag["epoch"] = self._get_epoch(runner, mode)
        tag["iter"] = runner.iter if _has_train_loop(runner) else 0
        return dict(tag), log_str

    def _format(self, value: Any) -> Any:
        if isinstance(value, float):
            return f"{value:.{self.num_digits}f}"
        if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
            return f"\n{value}\n"  # tensors and arrays on their own lines
        return value

    def _iter_header(self, runner: Any, batch_idx: int, mode: str) -> str:
        """E.g. ``'Epoch(train)  [3][ 50/100]  '``: the parts around the iteration number are
        worked out once per epoch."""
        by_epoch = self._by_epoch(runner)
        key = (mode, by_epoch, runner.epoch if _has_train_loop(runner) else None)
        cached = self._headers.get(mode)
        if cached is None or cached[0] != key:
            cached = self._headers[mode] = (key, *self._header_parts(runner, mode, by_epoch))
        _, head, width, tail = cached
        number = batch_idx + 1 if by_epoch or mode != "train" else runner.iter + 1
        return f"{head}{str(number).rjust(width)}{tail}"

    def _by_epoch(self, runner: Any) -> bool:
        """Epoch headers, unless the training loop counts iterations (an epoch of an
        ``IterBasedTrainLoop`` means nothing: ``Epoch(train) [1][75/45]``)."""
        from torchrig.runner.loops import IterBasedTrainLoop

        return self.by_epoch and not isinstance(_train_loop(runner), IterBasedTrainLoop)

    def _header_parts(self, runner: Any, mode: str, by_epoch: bool) -> tuple[str, int, str]:
        """``(text before the iteration number, its width, text after)``."""
        if by_epoch:
            dataloader_len = self._get_dataloader_size(runner, mode)
            tail = f"/{dataloader_len}]  "
            if mode == "test":
                return f"Epoch({mode}) [", len(str(dataloader_len)), tail
            epoch = f"[{self._get_epoch(runner, mode)}]"
            if _has_train_loop(runner):
                # right-align the epoch: "Epoch(train)   [9][...]" / "Epoch(train) [100][...]"
                epoch = epoch.rjust(len(str(runner.max_epochs)) + 3)
            return f"Epoch({mode}){epoch}[", len(str(dataloader_len)), tail
        if mode == "train":
            return f"Iter({mode}) [", len(str(runner.max_iters)), f"/{runner.max_iters}]  "
        dataloader_len = self._get_dataloader_size(runner, mode)
        return f"Iter({mode}) [", len(str(dataloader_len)), f"/{dataloader_len}]  "

    def _eta(self, runner: Any, batch_idx: int, mode: str) -> float | None:
        """Seconds left: the running mean of the iteration time times the iterations left."""
        buffer = runner.message_hub.log_scalars.get(f"{mode}/time")
        if buffer is None or len(buffer) == 0:
            eta = runner.message_hub.get_info("eta")
            return None if eta is None else float(eta)
        if mode == "train":
            seconds = buffer.mean()  # O(1): a running sum over the whole history
            left = runner.max_iters - runner.iter - 1
        else:
            seconds = buffer.mean(batch_idx + 1)
            left = self._get_dataloader_size(runner, mode) - batch_idx - 1
        if seconds != seconds:  # NaN
            return None
        return max(seconds * left, 0.0)

    def _collect_scalars(
        self,
        custom_cfg: list[dict[str, Any]],
        runner: Any,
        mode: str,
        reserve_prefix: bool = False,
    ) -> dict[str, Any]:
        """Statistics of the scalars of ``mode``, named with or without the ``mode/`` prefix."""
        scalars = runner.message_hub.log_scalars
        plan = self._scalar_plan(scalars, mode, reserve_prefix)
        window_size = self.window_size
        tag: dict[str, Any] = {}
        for key, name, mean in plan:
            buffer = scalars[key]
            tag[name] = buffer.mean(window_size) if mean else buffer.current()
        if custom_cfg:
            prefix = f"{mode}/"
            mode_scalars = {name: scalars[key] for key, name, _ in plan}
            for cfg in copy.deepcopy(custom_cfg):
                data_src = cfg.pop("data_src")
                log_name = cfg.pop("log_name", data_src)
                if reserve_prefix:
                    data_src, log_name = prefix + data_src, prefix + log_name
                if data_src in mode_scalars:
                    tag[log_name] = mode_scalars[data_src].statistics(**cfg)
        return tag

    def _scalar_plan(
        self, scalars: dict[str, Any], mode: str, reserve_prefix: bool
    ) -> tuple[tuple[str, str, bool], ...]:
        """``(hub key, logged name, averaged)`` for each scalar of ``mode``, in the hub's
        order; worked out again only when the hub's keys change (a log line every iteration
        then costs one lookup per scalar)."""
        keys = tuple(scalars)
        cached = self._plans.get((mode, reserve_prefix))
        if cached is not None and cached[0] == keys:
            return cached[1]
        prefix = f"{mode}/"
        cut = 0 if reserve_prefix else len(prefix)
        plan = []
        for key in keys:
            if key.startswith(prefix):
                name = key[cut:]
                plan.append((key, name, self._mean_regex.search(name) is not None))
        self._plans[(mode, reserve_prefix)] = (keys, tuple(plan))
        return tuple(plan)

    def _collect_non_scalars(self, runner: Any, mode: str) -> OrderedDict[str, Any]:
        """Runtime information of ``mode`` (``val/...`` keys), e.g. a confusion matrix."""
        prefix = f"{mode}/"
        infos: OrderedDict[str, Any] = OrderedDict()
        for key, value in runner.message_hub.runtime_info.items():
            if key.startswith(prefix):
                infos[key if self.log_with_hierarchy else key[len(prefix) :]] = value
        return infos

    def _check_custom_cfg(self) -> None:
        seen: set[str] = set()
        for cfg in self.custom_cfg:
            if "data_src" not in cfg:
                raise ValueError(f"LogProcessor: custom_cfg item {cfg} has no 'data_src'")
            log_name = cfg.get("log_name", cfg["data_src"])
            if log_name in seen:
                raise ValueError(
                    f"LogProcessor: custom_cfg logs {log_name!r} twice; give each item of the "
                    "same data_src its own log_name"
                )
            seen.add(log_name)
            window = cfg.get("window_size")
            if window == "epoch" and not self.by_epoch:
                raise ValueError(
                    f"LogProcessor: custom_cfg item for {cfg['data_src']!r} uses "
                    "window_size='epoch' but by_epoch=False; use an int or 'global'"
                )
            if not (window is None or isinstance(window, int) or window in ("epoch", "global")):
                raise ValueError(
                    f"LogProcessor: custom_cfg window_size must be an int, 'epoch' or 'global', "
                    f"got {window!r} for {cfg['data_src']!r}"
                )

    def _parse_windows_size(
        self, runner: Any, batch_idx: int, custom_cfg: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """``custom_cfg`` with ``'epoch'``/``'global'`` windows turned into ints."""
        source = self.custom_cfg if custom_cfg is None else custom_cfg
        if not source:  # the default: nothing to copy
            return []
        parsed = copy.deepcopy(source)
        for cfg in parsed:
            window = cfg.get("window_size")
            if window == "epoch":
                cfg["window_size"] = batch_idx + 1
            elif window == "global":
                cfg["window_size"] = runner.iter + 1
        return parsed

    def _get_max_memory(self, runner: Any) -> int | None:
        """Peak CUDA memory in MB since the last call (None without CUDA)."""
        import torch

        if self._cuda is None:
            self._cuda = torch.cuda.is_available()
        if not self._cuda:
            return None
        device = getattr(runner.model, "output_device", None)
        megabytes = torch.cuda.max_memory_allocated(device=device) // (1024 * 1024)
        torch.cuda.reset_peak_memory_stats(device)
        return int(megabytes)

    def _get_epoch(self, runner: Any, mode: str) -> int:
        """1-based epoch of a train iteration; for val/test, the epochs completed so far."""
        if not _has_train_loop(runner):
            return 0
        return runner.epoch + 1 if mode == "train" else runner.epoch

    def _get_cur_loop(self, runner: Any, mode: str) -> Any:
        return getattr(runner, f"{mode}_loop", None)

    def _get_dataloader_size(self, runner: Any, mode: str) -> int:
        loop = self._get_cur_loop(runner, mode)
        total = getattr(loop, "total_length", None)  # loops over several dataloaders
        if isinstance(total, int):
            return total
        dataloader = getattr(loop, "dataloader", None)
        if dataloader is None:
            dataloader = getattr(runner, f"{mode}_dataloader")
        return len(dataloader)


def _normalise_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(cfg)
    if "method" in cfg and "method_name" not in cfg:
        cfg["method_name"] = cfg.pop("method")
    cfg.setdefault("method_name", "mean")
    return cfg


def _remove_prefix(key: str, prefix: str) -> str:
    return key[len(prefix) :] if key.startswith(prefix) else key


def _clock(seconds: int) -> str:
    """``str(datetime.timedelta(seconds=seconds))``, e.g. ``'1:02:03'``, without the object."""
    if 0 <= seconds < 86400:
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return str(datetime.timedelta(seconds=seconds))


def _check_mode(mode: str, allowed: tuple[str, ...]) -> None:
    if mode not in allowed:
        raise ValueError(f"LogProcessor: mode must be one of {allowed}, got {mode!r}")


def _train_loop(runner: Any) -> Any:
    """The runner's built training loop, or None (test-only runners have none)."""
    loop = getattr(runner, "_train_loop", None)
    if loop is None:
        try:
            loop = getattr(runner, "train_loop", None)
        except (RuntimeError, AttributeError, KeyError):
            return None
    return None if isinstance(loop, dict) else loop


def _has_train_loop(runner: Any) -> bool:
    """Whether the runner has a built training loop (test-only runners have none)."""
    return _train_loop(runner) is not None
