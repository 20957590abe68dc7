from __future__ import annotations

import os

import pytest
import torch

from torchrig.hooks import CheckpointHook, EMAHook


def _train_step(runner, hook, idx):
    with torch.no_grad():
        for p in runner.model.parameters():
            p.add_(1.0)
    hook.after_train_iter(runner, idx)
    runner.iter += 1


def _setup(make_runner, **kwargs):
    hook = EMAHook(momentum=0.5, **kwargs)
    runner = make_runner(max_epochs=1, epoch_len=10, hooks=[hook])
    hook.before_run(runner)
    hook.before_train(runner)
    return hook, runner


def test_average_and_swap_for_validation(make_runner):
    hook, runner = _setup(make_runner)
    weight = runner.model[0].weight
    start = weight.detach().clone()
    for idx in range(3):
        _train_step(runner, hook, idx)
    # 1st update copies (start+1); then 0.5 * avg + 0.5 * src: (start+1.5), (start+2.25)
    ema_weight = hook.ema_model.module[0].weight
    assert torch.allclose(ema_weight, start + 2.25)
    assert torch.allclose(weight, start + 3)
    hook.before_val_epoch(runner)
    assert torch.allclose(weight, start + 2.25)
    hook.after_val_epoch(runner, {})
    assert torch.allclose(weight, start + 3)
    hook.before_test_epoch(runner)
    assert torch.allclose(weight, start + 2.25)
    hook.after_test_epoch(runner, {})
    assert torch.allclose(weight, start + 3)


def test_before_begin_iter_the_average_copies_the_model(make_runner):
    hook, runner = _setup(make_runner, begin_iter=5)
    for idx in range(2):
        _train_step(runner, hook, idx)
    assert torch.equal(hook.ema_model.module[0].weight, runner.model[0].weight)
    assert int(hook.ema_model.steps) == 0


def test_checkpoint_holds_ema_weights_and_resume_swaps_back(make_runner):
    hook, runner = _setup(make_runner)
    for idx in range(2):
        _train_step(runner, hook, idx)
    model_weight = runner.model[0].weight.detach().clone()
    ema_weight = hook.ema_model.module[0].weight.detach().clone()
    runner.save_checkpoint(runner.work_dir, "ckpt.pth")
    ckpt = torch.load(os.path.join(runner.work_dir, "ckpt.pth"), weights_only=True)
    assert torch.equal(ckpt["state_dict"]["0.weight"], ema_weight)
    assert torch.equal(ckpt["ema_state_dict"]["module.0.weight"], model_weight)
    # The live model was not touched by saving.
    assert torch.equal(runner.model[0].weight, model_weight)

    # Resume into a fresh hook: the average and the model's own weights come back.
    hook2, runner2 = _setup(make_runner)
    runner2._resume = True
    hook2.after_load_checkpoint(runner2, ckpt)
    assert torch.equal(ckpt["state_dict"]["0.weight"], model_weight)
    assert torch.equal(hook2.ema_model.module[0].weight, ema_weight)
    assert int(hook2.ema_model.steps) == 2


def test_load_without_resume_starts_the_average_from_the_weights(make_runner):
    hook, runner = _setup(make_runner)
    state = {k: v + 7 for k, v in runner.model.state_dict().items()}
    hook.after_load_checkpoint(runner, {"state_dict": state})
    assert torch.equal(hook.ema_model.module[0].weight, state["0.weight"])


def test_ema_weights_file_follows_its_checkpoint(make_runner, loops):
    ema = EMAHook(momentum=0.5, save_ema_weights=True)
    ckpt_hook = CheckpointHook(interval=1, max_keep_ckpts=1)
    runner = make_runner(max_epochs=2, epoch_len=2, hooks=[ema, ckpt_hook])
    ema.before_run(runner)
    loops.train_by_epoch(runner)
    files = sorted(f for f in os.listdir(runner.work_dir) if f.endswith(".pth"))
    assert files == ["epoch_2.pth", "epoch_2_ema.pth"]
    ema_file = torch.load(os.path.join(runner.work_dir, "epoch_2_ema.pth"), weights_only=True)
    assert ema_file["meta"] == {"epoch": 2, "iter": 4}
    assert torch.equal(ema_file["state_dict"]["0.weight"], ema.ema_model.module[0].weight)
    assert set(ema_file["state_dict"]) == set(runner.model.state_dict())


def test_ema_weights_file_without_checkpoint_hook(make_runner):
    hook, runner = _setup(make_runner, save_ema_weights=True)
    _train_step(runner, hook, 0)
    runner.save_checkpoint(runner.work_dir, "manual.pth", meta={"iter": 1})
    assert os.path.isfile(os.path.join(runner.work_dir, "ema_iter_1.pth"))


def test_argument_errors(make_runner):
    with pytest.raises(ValueError, match="not both"):
        EMAHook(begin_iter=1, begin_epoch=1)
    with pytest.raises(ValueError):
        EMAHook(begin_iter=-1)
    hook = EMAHook(begin_epoch=5)
    runner = make_runner(max_epochs=2)
    hook.before_run(runner)
    with pytest.raises(ValueError, match="never be updated"):
        hook.before_train(runner)
