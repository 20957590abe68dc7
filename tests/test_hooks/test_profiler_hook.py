from __future__ import annotations

import json
import os

import pytest
import torch

from torchrig.hooks import ProfilerHook


def _train(runner, hook, iters):
    hook.before_run(runner)
    for idx in range(iters):
        torch.ones(8, 8) @ torch.ones(8, 8)
        hook.after_train_iter(runner, idx)
        runner.iter += 1
    hook.after_train_epoch(runner)
    hook.after_run(runner)


def test_iterations_are_profiled_and_a_chrome_trace_is_written(make_runner, tmp_path):
    trace = str(tmp_path / "trace.json")
    hook = ProfilerHook(
        by_epoch=False,
        profile_times=2,
        on_trace_ready=dict(type="log_trace", sort_by="cpu_time_total", row_limit=5),
        json_trace_path=trace,
    )
    runner = make_runner(max_epochs=1, epoch_len=4)
    _train(runner, hook, 4)
    with open(trace) as f:
        assert "traceEvents" in json.load(f)
    messages = [c.args[0] for c in runner.logger.info.call_args_list]
    assert any("Self CPU" in m for m in messages)  # the log_trace table


def test_tensorboard_trace_goes_under_log_dir(make_runner):
    hook = ProfilerHook(by_epoch=True, on_trace_ready=dict(type="tb_trace", dir_name="tb"))
    runner = make_runner(max_epochs=1, epoch_len=2)
    _train(runner, hook, 2)
    tb_dir = os.path.join(runner.log_dir, "tb")
    assert os.path.isdir(tb_dir) and os.listdir(tb_dir)


def test_argument_errors(make_runner):
    with pytest.raises(ValueError, match="only one"):
        ProfilerHook(by_epoch=True, profile_times=2)
    with pytest.raises(ValueError):
        ProfilerHook(profile_times=0)
    with pytest.raises(TypeError):
        ProfilerHook(on_trace_ready="tb")
    hook = ProfilerHook(by_epoch=False, profile_times=100)
    with pytest.raises(ValueError, match="more than"):
        hook.before_run(make_runner(max_epochs=1, epoch_len=2))
    hook = ProfilerHook(on_trace_ready=dict(type="chrome"))
    with pytest.raises(ValueError, match="log_trace"):
        hook.before_run(make_runner())


def test_npu_profiler_hook_needs_torch_npu_and_kineto_is_reported():
    from torchrig.hooks import NPUProfilerHook
    from torchrig.hooks.profiler_hook import check_kineto

    assert check_kineto() is torch.autograd.kineto_available()
    try:
        import torch_npu  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="torch_npu"):
            NPUProfilerHook(begin=0, end=2)
