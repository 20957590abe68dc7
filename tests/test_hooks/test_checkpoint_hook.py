from __future__ import annotations

import io
import os

import pytest
import torch

from torchrig.hooks import CheckpointHook


def _files(path):
    return sorted(name for name in os.listdir(path) if name.endswith(".pth"))


def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_epoch_checkpoints_with_max_keep_and_last_checkpoint(make_runner, loops):
    hook = CheckpointHook(interval=1, max_keep_ckpts=2)
    runner = make_runner(max_epochs=4, hooks=[hook])
    loops.train_by_epoch(runner)
    assert runner.saved == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth", "epoch_4.pth"]
    assert _files(runner.work_dir) == ["epoch_3.pth", "epoch_4.pth"]
    with open(os.path.join(runner.work_dir, "last_checkpoint")) as f:
        assert f.read() == os.path.join(runner.work_dir, "epoch_4.pth")
    ckpt = torch.load(os.path.join(runner.work_dir, "epoch_4.pth"), weights_only=True)
    assert ckpt["meta"] == {"epoch": 4, "iter": 16}
    assert runner.message_hub.get_info("keep_ckpt_ids") == [3, 4]


def test_interval_save_begin_and_save_last(make_runner, loops):
    hook = CheckpointHook(interval=2, save_begin=3)
    runner = make_runner(max_epochs=6, hooks=[hook])
    loops.train_by_epoch(runner)
    # from epoch 3 every 2 epochs (as MMEngine), and the last
    assert runner.saved == ["epoch_3.pth", "epoch_5.pth", "epoch_6.pth"]

    hook = CheckpointHook(interval=3, save_last=False)
    runner = make_runner(max_epochs=4, hooks=[hook])
    loops.train_by_epoch(runner)
    assert runner.saved == ["epoch_3.pth"]


def test_iteration_checkpoints(make_runner, loops):
    hook = CheckpointHook(interval=5, by_epoch=False, max_keep_ckpts=1)
    runner = make_runner(max_epochs=3, epoch_len=4, hooks=[hook])  # 12 iterations
    loops.train_by_iter(runner)
    assert runner.saved == ["iter_5.pth", "iter_10.pth", "iter_12.pth"]
    assert _files(runner.work_dir) == ["iter_12.pth"]
    meta = torch.load(os.path.join(runner.work_dir, "iter_12.pth"), weights_only=True)["meta"]
    assert meta == {"epoch": 0, "iter": 12}


def test_out_dir_gets_the_work_dir_name(make_runner, loops, tmp_path):
    hook = CheckpointHook(interval=1, out_dir=str(tmp_path / "store"))
    runner = make_runner(max_epochs=1, hooks=[hook])
    loops.train_by_epoch(runner)
    assert _files(tmp_path / "store" / "work") == ["epoch_1.pth"]


def test_keep_best_two_with_greater_rule(make_runner, loops):
    hook = CheckpointHook(interval=1, save_best="acc/top1", keep_best=2, max_keep_ckpts=1)
    assert hook.rules == ["greater"]
    runner = make_runner(max_epochs=4, hooks=[hook])
    scores = [0.5, 0.7, 0.6, 0.4]
    loops.train_by_epoch(runner, [{"acc/top1": s, "loss": 1.0} for s in scores])
    assert _files(runner.work_dir) == [
        "best_acc_top1_epoch_2.pth",
        "best_acc_top1_epoch_3.pth",
        "epoch_4.pth",
    ]
    assert runner.message_hub.get_info("best_score") == pytest.approx(0.7)
    assert hook.best_ckpt_path == os.path.join(runner.work_dir, "best_acc_top1_epoch_2.pth")
    best = torch.load(hook.best_ckpt_path, weights_only=True)
    assert "optimizer" not in best  # best checkpoints hold no optimizer state


def test_single_best_replaces_the_previous_one_with_less_rule(make_runner, loops):
    hook = CheckpointHook(save_best="loss", save_last=False)
    assert hook.rules == ["less"]
    runner = make_runner(max_epochs=3, hooks=[hook])
    loops.train_by_epoch(runner, [{"loss": 0.5}, {"loss": 0.3}, {"loss": 0.4}])
    assert _files(runner.work_dir) == ["best_loss_epoch_2.pth"]
    assert runner.message_hub.get_info("best_ckpt").endswith("best_loss_epoch_2.pth")


