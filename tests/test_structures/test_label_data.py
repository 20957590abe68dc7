from __future__ import annotations

import pytest
import torch

from torchrig.structures import LabelData


def test_label_onehot_roundtrip():
    onehot = LabelData.label_to_onehot(torch.tensor([1, 3]), num_classes=5)
    assert onehot.tolist() == [0, 1, 0, 1, 0]
    assert onehot.dtype == torch.long
    assert LabelData.onehot_to_label(onehot).tolist() == [1, 3]
    assert LabelData.label_to_onehot(torch.tensor([], dtype=torch.long), 3).tolist() == [0, 0, 0]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="not one-hot"):
        LabelData.onehot_to_label(torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="not one-hot"):
        LabelData.onehot_to_label(torch.zeros(2, 2))
    with pytest.raises(AssertionError):
        LabelData.label_to_onehot(torch.tensor([5]), num_classes=5)
    with pytest.raises(AssertionError):
        LabelData.onehot_to_label([0, 1])


def test_label_data_holds_fields():
    labels = LabelData(metainfo=dict(num_classes=3), item=torch.tensor([2]))
    assert labels.num_classes == 3 and labels.item.tolist() == [2]
    assert repr(labels).startswith("<LabelData(")
