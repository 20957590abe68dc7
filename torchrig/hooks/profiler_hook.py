"""ProfilerHook (torch.profiler over the first epochs or iterations) and NPUProfilerHook."""

from __future__ import annotations

import os
import os.path as osp
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["NPUProfilerHook", "ProfilerHook", "check_kineto"]


def check_kineto() -> bool:
    """Whether torch was built with Kineto, the library behind ``torch.profiler``.

    Returns:
        True when ``torch.autograd.kineto_available()`` says so.
    """
    import torch

    return bool(torch.autograd.kineto_available())


@HOOKS.register_module()
class ProfilerHook(Hook):
    """Runs ``torch.profiler.profile`` over the first ``profile_times`` epochs or iterations.

    Args:
        by_epoch: Profile epochs (only one is allowed: profiling slows training), else
            iterations.
        profile_times: How many epochs/iterations to profile.
        activity_with_cpu: Profile CPU activity.
        activity_with_cuda: Profile CUDA activity.
        schedule: Arguments of ``torch.profiler.schedule`` (``wait``, ``warmup``, ``active``,
            ``repeat``, ``skip_first``).
        on_trace_ready: A callable taking the profiler, or ``dict(type='log_trace', **kw)``
            (logs ``key_averages().table(**kw)``, e.g. ``sort_by``, ``row_limit``) or
            ``dict(type='tb_trace', dir_name=..., worker_name=...)`` (TensorBoard traces;
            ``dir_name`` is relative to ``runner.log_dir``, ``tf_tracing_logs`` by default).
        record_shapes: Record operator input shapes.
        profile_memory: Track tensor memory allocation.
        with_stack: Record source locations.
        with_flops: Estimate FLOPs of matrix multiplications and convolutions.
        json_trace_path: Write a Chrome trace there when profiling ends.
    """

    priority = "VERY_LOW"

    def __init__(
        self,
        *,
        by_epoch: bool = True,
        profile_times: int = 1,
        activity_with_cpu: bool = True,
        activity_with_cuda: bool = False,
        schedule: dict | None = None,
        on_trace_ready: Callable | dict | None = None,
        record_shapes: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_flops: bool = False,
        json_trace_path: str | None = None,
    ) -> None:
        from torch import profiler

        if not isinstance(by_epoch, bool):
            raise TypeError(f"ProfilerHook: by_epoch must be a bool, got {by_epoch!r}")
        if profile_times < 1:
            raise ValueError(f"ProfilerHook: profile_times must be >= 1, got {profile_times}")
        if by_epoch and profile_times > 1:
            raise ValueError(
                f"ProfilerHook: by_epoch=True profiles whole epochs and only one is allowed "
                f"(got profile_times={profile_times}); profile one epoch, or set by_epoch=False "
                "to profile iterations."
            )
        if schedule is not None and not isinstance(schedule, dict):
            raise TypeError(f"ProfilerHook: schedule must be a dict, got {type(schedule)}")
        if not (
            on_trace_ready is None or callable(on_trace_ready) or isinstance(on_trace_ready, dict)
        ):
            raise TypeError(
                "ProfilerHook: on_trace_ready must be a callable, a dict or None, got "
                f"{type(on_trace_ready).__name__}"
            )
        self.by_epoch = by_epoch
        self.profile_times = profile_times
        self.activities = []
        if activity_with_cpu:
            self.activities.append(profiler.ProfilerActivity.CPU)
        if activity_with_cuda:
            self.activities.append(profiler.ProfilerActivity.CUDA)
        self.schedule = profiler.schedule(**schedule) if schedule is not None else None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.json_trace_path = json_trace_path
        self.profiler: Any = None
        self._closed = False

    def before_run(self, runner: Runner) -> None:
        import torch

        max_times = runner.max_epochs if self.by_epoch else runner.max_iters
        if max_times < self.profile_times:
            raise ValueError(
                f"ProfilerHook: profile_times ({self.profile_times}) is more than the run's "
                f"{'epochs' if self.by_epoch else 'iterations'} ({max_times})"
            )
        self.profiler = torch.profiler.profile(
            activities=self.activities,
            schedule=self.schedule,
            on_trace_ready=self._parse_trace_config(runner),
            record_shapes=self.record_shapes,
            profile_memory=self.profile_memory,
            with_stack=self.with_stack,
            with_flops=self.with_flops,
        )
        self.profiler.__enter__()
        self._closed = False
        runner.logger.info("profiler is profiling...")

    def _parse_trace_config(self, runner: Runner) -> Callable | None:
        import torch

        if self.on_trace_ready is None or callable(self.on_trace_ready):
            return self.on_trace_ready
        trace_cfg = dict(self.on_trace_ready)
        trace_type = trace_cfg.pop("type", None)
        if trace_type == "log_trace":

            def _log_handler(prof: Any) -> None:
                runner.logger.info(prof.key_averages().table(**trace_cfg))

            return _log_handler
        if trace_type == "tb_trace":
            dir_name = trace_cfg.get("dir_name", "tf_tracing_logs")
            trace_cfg["dir_name"] = osp.join(str(runner.log_dir), dir_name)
            runner.logger.info(f"ProfilerHook traces will be saved to {trace_cfg['dir_name']}.")
            return torch.profiler.tensorboard_trace_handler(**trace_cfg)
        raise ValueError(
            f"ProfilerHook: on_trace_ready type must be 'log_trace' or 'tb_trace', got {trace_type!r}"
        )

    def after_train_epoch(self, runner: Runner) -> None:
        # Also called by iteration-based loops: close only once.
        if not self._closed:
            self._export_chrome_trace(runner)

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if self._closed:
            return
        self.profiler.step()
        if not self.by_epoch and runner.iter + 1 >= self.profile_times:
            self._export_chrome_trace(runner)

    def after_run(self, runner: Runner) -> None:
        if self.profiler is not None and not self._closed:
            self._export_chrome_trace(runner)

    def _export_chrome_trace(self, runner: Runner) -> None:
        self._closed = True
        runner.logger.info("profiler may take a few minutes...")
        self.profiler.__exit__(None, None, None)
        if self.json_trace_path is not None:
            self.profiler.export_chrome_trace(self.json_trace_path)


