from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch

from torchrig.logging import MessageHub
from torchrig.registry import LOG_PROCESSORS
from torchrig.runner.log_processor import LogProcessor


def _runner(
    hub: MessageHub,
    *,
    iter: int = 0,
    epoch: int = 0,
    max_iters: int = 1000,
    max_epochs: int = 10,
    train_len: int = 100,
    val_len: int = 10,
    test_len: int = 5,
    train: bool = True,
) -> SimpleNamespace:
    def loop(n: int) -> SimpleNamespace:
        return SimpleNamespace(dataloader=list(range(n)))

    return SimpleNamespace(
        message_hub=hub,
        iter=iter,
        epoch=epoch,
        max_iters=max_iters,
        max_epochs=max_epochs,
        train_loop=loop(train_len) if train else None,
        val_loop=loop(val_len),
        test_loop=loop(test_len),
        train_dataloader=list(range(train_len)),
        val_dataloader=list(range(val_len)),
        test_dataloader=list(range(test_len)),
        model=SimpleNamespace(),
    )


def _train_hub(n: int) -> MessageHub:
    hub = MessageHub("lp")
    for i in range(n):
        hub.update_scalar("train/lr", 0.01)
        hub.update_scalar("train/time", 0.5 if i % 2 else 1.5)
        hub.update_scalar("train/data_time", 0.001 * (i + 1))
        hub.update_scalar("train/loss", torch.tensor(float(i)))
        hub.update_scalar("train/loss_cls", float(i) * 2)
        hub.update_scalar("train/acc", float(i) / 10)
    return hub


def test_registered() -> None:
    assert LOG_PROCESSORS.get("LogProcessor") is LogProcessor
    built = LOG_PROCESSORS.build(dict(type="LogProcessor", window_size=5, by_epoch=False))
    assert built.window_size == 5 and built.by_epoch is False


def test_train_line_by_epoch() -> None:
    hub = _train_hub(50)
    runner = _runner(hub, iter=149, epoch=1)  # 50th batch of the 2nd epoch
    tag, line = LogProcessor().get_log_after_iter(runner, 49, "train")
    assert line.startswith("Epoch(train)  [2][ 50/100]  lr: 1.0000e-02  eta: ")
    # ETA: the running mean of all iteration times (1.0 s) times the 850 iterations left
    assert "eta: 0:14:10  time: 1.0000  data_time: 0.0455  " in line
    assert line.endswith("loss: 44.5000  loss_cls: 89.0000  acc: 4.9000")
    assert "memory" not in line  # CPU only
    assert tag == pytest.approx(
        {
            "lr": 0.01,
            "time": 1.0,
            "data_time": 0.0455,
            "loss": 44.5,
            "loss_cls": 89.0,
            "acc": 4.9,
            "epoch": 2,
            "iter": 150,
        }
    )


def test_train_line_by_iter_and_hierarchy() -> None:
    hub = _train_hub(20)
    runner = _runner(hub, iter=19)
    processor = LogProcessor(by_epoch=False, log_with_hierarchy=True, num_digits=2)
    tag, line = processor.get_log_after_iter(runner, 19, "train")
    assert line.startswith("Iter(train) [  20/1000]  lr: 1.00e-02  eta: 0:16:20  time: 1.00")
    assert "loss: 14.50" in line and "acc: 1.90" in line
    assert set(tag) == {
        "train/lr",
        "train/time",
        "train/data_time",
        "train/loss",
        "train/loss_cls",
        "train/acc",
        "epoch",
        "iter",
    }
    assert tag["iter"] == 20 and tag["train/loss"] == pytest.approx(14.5)


def test_custom_cfg_smoothing() -> None:
    hub = _train_hub(30)
    runner = _runner(hub, iter=229, epoch=2)
    custom = [
        dict(data_src="loss", method_name="mean", window_size="global", log_name="loss_global"),
        dict(data_src="loss", method_name="max", window_size="epoch", log_name="loss_max"),
        dict(data_src="acc", method="min", window_size=3, log_name="acc_min3"),
        dict(data_src="loss_cls", method_name="current"),
    ]
    processor = LogProcessor(window_size=4, custom_cfg=custom)
    tag, line = processor.get_log_after_iter(runner, 29, "train")
    # the history holds 30 values, so the 'global' window (230) is all of them
    assert tag["loss_global"] == pytest.approx(14.5)
    assert tag["loss_max"] == 29.0
    assert tag["acc_min3"] == pytest.approx(2.7)
    assert tag["loss_cls"] == 58.0  # overridden: current instead of the window mean
    assert tag["loss"] == pytest.approx(27.5)  # window_size=4
    assert "loss_global: 14.5000" in line and "acc_min3: 2.7000" in line


