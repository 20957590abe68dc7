from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.hooks import ParamSchedulerHook
from torchrig.optim import OptimWrapper
from torchrig.optim.scheduler import MultiStepLR, ReduceOnPlateauLR


def _wrapper(lr=1.0):
    return OptimWrapper(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=lr))


def _lr(wrapper):
    return wrapper.get_lr()["lr"][0]


def test_iteration_schedulers_step_each_iteration_epoch_ones_each_epoch(make_runner, loops):
    hook = ParamSchedulerHook()
    runner = make_runner(max_epochs=2, epoch_len=4, hooks=[hook])
    by_iter, by_epoch = _wrapper(), _wrapper()
    runner.param_schedulers = [
        MultiStepLR(by_iter, milestones=[3], gamma=0.1, by_epoch=False),
        MultiStepLR(by_epoch, milestones=[1], gamma=0.5, by_epoch=True),
    ]
    runner.call_hook("before_train")
    runner.call_hook("before_train_epoch")
    for idx in range(3):
        runner.call_hook("after_train_iter", batch_idx=idx, outputs={})
    assert _lr(by_iter) == pytest.approx(0.1)  # three steps: milestone reached
    assert _lr(by_epoch) == pytest.approx(1.0)  # no epoch ended yet
    runner.call_hook("after_train_epoch")
    assert _lr(by_epoch) == pytest.approx(0.5)


def test_dict_of_scheduler_lists(make_runner):
    hook = ParamSchedulerHook()
    runner = make_runner(hooks=[hook])
    gen, disc = _wrapper(), _wrapper()
    runner.param_schedulers = {
        "generator": [MultiStepLR(gen, milestones=[1], gamma=0.1, by_epoch=False)],
        "discriminator": [MultiStepLR(disc, milestones=[2], gamma=0.1, by_epoch=False)],
    }
    hook.after_train_iter(runner, 0)
    assert _lr(gen) == pytest.approx(0.1) and _lr(disc) == pytest.approx(1.0)
    hook.after_train_iter(runner, 1)
    assert _lr(disc) == pytest.approx(0.1)


def test_plateau_scheduler_gets_the_validation_metrics(make_runner, loops):
    hook = ParamSchedulerHook()
    runner = make_runner(max_epochs=3, epoch_len=1, hooks=[hook])
    wrapper = _wrapper()
    runner.param_schedulers = [
        ReduceOnPlateauLR(wrapper, monitor="loss", patience=0, factor=0.5, by_epoch=True)
    ]
    loops.train_by_epoch(runner, [{"loss": 1.0}, {"loss": 2.0}, {"loss": 3.0}])
    # first evaluation sets the best, the two after it are worse: two reductions
    assert _lr(wrapper) == pytest.approx(0.25)


def test_no_schedulers_and_bad_types(make_runner):
    hook = ParamSchedulerHook()
    runner = make_runner()
    runner.param_schedulers = None
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    hook.after_val_epoch(runner, {"loss": 1.0})
    runner.param_schedulers = {"a": MultiStepLR(_wrapper(), milestones=[1])}
    with pytest.raises(TypeError, match="dict of such lists"):
        hook.after_train_epoch(runner)
