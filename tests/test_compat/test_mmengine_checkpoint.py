"""Checkpoints written by the real MMEngine 0.10.7 load with ``weights_only=True``.

``tests/data/mmengine_ckpt/epoch_2.pth`` was made by ``make_checkpoint.py`` beside it (real
MMEngine, 2 epochs of ``Tiny`` below). MMEngine printed ``mse: 1.1093`` validating it.
"""

import pickle
from pathlib import Path

import pytest
import torch

from torchrig.evaluator import BaseMetric, Evaluator
from torchrig.logging import HistoryBuffer
from torchrig.model import BaseModel
from torchrig.runner import Runner
from torchrig.runner.checkpoint import _load_checkpoint, load_checkpoint

CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "mmengine_ckpt" / "epoch_2.pth"
# train/loss as MMEngine logged it, iteration by iteration.
MMENGINE_LOSSES = [5.23644161, 0.49609908, 0.30438608, 0.67725646, 0.10652186, 1.76261115]


class Tiny(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode="tensor"):
        out = self.linear(inputs)
        if mode == "loss":
            return dict(loss=((out - targets) ** 2).mean())
        if mode == "predict":
            return [dict(error=float(((o - t) ** 2).sum())) for o, t in zip(out, targets)]
        return out


class MeanError(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(sample["error"] for sample in data_samples)

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results))


def _data():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(12, 2, generator=generator)
    targets = inputs.sum(dim=1, keepdim=True)
    samples = [dict(inputs=x, targets=y) for x, y in zip(inputs, targets)]
    return torch.utils.data.DataLoader(
        samples, batch_size=4, collate_fn=torch.utils.data.default_collate
    )


def _runner(tmp_path, **kwargs):
    return Runner(
        model=Tiny(),
        work_dir=str(tmp_path / "work"),
        train_dataloader=_data(),
        val_dataloader=_data(),
        val_evaluator=Evaluator(MeanError()),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        param_scheduler=dict(type="MultiStepLR", milestones=[1], gamma=0.5, by_epoch=True),
        randomness=dict(seed=0),
        **kwargs,
    )


def test_plain_weights_only_load_refuses_it():
    # What the mapping is for: torch alone refuses MMEngine's classes.
    with pytest.raises(pickle.UnpicklingError, match="mmengine.logging.history_buffer"):
        torch.load(CHECKPOINT, weights_only=True)


def test_message_hub_history_buffers_become_torchrig_ones():
    checkpoint = _load_checkpoint(CHECKPOINT)
    hub = checkpoint["message_hub"]
    loss = hub["log_scalars"]["train/loss"]
    assert isinstance(loss, HistoryBuffer)
    assert loss.data[0].tolist() == pytest.approx(MMENGINE_LOSSES)
    assert loss.data[1].tolist() == [1.0] * 6
    assert loss.mean(3) == pytest.approx(sum(MMENGINE_LOSSES[3:]) / 3)
    assert hub["log_scalars"]["train/lr"].current() == pytest.approx(0.05)
    assert float(hub["runtime_info"]["eta"]) == 0.0  # a numpy scalar in the file
    assert checkpoint["meta"]["mmengine_version"] == "0.10.7"


def test_only_history_buffer_statistics_may_be_looked_up():
    from torchrig.runner._mmengine_compat import _MMEngineHistoryBuffer, _statistic

    assert _statistic(_MMEngineHistoryBuffer, "mean") is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match="getattr"):
        _statistic(_MMEngineHistoryBuffer, "__init__")
    with pytest.raises(pickle.UnpicklingError, match="getattr"):
        _statistic(torch, "load")


def test_numpy_object_arrays_stay_refused(tmp_path):
    import numpy as np

    path = tmp_path / "objects.pth"
    torch.save({"objects": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(Exception, match="weights_only"):
        _load_checkpoint(path)


def test_load_checkpoint_gives_mmengine_weights():
    model = Tiny()
    load_checkpoint(model, CHECKPOINT, strict=True)
    assert model.linear.weight.tolist()[0] == pytest.approx([1.4712, 1.6705], abs=1e-4)
    assert model.linear.bias.tolist() == pytest.approx([-0.1840], abs=1e-4)


def test_load_from_validates_as_mmengine_did(tmp_path):
    runner = _runner(tmp_path, load_from=str(CHECKPOINT), train_cfg=dict(max_epochs=3))
    metrics = runner.val()
    assert metrics["mse"] == pytest.approx(1.1093, abs=1e-4)


def test_resume_continues_mmengine_training(tmp_path):
    runner = _runner(
        tmp_path,
        load_from=str(CHECKPOINT),
        resume=True,
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=10),
    )
    runner.train()
    assert (runner.epoch, runner.iter) == (3, 9)
    losses = runner.message_hub.get_scalar("train/loss").data[0].tolist()
    assert len(losses) == 9
    assert losses[:6] == pytest.approx(MMENGINE_LOSSES)
    assert runner.optim_wrapper.get_lr()["lr"] == [pytest.approx(0.05)]