def test_several_metrics_and_explicit_rules(make_runner, loops):
    hook = CheckpointHook(save_best=["acc", "err"], rule=["greater", "less"], save_last=False)
    runner = make_runner(max_epochs=3, hooks=[hook])
    metrics = [{"acc": 0.1, "err": 0.9}, {"acc": 0.3, "err": 0.95}, {"acc": 0.2, "err": 0.5}]
    loops.train_by_epoch(runner, metrics)
    assert _files(runner.work_dir) == ["best_acc_epoch_2.pth", "best_err_epoch_3.pth"]
    assert runner.message_hub.get_info("best_score_acc") == pytest.approx(0.3)
    assert runner.message_hub.get_info("best_score_err") == pytest.approx(0.5)
    assert set(hook.best_ckpt_path_dict) == {"acc", "err"}


def test_auto_uses_the_first_metric(make_runner, loops):
    hook = CheckpointHook(save_best="auto", save_last=False)
    runner = make_runner(max_epochs=2, hooks=[hook])
    loops.train_by_epoch(runner, [{"mAP": 0.2, "loss": 3.0}, {"mAP": 0.4, "loss": 4.0}])
    assert _files(runner.work_dir) == ["best_mAP_epoch_2.pth"]
    assert hook.key_indicators == ["mAP"]


def test_argument_errors():
    with pytest.raises(ValueError, match="pass rule="):
        CheckpointHook(save_best="fancy_metric")
    with pytest.raises(ValueError, match="one rule or one per"):
        CheckpointHook(save_best=["acc", "loss"], rule=["greater", "less", "less"])
    with pytest.raises(KeyError, match="rule must be"):
        CheckpointHook(save_best="acc", rule="bigger")
    with pytest.raises(ValueError, match="keep_best"):
        CheckpointHook(save_best="acc", keep_best=0)
    with pytest.raises(ValueError, match="auto"):
        CheckpointHook(save_best=["auto", "acc"])


def test_missing_best_metric_names_the_available_ones(make_runner, loops):
    hook = CheckpointHook(save_best="acc", save_last=False)
    runner = make_runner(max_epochs=1, hooks=[hook])
    with pytest.raises(KeyError, match="'top1'"):
        loops.train_by_epoch(runner, [{"top1": 0.3}])


def test_regular_checkpoint_is_rewritten_to_hold_the_new_best(make_runner, loops):
    hook = CheckpointHook(interval=1, save_best="acc")
    runner = make_runner(max_epochs=2, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.5}, {"acc": 0.8}])
    ckpt = torch.load(os.path.join(runner.work_dir, "epoch_2.pth"), weights_only=True)
    state = ckpt["hook_states"]["CheckpointHook:0"]
    assert state["best"]["acc"][0][0] == pytest.approx(0.8)
    assert ckpt["meta"]["epoch"] == 2
    assert runner.saved.count("epoch_2.pth") == 2
    assert runner.saved.count("epoch_1.pth") == 2  # the first score is a new best too


def test_regular_checkpoint_is_rewritten_when_validation_changed_hook_state(make_runner, loops):
    from torchrig.hooks import EarlyStoppingHook

    hook = CheckpointHook(interval=1)
    early = EarlyStoppingHook("acc", patience=5)
    runner = make_runner(max_epochs=3, hooks=[hook, early])
    loops.train_by_epoch(runner, [{"acc": 0.5}, {"acc": 0.4}])
    # Epochs 1 and 2 were validated (state changed): written again; epoch 3 was not.
    assert runner.saved == ["epoch_1.pth"] * 2 + ["epoch_2.pth"] * 2 + ["epoch_3.pth"]
    ckpt = torch.load(os.path.join(runner.work_dir, "epoch_2.pth"), weights_only=True)
    assert ckpt["hook_states"]["EarlyStoppingHook:0"] == {"best_score": 0.5, "wait_count": 1}


def test_no_rewrite_when_validation_changed_nothing(make_runner, loops):
    hook = CheckpointHook(interval=1)
    runner = make_runner(max_epochs=2, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.5}, {"acc": 0.4}])
    assert runner.saved == ["epoch_1.pth", "epoch_2.pth"]
    # Nor after a standalone validation once training is over.
    loops.validate(runner, {"acc": 0.1})
    assert runner.saved == ["epoch_1.pth", "epoch_2.pth"]


def test_state_dict_round_trip_and_resume(make_runner, loops):
    hook = CheckpointHook(interval=1, max_keep_ckpts=2, save_best="acc", keep_best=2)
    runner = make_runner(max_epochs=2, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.5}, {"acc": 0.6}])
    state = _roundtrip(hook.state_dict())
    assert state["keep_ckpt_ids"] == [1, 2]
    assert [s for s, _ in state["best"]["acc"]] == pytest.approx([0.6, 0.5])

    # A new run of 4 epochs resumed from epoch 2.
    resumed = CheckpointHook(interval=1, max_keep_ckpts=2, save_best="acc", keep_best=2)
    resumed.load_state_dict(state)
    runner2 = make_runner(max_epochs=4, hooks=[resumed])
    runner2.epoch, runner2.iter = 2, 8
    loops.train_by_epoch(runner2, [{"acc": 0.55}, {"acc": 0.1}])
    assert _files(runner.work_dir) == [
        "best_acc_epoch_2.pth",
        "best_acc_epoch_3.pth",
        "epoch_3.pth",
        "epoch_4.pth",
    ]


