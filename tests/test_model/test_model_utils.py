from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import torchrig.model.utils as model_utils
from torchrig.model import (
    convert_sync_batchnorm,
    detect_anomalous_params,
    merge_dict,
    revert_sync_batchnorm,
    stack_batch,
)


def test_stack_batch_pads_the_end_of_every_dim_but_the_first():
    tensors = [torch.ones(2, 3, 4), torch.full((2, 5, 2), 2.0)]
    out = stack_batch(tensors, pad_size_divisor=3, pad_value=-1)
    assert out.shape == (2, 2, 6, 6)
    assert torch.all(out[0, :, :3, :4] == 1) and torch.all(out[0, :, 3:] == -1)
    assert torch.all(out[1, :, :5, :2] == 2) and torch.all(out[1, :, :, 2:] == -1)
    same = [torch.ones(1, 2, 2), torch.zeros(1, 2, 2)]
    assert torch.equal(stack_batch(same), torch.stack(same))
    with pytest.raises(ValueError, match="first dimensions"):
        stack_batch([torch.ones(1, 2), torch.ones(2, 2)])
    with pytest.raises(TypeError):
        stack_batch([])


def test_revert_sync_batchnorm_keeps_weights_and_runs_on_cpu():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.SyncBatchNorm(2))
    with torch.no_grad():
        model[1].weight.fill_(3.0)
        model[1].running_mean.fill_(0.5)
    model.eval()
    reverted = revert_sync_batchnorm(model)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in reverted.modules())
    assert torch.all(reverted[1].weight == 3.0) and torch.all(reverted[1].running_mean == 0.5)
    out = reverted(torch.ones(1, 1, 2, 2))
    expected = (model[0](torch.ones(1, 1, 2, 2)) - 0.5) / torch.sqrt(torch.tensor(1 + 1e-5)) * 3
    assert torch.allclose(out, expected, atol=1e-5)
    converted = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(2)))
    assert isinstance(converted[0], nn.SyncBatchNorm)
    with pytest.raises(ValueError, match="mmcv"):
        convert_sync_batchnorm(converted, implementation="mmcv")


def test_detect_anomalous_params_names_unused_parameters(monkeypatch):
    records = []
    monkeypatch.setattr(
        model_utils, "_print_log", lambda msg, level=20: records.append((level, msg))
    )
    model = nn.ModuleDict({"used": nn.Linear(2, 1), "unused": nn.Linear(2, 1)})
    loss = model["used"](torch.ones(1, 2)).sum()
    detect_anomalous_params(loss, model)
    names = [msg.split()[0] for level, msg in records if level == logging.ERROR]
    assert sorted(names) == ["unused.bias", "unused.weight"]


def test_merge_dict():
    assert merge_dict({"a": 1, "b": 2}, {"b": 3}) == {"a": 1, "b": 3}
