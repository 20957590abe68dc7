from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from torchrig.hooks import RuntimeInfoHook
from torchrig.optim import OptimWrapper, OptimWrapperDict


def test_progress_lr_and_losses_reach_the_message_hub(make_runner, loops):
    hook = RuntimeInfoHook()
    runner = make_runner(max_epochs=2, epoch_len=3, hooks=[hook])
    runner.train_dataloader = SimpleNamespace(
        dataset=SimpleNamespace(metainfo={"classes": ["a"]}), __len__=lambda: 3
    )
    hook.before_run(runner)
    hub = runner.message_hub
    assert hub.get_info("experiment_name") == "exp"
    assert hub.get_info("seed") == 0
    hook.before_train(runner)
    assert hub.get_info("loop_stage") == "train"
    assert hub.get_info("max_epochs") == 2 and hub.get_info("max_iters") == 6
    assert hub.get_info("dataset_meta") == {"classes": ["a"]}
    runner.epoch, runner.iter = 1, 4
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner, 1)
    assert hub.get_info("epoch") == 1 and hub.get_info("iter") == 4
    assert hub.get_scalar("train/lr").current() == pytest.approx(0.1)
    loss = torch.tensor(2.5)
    hook.after_train_iter(runner, 1, outputs={"loss": loss, "loss_cls": torch.tensor(1.0)})
    assert hub.get_scalar("train/loss").current() == pytest.approx(2.5)
    assert hub.get_scalar("train/loss_cls").current() == pytest.approx(1.0)
    hook.after_train(runner)
    assert hub.get_info("loop_stage") is None


def test_lr_of_each_optimizer_of_a_dict(make_runner):
    hook = RuntimeInfoHook()
    runner = make_runner()
    params = [torch.nn.Parameter(torch.zeros(1))]
    runner.optim_wrapper = OptimWrapperDict(
        gen=OptimWrapper(torch.optim.SGD(params, lr=0.1)),
        disc=OptimWrapper(torch.optim.SGD(params, lr=0.2)),
    )
    hook.before_train_iter(runner, 0)
    assert runner.message_hub.get_scalar("train/gen.lr").current() == pytest.approx(0.1)
    assert runner.message_hub.get_scalar("train/disc.lr").current() == pytest.approx(0.2)


def test_val_metrics_and_loop_stage_inside_training(make_runner, loops):
    hook = RuntimeInfoHook()
    runner = make_runner(max_epochs=1, epoch_len=1, hooks=[hook])
    hub = runner.message_hub
    hook.before_train(runner)
    hook.before_val(runner)
    assert hub.get_info("loop_stage") == "val"
    hook.after_val_epoch(runner, {"acc/top1": 0.75, "confusion": [[1, 0], [0, 1]]})
    hook.after_val(runner)
    assert hub.get_info("loop_stage") == "train"
    assert hub.get_scalar("val/acc/top1").current() == pytest.approx(0.75)
    assert hub.get_info("val/confusion") == [[1, 0], [0, 1]]

    hook.before_test(runner)
    assert hub.get_info("loop_stage") == "test"
    hook.after_test_epoch(runner, {"acc/top1": 0.5})
    hook.after_test(runner)
    assert hub.get_scalar("test/acc/top1").current() == pytest.approx(0.5)
    assert hub.get_info("loop_stage") is None


def test_val_alone_clears_the_stage(make_runner):
    hook = RuntimeInfoHook()
    runner = make_runner()
    hook.before_val(runner)
    hook.after_val(runner)
    assert runner.message_hub.get_info("loop_stage") is None
