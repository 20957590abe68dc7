from __future__ import annotations

from unittest.mock import patch

from torchrig.hooks import SyncBuffersHook


def _reduced(make_runner, distributed, stages):
    runner = make_runner()
    hook = SyncBuffersHook()
    with (
        patch("torchrig.dist.is_distributed", return_value=distributed),
        patch("torchrig.dist.all_reduce") as all_reduce,
    ):
        for stage in stages:
            getattr(hook, stage)(runner)
    return all_reduce.call_args_list


def test_float_buffers_are_averaged_after_each_train_epoch(make_runner):
    calls = _reduced(make_runner, True, ["after_train_epoch", "before_val_epoch"])
    # BatchNorm's running_mean and running_var; not num_batches_tracked (an integer count);
    # and not again before validation.
    assert len(calls) == 2
    assert all(c.kwargs == {"op": "mean"} and c.args[0].is_floating_point() for c in calls)


def test_validation_after_iteration_based_training_syncs(make_runner):
    calls = _reduced(make_runner, True, ["before_val_epoch", "before_val_epoch"])
    assert len(calls) == 4


def test_nothing_when_not_distributed(make_runner):
    assert _reduced(make_runner, False, ["after_train_epoch", "before_val_epoch"]) == []
