from __future__ import annotations

from torchrig.hooks import IterTimerHook


def test_times_and_eta_are_recorded_per_mode(make_runner, loops):
    hook = IterTimerHook()
    runner = make_runner(max_epochs=1, epoch_len=3, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 1.0}])
    hub = runner.message_hub
    for key in ("train/time", "train/data_time", "val/time", "val/data_time"):
        times = hub.get_scalar(key).data[0]
        assert all(t >= 0 for t in times), key
    assert len(hub.get_scalar("train/time").data[0]) == 3
    assert len(hub.get_scalar("val/time").data[0]) == 2
    assert hub.get_info("eta") == 0  # the val pass is over
    assert hook.time_sec_test_val == 0  # reset after the val epoch


def test_train_eta_uses_the_iterations_left(make_runner):
    hook = IterTimerHook()
    runner = make_runner(max_epochs=1, epoch_len=10)
    runner.iter = 5
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner, 0)
    hook.time_sec_tot = 0.0
    hook.after_train_iter(runner, 0)
    eta = runner.message_hub.get_info("eta")
    per_iter = runner.message_hub.get_scalar("train/time").current()
    assert eta == per_iter * 4  # 10 - 5 - 1 iterations left at the measured pace