def test_lower_limits_on_resume_remove_the_extra_files(make_runner, loops):
    hook = CheckpointHook(interval=1, max_keep_ckpts=3, save_best="acc", keep_best=3)
    runner = make_runner(max_epochs=3, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.1}, {"acc": 0.2}, {"acc": 0.3}])
    assert len(_files(runner.work_dir)) == 6
    resumed = CheckpointHook(interval=1, max_keep_ckpts=1, save_best="acc", keep_best=1)
    resumed.load_state_dict(_roundtrip(hook.state_dict()))
    resumed.before_train(make_runner())
    assert _files(runner.work_dir) == ["best_acc_epoch_3.pth", "epoch_3.pth"]


def test_resume_from_message_hub_info_only(make_runner, loops):
    """A checkpoint without hook states (e.g. MMEngine's) restores through runtime info."""
    hook = CheckpointHook(interval=1, max_keep_ckpts=1, save_best="acc")
    runner = make_runner(max_epochs=1, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.5}])
    hub_state = runner.message_hub.state_dict()

    resumed = CheckpointHook(interval=1, max_keep_ckpts=1, save_best="acc")
    runner2 = make_runner(max_epochs=2, hooks=[resumed])
    runner2.message_hub.load_state_dict(hub_state)
    runner2.epoch, runner2.iter = 1, 4
    loops.train_by_epoch(runner2, [{"acc": 0.4}])
    # 0.4 is not better than the restored 0.5; epoch_1 was pushed out by max_keep_ckpts.
    assert _files(runner.work_dir) == ["best_acc_epoch_1.pth", "epoch_2.pth"]


def test_published_checkpoint_keeps_only_published_keys(make_runner, loops):
    hook = CheckpointHook(interval=1, published_keys=["meta", "state_dict"])
    runner = make_runner(max_epochs=1, hooks=[hook])
    loops.train_by_epoch(runner)
    published = [f for f in _files(runner.work_dir) if f.startswith("epoch_1-")]
    assert len(published) == 1 and len(published[0]) == len("epoch_1-12345678.pth")
    ckpt = torch.load(os.path.join(runner.work_dir, published[0]), weights_only=True)
    assert set(ckpt) == {"meta", "state_dict"}


def test_iteration_based_best_checkpoints(make_runner, loops):
    hook = CheckpointHook(interval=4, by_epoch=False, save_best="loss", save_last=False)
    runner = make_runner(max_epochs=3, epoch_len=4, hooks=[hook])  # 12 iterations
    loops.train_by_iter(runner, val_interval=4, val_metrics=[{"loss": 3}, {"loss": 1}, {"loss": 2}])
    assert _files(runner.work_dir) == [
        "best_loss_iter_8.pth",
        "iter_12.pth",
        "iter_4.pth",
        "iter_8.pth",
    ]
    meta = torch.load(os.path.join(runner.work_dir, "best_loss_iter_8.pth"), weights_only=True)
    assert meta["meta"] == {"epoch": 0, "iter": 8}


def test_checkpoints_are_offered_to_the_trackers_once(make_runner, loops):
    hook = CheckpointHook(interval=1, save_best="acc")
    runner = make_runner(max_epochs=2, hooks=[hook])
    loops.train_by_epoch(runner, [{"acc": 0.5}, {"acc": 0.4}])
    calls = [
        (os.path.basename(c.args[0]), c.kwargs["aliases"])
        for c in runner.visualizer.log_checkpoint.call_args_list
    ]
    # epoch_1.pth was written twice (new best after validation) but offered once.
    assert calls == [
        ("epoch_1.pth", ("latest", "epoch_1")),
        ("best_acc_epoch_1.pth", ("best",)),
        ("epoch_2.pth", ("latest", "epoch_2")),
    ]
    best_metadata = runner.visualizer.log_checkpoint.call_args_list[1].kwargs["metadata"]
    assert best_metadata == {
        "epoch": 1,
        "iter": 4,
        "acc": 0.5,
        "step": 4,
        "metrics": best_metadata["metrics"],  # the message hub's latest (checked with W&B)
        "config_hash": None,  # this fake runner has no config
    }