@HOOKS.register_module()
class NPUProfilerHook(Hook):
    """Profiles iterations ``[begin, end)`` on an Ascend NPU with ``torch_npu.npu.profile``.

    It needs the ``torch_npu`` package and an NPU; without them building it raises an
    ``ImportError`` that says so.

    Args:
        begin: The first profiled iteration.
        end: The iteration profiling stops at (excluded).
        result_path: Where ``torch_npu`` writes its CANN profiling results.
        exit_after_profiling: Stop the process once profiling has ended.
        use_average_time: Profile with ``torch_npu``'s average-time mode.
        ge_profiling_to_std_out: Print the graph-engine profiling to stdout.
    """

    priority = "VERY_LOW"

    def __init__(
        self,
        *,
        begin: int = 0,
        end: int = 1,
        result_path: str = "cann_profiling",
        exit_after_profiling: bool = True,
        use_average_time: bool = False,
        ge_profiling_to_std_out: bool = False,
    ) -> None:
        try:
            import torch_npu
        except ImportError as error:
            raise ImportError(
                "NPUProfilerHook profiles on an Ascend NPU and needs the torch_npu package "
                "(with an NPU and its CANN toolkit); torch_npu is not installed"
            ) from error
        if begin >= end:
            raise ValueError(f"NPUProfilerHook: begin ({begin}) must be smaller than end ({end})")
        self._npu = torch_npu
        self.begin = begin
        self.end = end
        self.result_path = result_path
        self.exit_after_profiling = exit_after_profiling
        self.use_average_time = use_average_time
        self.ge_profiling_to_std_out = ge_profiling_to_std_out
        self.profiler: Any = None

    def before_run(self, runner: Runner) -> None:
        if self.end > runner.max_iters:
            raise ValueError(
                f"NPUProfilerHook: end ({self.end}) is more than the run's iterations "
                f"({runner.max_iters})"
            )
        if self.ge_profiling_to_std_out:
            os.environ["GE_PROFILING_TO_STD_OUT"] = "1"
        self.profiler = self._npu.npu.profile(self.result_path, use_e2e_profiler=False)

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        if runner.iter == self.begin:
            self.profiler.__enter__()
            runner.logger.info("NPUProfiler starts profiling...")

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if runner.iter == self.end - 1:
            runner.logger.info("profiler may take a few minutes to save the profiling result.")
            self.profiler.__exit__(None, None, None)
            if self.exit_after_profiling:
                sys.exit()
