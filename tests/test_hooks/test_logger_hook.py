from __future__ import annotations

import json
import os

import pytest

from torchrig.hooks import LoggerHook


def _calls(mock):
    return [(c.args, c.kwargs) for c in mock.call_args_list]


def test_train_logs_every_interval_with_completed_iterations_as_step(make_runner, loops):
    hook = LoggerHook(interval=2)
    runner = make_runner(max_epochs=2, epoch_len=5, hooks=[hook])
    hook.before_run(runner)
    loops.train_by_epoch(runner)
    # batch_idx 1 and 3 of each epoch; the last (idx 4) is ignored (ignore_last=True)
    steps = [kw["step"] for _, kw in _calls(runner.visualizer.add_scalars)]
    assert steps == [2, 4, 7, 9]
    first_tag = runner.visualizer.add_scalars.call_args_list[0].args[0]
    assert first_tag == {"loss": 0.5, "lr": 0.1, "epoch": 1, "iter": 2}
    third_tag = runner.visualizer.add_scalars.call_args_list[2].args[0]
    assert third_tag["epoch"] == 2 and third_tag["iter"] == 7
    assert all(
        kw["file_path"] == "20260101_000000.json" for _, kw in _calls(runner.visualizer.add_scalars)
    )
    logged = [c.args[0] for c in runner.logger.info.call_args_list]
    assert logged.count("train 1") == 2 and "train 4" not in logged
    assert logged.count("Exp name: exp") == 2  # end of each epoch


def test_last_iteration_logged_when_not_ignored(make_runner, loops):
    hook = LoggerHook(interval=2, ignore_last=False)
    runner = make_runner(max_epochs=1, epoch_len=5, hooks=[hook])
    hook.before_run(runner)
    loops.train_by_epoch(runner)
    assert [kw["step"] for _, kw in _calls(runner.visualizer.add_scalars)] == [2, 4, 5]


def test_short_epoch_is_logged_at_its_end(make_runner, loops):
    hook = LoggerHook(interval=10)
    runner = make_runner(max_epochs=2, epoch_len=3, hooks=[hook])
    hook.before_run(runner)
    loops.train_by_epoch(runner)
    assert [kw["step"] for _, kw in _calls(runner.visualizer.add_scalars)] == [3, 6]


def test_iteration_based_interval_counts_global_iterations(make_runner, loops):
    hook = LoggerHook(interval=4, interval_exp_name=6)
    runner = make_runner(max_epochs=3, epoch_len=100, hooks=[hook])
    runner.max_iters = 10
    hook.before_run(runner)
    loops.train_by_iter(runner)
    assert [kw["step"] for _, kw in _calls(runner.visualizer.add_scalars)] == [4, 8]
    exp_lines = [c for c in runner.logger.info.call_args_list if c.args[0] == "Exp name: exp"]
    assert len(exp_lines) == 1


def test_val_and_test_metrics_use_the_training_iteration_as_step(make_runner, loops):
    hook = LoggerHook(interval=1)
    runner = make_runner(max_epochs=1, epoch_len=3, hooks=[hook])
    hook.before_run(runner)
    loops.train_by_epoch(runner, [{"acc": 0.9}])
    val_call = runner.visualizer.add_scalars.call_args_list[-1]
    assert val_call.kwargs["step"] == 3
    # Non-scalar entries never reach the backends; epoch and iter are fields.
    assert val_call.args[0] == {"acc": 0.9, "epoch": 1, "iter": 3}
    runner.log_processor.get_log_after_epoch.assert_called_with(runner, 2, "val")

    loops.validate(runner, {"acc": 0.9}, mode="test")
    test_call = runner.visualizer.add_scalars.call_args_list[-1]
    assert test_call.kwargs["step"] == 3
    # Test metrics share the step of the last validation, so they carry a `test/` prefix.
    assert test_call.args[0] == {"test/acc": 0.9, "epoch": 1, "iter": 3}
    runner.log_processor.get_log_after_epoch.assert_called_with(
        runner, 3, "test", with_non_scalar=True
    )
    # The full test results, non-scalars included, are dumped as json.
    with open(os.path.join(runner.log_dir, "20260101_000000.json")) as f:
        assert json.load(f) == {"acc": 0.9, "table": [1, 2]}


def test_val_without_training_uses_the_runners_position(make_runner, loops):
    # A val/test-only Runner reports the position of the checkpoint it loaded as runner.iter.
    hook = LoggerHook()
    runner = make_runner()
    runner.iter = 99
    hook.before_run(runner)
    hook.after_val_epoch(runner, {"acc": 1.0})
    assert runner.visualizer.add_scalars.call_args.kwargs["step"] == 99


def test_val_and_test_iterations_are_logged_every_interval(make_runner, loops):
    hook = LoggerHook(interval=2)
    runner = make_runner(hooks=[hook])
    runner.test_dataloader = list(range(5))
    hook.before_run(runner)
    loops.validate(runner, {"acc": 1.0}, mode="test")
    lines = [c.args[0] for c in runner.logger.info.call_args_list]
    assert "test 1" in lines and "test 3" in lines and "test 2" not in lines


def test_after_run_pauses_the_visualizer_and_copies_logs(make_runner, tmp_path):
    hook = LoggerHook(out_dir=str(tmp_path / "remote"), keep_local=False)
    runner = make_runner()
    os.makedirs(os.path.join(runner.log_dir, "vis_data"))
    for name in ("run.log", "vis_data/scalars.json", "ignored.bin"):
        with open(os.path.join(runner.log_dir, name), "w") as f:
            f.write(name)
    hook.before_run(runner)
    hook.after_run(runner)
    runner.visualizer.pause.assert_called_once()  # the runs stay open for a test after it
    runner.visualizer.close.assert_not_called()
    target = tmp_path / "remote" / "work"
    assert (target / "run.log").read_text() == "run.log"
    assert (target / "vis_data" / "scalars.json").exists()
    assert not (target / "ignored.bin").exists()
    assert not os.path.exists(os.path.join(runner.log_dir, "run.log"))


def test_argument_errors():
    with pytest.raises(ValueError):
        LoggerHook(interval=0)
    with pytest.raises(ValueError, match="out_dir"):
        LoggerHook(keep_local=False)
    with pytest.raises(ValueError):
        LoggerHook(file_client_args={}, backend_args={})


def test_dataloader_without_length_logs_by_interval_only(make_runner):
    hook = LoggerHook(interval=2)
    runner = make_runner()

    class NoLen:
        def __len__(self):
            raise TypeError("no length")

    runner.train_dataloader = NoLen()
    hook.before_run(runner)
    for idx in range(4):
        hook.after_train_iter(runner, idx)
        runner.iter += 1
    assert [c.kwargs["step"] for c in runner.visualizer.add_scalars.call_args_list] == [2, 4]
