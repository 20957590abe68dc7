from __future__ import annotations

from types import SimpleNamespace

import pytest

from torchrig.hooks import Hook, check_hook_stages
from torchrig.hooks.hook import _STAGES


def test_every_stage_is_a_callable_no_op():
    hook = Hook()
    runner = SimpleNamespace()
    assert Hook.stages == _STAGES
    assert len(_STAGES) == 22
    for stage in _STAGES:
        assert callable(getattr(hook, stage))
    hook.after_train_iter(runner, 0, None, None)
    hook.after_val_epoch(runner, {"acc": 1.0})
    hook.before_save_checkpoint(runner, {})


def test_shared_helpers_receive_the_mode():
    calls = []

    class Recorder(Hook):
        def _before_epoch(self, runner, mode="train"):
            calls.append(("before_epoch", mode))

        def _after_iter(self, runner, batch_idx, data_batch=None, outputs=None, mode="train"):
            calls.append(("after_iter", mode, batch_idx, outputs))

    hook = Recorder()
    hook.before_val_epoch(None)
    hook.before_test_epoch(None)
    hook.after_train_iter(None, 3, outputs={"loss": 1})
    assert calls == [
        ("before_epoch", "val"),
        ("before_epoch", "test"),
        ("after_iter", "train", 3, {"loss": 1}),
    ]
    assert hook.get_triggered_stages() == [
        "before_train_epoch",
        "after_train_iter",
        "before_val_epoch",
        "after_val_iter",
        "before_test_epoch",
        "after_test_iter",
    ]


def test_triggered_stages_of_base_hook_is_empty():
    assert Hook().get_triggered_stages() == []


def test_predicates():
    hook = Hook()
    runner = SimpleNamespace(epoch=1, iter=9, max_epochs=2, max_iters=10)
    assert hook.every_n_epochs(runner, 2)
    assert not hook.every_n_epochs(runner, 3)
    assert hook.every_n_epochs(runner, 1, start=2)  # epoch 2 ends: counted from 2
    assert not hook.every_n_epochs(runner, 2, start=3)  # before start
    assert not hook.every_n_epochs(runner, 0)
    assert hook.every_n_iters(runner, 5) and hook.every_n_train_iters(runner, 10)
    assert not hook.every_n_iters(runner, 3)
    assert hook.every_n_iters(runner, 4, start=2)
    assert hook.every_n_inner_iters(3, 2) and not hook.every_n_inner_iters(2, 2)
    assert not hook.every_n_inner_iters(3, -1)
    assert hook.end_of_epoch([0, 1, 2], 2) and not hook.end_of_epoch([0, 1, 2], 1)
    assert hook.is_last_train_epoch(runner) and hook.is_last_train_iter(runner)
    runner.iter = 3
    assert not hook.is_last_train_iter(runner)


def test_misspelt_stage_is_rejected_with_the_right_name():
    class Typo(Hook):
        def after_train_iterr(self, runner, batch_idx, data_batch=None, outputs=None):
            pass

    with pytest.raises(TypeError, match=r"'after_train_iterr'.*did you mean 'after_train_iter'"):
        check_hook_stages(Typo())


@pytest.mark.parametrize("name", ["befor_run", "after_val_epochs", "before_train_step"])
def test_other_near_misses_are_rejected(name):
    hook_cls = type("Near", (Hook,), {name: lambda self, runner: None})
    with pytest.raises(TypeError, match=name):
        check_hook_stages(hook_cls())


def test_real_stages_helpers_and_unrelated_methods_pass():
    class Fine(Hook):
        priority = "LOW"

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            pass

        def _after_epoch(self, runner, mode="train"):
            pass

        def momentum_update(self):
            pass

        def state_dict(self):
            return {}

    check_hook_stages(Fine())


def test_builtin_hooks_pass_the_check():
    import torchrig.hooks as hooks

    for name in hooks.__all__:
        obj = getattr(hooks, name)
        if isinstance(obj, type) and issubclass(obj, Hook):
            check_hook_stages(obj.__new__(obj))


def test_builtin_hooks_are_registered_with_their_priorities():
    from torchrig.registry import HOOKS
    from torchrig.runner.priority import get_priority

    expected = {
        "RuntimeInfoHook": 10,
        "IterTimerHook": 50,
        "DistSamplerSeedHook": 50,
        "LoggerHook": 60,
        "ParamSchedulerHook": 70,
        "CheckpointHook": 90,
        "EMAHook": 50,
        "EarlyStoppingHook": 100,
        "EmptyCacheHook": 50,
        "SyncBuffersHook": 50,
        "ProfilerHook": 90,
        "NaiveVisualizationHook": 50,
    }
    for name, priority in expected.items():
        cls = HOOKS.get(name)
        assert cls is not None, name
        assert get_priority(cls.priority) == priority, name
