from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from torchrig.structures import BaseDataElement


class DetDataSample(BaseDataElement):
    """A data sample with a typed property field, as downstream libraries write them."""

    @property
    def proposals(self) -> BaseDataElement:
        return self._proposals

    @proposals.setter
    def proposals(self, value: BaseDataElement) -> None:
        self.set_field(value, "_proposals", dtype=BaseDataElement)

    @proposals.deleter
    def proposals(self) -> None:
        del self._proposals


def _element() -> BaseDataElement:
    return BaseDataElement(
        metainfo=dict(img_id=3, img_shape=(8, 6)),
        bboxes=torch.rand(2, 4),
        scores=np.array([0.5, 0.25]),
        name="cat",
    )


def test_metainfo_and_data_fields_are_kept_apart():
    element = _element()
    assert sorted(element.metainfo_keys()) == ["img_id", "img_shape"]
    assert sorted(element.keys()) == ["bboxes", "name", "scores"]
    assert sorted(element.all_keys()) == sorted(element.metainfo_keys() + element.keys())
    assert element.metainfo == dict(img_id=3, img_shape=(8, 6))
    assert dict(element.items())["name"] == "cat"
    assert "img_id" in element and "bboxes" in element and "missing" not in element
    assert element.get("missing", 7) == 7

    with pytest.raises(AttributeError, match="already a metainfo field"):
        element.img_id = 4
    with pytest.raises(AttributeError, match="already a data field"):
        element.set_metainfo(dict(bboxes=1))
    with pytest.raises(AttributeError, match="private attribute"):
        element._data_fields = set()
    with pytest.raises(AttributeError, match="private attribute"):
        del element._metainfo_fields


def test_set_metainfo_deep_copies():
    meta = dict(classes=["a", "b"])
    element = BaseDataElement(metainfo=meta)
    meta["classes"].append("c")
    assert element.classes == ["a", "b"]


def test_pop_delete_and_update():
    element = _element()
    assert element.pop("name") == "cat"
    assert "name" not in element.keys()
    assert element.pop("name", None) is None
    with pytest.raises(KeyError):
        element.pop("name")
    del element.img_id
    assert element.metainfo_keys() == ["img_shape"]

    other = BaseDataElement(metainfo=dict(flip=True), labels=torch.tensor([1]))
    element.update(other)
    assert element.flip is True and torch.equal(element.labels, torch.tensor([1]))


def test_new_and_clone():
    element = _element()
    clone = element.clone()
    assert clone is not element and clone.metainfo == element.metainfo
    assert clone.bboxes is element.bboxes

    new = element.new(metainfo=dict(img_id=9), labels=torch.zeros(2))
    assert new.metainfo == dict(img_id=9)
    assert new.keys() == ["labels"]
    same = element.new()
    assert sorted(same.keys()) == sorted(element.keys())
    assert type(DetDataSample().new()) is DetDataSample


def test_property_fields_hide_their_private_twin():
    sample = DetDataSample()
    sample.proposals = BaseDataElement(bboxes=torch.zeros(1, 4))
    assert sample.keys() == ["proposals"]
    assert isinstance(sample.proposals, BaseDataElement)
    with pytest.raises(AssertionError):
        sample.proposals = torch.zeros(1)
    assert sample.values()[0] is sample._proposals


def test_tensor_like_methods_convert_data_not_metainfo():
    element = BaseDataElement(
        metainfo=dict(shape=(2,)),
        tensor=torch.ones(2, requires_grad=True) * 2,
        array=np.arange(3),
        nested=BaseDataElement(inner=torch.zeros(1)),
        text="x",
    )
    as_numpy = element.numpy()
    assert isinstance(as_numpy.tensor, np.ndarray)
    assert isinstance(as_numpy.nested.inner, np.ndarray)
    assert as_numpy.text == "x" and as_numpy.metainfo == dict(shape=(2,))

    as_tensor = element.to_tensor()
    assert isinstance(as_tensor.array, torch.Tensor)
    assert torch.equal(as_tensor.array, torch.arange(3))

    detached = element.detach()
    assert not detached.tensor.requires_grad and element.tensor.requires_grad

    moved = element.to(torch.float64)
    assert moved.tensor.dtype == torch.float64
    assert moved.nested.inner.dtype == torch.float64
    assert element.tensor.dtype == torch.float32

    assert element.cpu().tensor.device.type == "cpu"
    assert element.to_dict()["nested"] == {"inner": element.nested.inner}
    assert element.to_dict()["shape"] == (2,)


def test_repr_lists_metainfo_then_data_and_nests():
    element = BaseDataElement(
        metainfo=dict(img_shape=(4, 4)), gt=BaseDataElement(labels=torch.tensor([1]))
    )
    text = repr(element)
    assert text.startswith("<BaseDataElement(\n\n    META INFORMATION\n    img_shape: (4, 4)\n")
    assert "\n\n    DATA FIELDS\n    gt: <BaseDataElement(" in text
    assert "\n            labels: tensor([1])" in text
    assert text.endswith(f") at {hex(id(element))}>")


def test_pickle_and_deepcopy_roundtrip():
    element = _element()
    for copied in (pickle.loads(pickle.dumps(element)), copy.deepcopy(element)):
        assert copied.metainfo == element.metainfo
        assert torch.equal(copied.bboxes, element.bboxes)
        copied.extra = 1
        assert "extra" in copied.keys() and "extra" not in element
