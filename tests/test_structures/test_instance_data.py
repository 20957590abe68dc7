from __future__ import annotations

import numpy as np
import pytest
import torch

from torchrig.structures import BaseDataElement, InstanceData


class TensorList:
    """A user type with ``__getitem__``, ``__len__`` and ``cat``, as a boxes type."""

    def __init__(self, values: list) -> None:
        self.values = list(values)

    def __getitem__(self, item):
        return TensorList(self.values[item])

    def __len__(self) -> int:
        return len(self.values)

    @staticmethod
    def cat(items: list[TensorList]) -> TensorList:
        return TensorList([v for item in items for v in item.values])


def _instances() -> InstanceData:
    instances = InstanceData(metainfo=dict(img_shape=(10, 10)))
    instances.bboxes = torch.arange(16.0).view(4, 4)
    instances.labels = np.array([0, 1, 2, 3])
    instances.names = ["a", "b", "c", "d"]
    instances.chars = "wxyz"
    instances.custom = TensorList([10, 11, 12, 13])
    return instances


def test_fields_must_share_a_length():
    instances = _instances()
    assert len(instances) == 4
    with pytest.raises(AssertionError, match="not consistent"):
        instances.scores = torch.zeros(3)
    with pytest.raises(AssertionError, match="__len__"):
        instances.scalar = 1
    # Metainfo is not length-checked.
    instances.set_metainfo(dict(scale=2.0))
    assert instances.scale == 2.0
    assert len(InstanceData()) == 0


def test_int_index_keeps_the_dimension():
    instances = _instances()
    last = instances[-1]
    assert len(last) == 1
    assert torch.equal(last.bboxes, instances.bboxes[3:4])
    assert last.names == ["d"] and last.chars == "z"
    assert last.custom.values == [13]
    assert last.metainfo == instances.metainfo
    with pytest.raises(IndexError):
        instances[4]
    with pytest.raises(IndexError):
        instances[-5]
    assert torch.equal(instances["bboxes"], instances.bboxes)


def test_slice_bool_and_long_indexing():
    instances = _instances()
    sliced = instances[1:3]
    assert sliced.names == ["b", "c"] and sliced.labels.tolist() == [1, 2]

    mask = torch.tensor([True, False, True, False])
    picked = instances[mask]
    assert picked.names == ["a", "c"]
    assert picked.chars == "wy"
    assert picked.labels.tolist() == [0, 2]
    assert picked.custom.values == [10, 12]
    assert torch.equal(picked.bboxes, instances.bboxes[[0, 2]])

    order = torch.tensor([3, 0])
    reordered = instances[order]
    assert reordered.names == ["d", "a"] and reordered.custom.values == [13, 10]
    assert instances[[3, 0]].names == ["d", "a"]
    assert instances[np.array([1], dtype=np.int32)].names == ["b"]

    empty = instances[torch.zeros(4, dtype=torch.bool)]
    assert len(empty) == 0 and empty.names == [] and empty.chars == ""

    with pytest.raises(AssertionError):
        instances[torch.tensor([True, False])]
    with pytest.raises(AssertionError):
        instances[torch.zeros(2, 2, dtype=torch.long)]


def test_indexing_unsupported_value_type_fails():
    instances = InstanceData(values={1: 1, 2: 2})
    with pytest.raises(ValueError, match="cat"):
        instances[torch.tensor([0])]


def test_cat_concatenates_every_field():
    instances = _instances()
    both = InstanceData.cat([instances, instances[1:2]])
    assert len(both) == 5
    assert both.names == ["a", "b", "c", "d", "b"]
    assert both.chars == "wxyzx"
    assert both.labels.tolist() == [0, 1, 2, 3, 1]
    assert both.custom.values == [10, 11, 12, 13, 11]
    assert both.bboxes.shape == (5, 4)
    assert both.metainfo == instances.metainfo
    assert instances.names == ["a", "b", "c", "d"]
    assert InstanceData.cat([instances]) is instances

    other = InstanceData(bboxes=torch.zeros(1, 4))
    with pytest.raises(AssertionError):
        InstanceData.cat([instances, other])
    with pytest.raises(AssertionError):
        InstanceData.cat([instances, BaseDataElement()])


def test_tensor_like_methods_keep_type_and_length():
    instances = _instances()
    as_numpy = instances.numpy()
    assert isinstance(as_numpy, InstanceData)
    assert isinstance(as_numpy.bboxes, np.ndarray) and len(as_numpy) == 4