@pytest.mark.parametrize(
    "custom, by_epoch, match",
    [
        ([dict(data_src="loss", window_size="epoch")], False, "by_epoch=False"),
        ([dict(data_src="loss"), dict(data_src="loss")], True, "twice"),
        ([dict(window_size=3)], True, "data_src"),
        ([dict(data_src="loss", window_size="forever")], True, "window_size"),
    ],
)
def test_custom_cfg_errors(custom: list, by_epoch: bool, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LogProcessor(custom_cfg=custom, by_epoch=by_epoch)


def test_val_and_test_iteration_lines() -> None:
    hub = MessageHub("lp")
    for i in range(4):
        hub.update_scalar("val/time", 0.2)
        hub.update_scalar("val/data_time", 0.1)
        hub.update_scalar("val/loss", float(i))
        hub.update_scalar("val/accuracy", 0.5)
    runner = _runner(hub, iter=300, epoch=3)
    tag, line = LogProcessor().get_log_after_iter(runner, 3, "val")
    # 6 batches left at 0.2 s each
    assert line.startswith("Epoch(val)  [3][ 4/10]    eta: 0:00:01  time: 0.2000  data_time: 0.1")
    assert line.endswith("loss: 1.5000") and "accuracy" not in line
    assert tag["epoch"] == 3 and tag["iter"] == 300
    hub.update_scalar("test/time", 0.2)
    hub.update_scalar("test/data_time", 0.1)
    tag, line = LogProcessor().get_log_after_iter(runner, 1, "test")
    assert line.startswith("Epoch(test) [2/5]    eta: 0:00:00  time: 0.2000")
    tag, line = LogProcessor(by_epoch=False).get_log_after_iter(runner, 1, "test")
    assert line.startswith("Iter(test) [2/5]  ")


def test_val_epoch_line_and_tag() -> None:
    hub = MessageHub("lp")
    for _ in range(10):
        hub.update_scalar("val/time", 0.3)
        hub.update_scalar("val/data_time", 0.05)
    hub.update_scalar("val/accuracy/top1", 0.95)
    hub.update_scalar("val/loss", 0.25)
    hub.update_info("val/confusion", torch.eye(2))
    runner = _runner(hub, iter=500, epoch=5)
    tag, line = LogProcessor().get_log_after_epoch(runner, 10, "val")
    assert line.startswith("Epoch(val) [5][10/10]    accuracy/top1: 0.9500  loss: 0.2500  ")
    assert "confusion: \ntensor(" in line
    assert line.endswith("time: 0.3000  data_time: 0.0500")
    assert tag == pytest.approx(
        {
            "accuracy/top1": 0.95,
            "loss": 0.25,
            "time": 0.3,
            "data_time": 0.05,
            "epoch": 5,
            "iter": 500,
        }
    )
    tag, _ = LogProcessor().get_log_after_epoch(runner, 10, "val", with_non_scalar=True)
    assert torch.equal(tag["confusion"], torch.eye(2))
    tag, line = LogProcessor(by_epoch=False, log_with_hierarchy=True).get_log_after_epoch(
        runner, 10, "val"
    )
    assert line.startswith("Iter(val) [10/10]    val/accuracy/top1: 0.9500")
    assert tag["val/accuracy/top1"] == 0.95 and tag["iter"] == 500


def test_test_only_runner() -> None:
    hub = MessageHub("lp")
    hub.update_scalar("test/accuracy", 0.7)
    runner = _runner(hub, train=False, iter=0)
    tag, line = LogProcessor().get_log_after_epoch(runner, 5, "test")
    assert line == "Epoch(test) [5/5]    accuracy: 0.7000"
    assert tag == {"accuracy": 0.7, "epoch": 0, "iter": 0}
    with pytest.raises(ValueError, match="mode"):
        LogProcessor().get_log_after_epoch(runner, 5, "train")


def test_eta_falls_back_to_runtime_info() -> None:
    hub = MessageHub("lp")
    hub.update_scalar("train/data_time", 0.1)
    hub.update_info("eta", 3725.0)
    runner = _runner(hub, iter=9)
    processor = LogProcessor(custom_cfg=[dict(data_src="data_time", log_name="time")])
    _, line = processor.get_log_after_iter(runner, 9, "train")
    assert re.search(r"eta: 1:02:05  time: 0\.1000  data_time: 0\.1000", line)


@pytest.mark.parametrize("with_eta", [True, False])
def test_line_templates_read_as_the_general_formatting(monkeypatch, with_eta) -> None:
    # Lines of float values are filled in from a template of the keys; anything else (a
    # memory figure, other types) is formatted piece by piece: the two read the same.
    import torchrig.runner.log_processor as module

    hub = _train_hub(12)
    hub.update_scalar("train/100%_ok", float("nan"))
    if not with_eta:
        hub.update_scalar("train/time", float("nan"))
    for window in (10, 20):  # the windowed mean of the last entries, and of the whole history
        lines = []
        for floats in (module._FLOATS, frozenset()):
            monkeypatch.setattr(module, "_FLOATS", floats)
            processor = LogProcessor(window_size=window, num_digits=3)
            lines.append(processor.get_log_after_iter(_runner(hub, iter=11), 11, "train"))
        assert lines[0][1] == lines[1][1] and str(lines[0][0]) == str(lines[1][0])  # (NaN)
        assert ("eta: " in lines[0][1]) == with_eta and "100%_ok: nan" in lines[0][1]


def test_iteration_based_loop_gets_iter_headers_with_the_default_by_epoch() -> None:
    """An IterBasedTrainLoop's lines count iterations even with ``by_epoch=True`` (the
    default, and OpenMMLab's runtime configs'): not ``Epoch(train) [1][75/45]``."""
    from torchrig.runner.loops import IterBasedTrainLoop

    hub = _train_hub(20)
    runner = _runner(hub, iter=74, max_iters=90, train_len=45)
    runner.train_loop = object.__new__(IterBasedTrainLoop)
    processor = LogProcessor()
    _, line = processor.get_log_after_iter(runner, 29, "train")
    assert line.startswith("Iter(train) [75/90]  "), line
    hub.update_scalar("val/accuracy", 0.9)
    _, line = processor.get_log_after_epoch(runner, 9, "val")
    assert line.startswith("Iter(val) [10/10]  "), line
