from __future__ import annotations

from collections import namedtuple

import pytest
import torch

from torchrig.model import BaseDataPreprocessor, ImgDataPreprocessor
from torchrig.structures import BaseDataElement

Pair = namedtuple("Pair", ["a", "b"])


def test_cast_data_walks_containers_to_the_device():
    pre = BaseDataPreprocessor().to("meta")
    assert pre.device == torch.device("meta")
    element = BaseDataElement(mask=torch.ones(2))
    data = {
        "inputs": [torch.ones(2), (torch.zeros(1), "name")],
        "pair": Pair(torch.ones(1), None),
        "data_samples": [element],
        "meta": {"id": 3, "path": b"x"},
    }
    out = pre(data)
    assert out["inputs"][0].device.type == "meta"
    assert isinstance(out["inputs"][1], tuple) and out["inputs"][1][1] == "name"
    assert isinstance(out["pair"], Pair) and out["pair"].a.device.type == "meta"
    assert out["pair"].b is None
    assert out["data_samples"][0].mask.device.type == "meta"
    assert out["meta"] == {"id": 3, "path": b"x"}


def test_img_preprocessor_normalises_after_bgr_to_rgb():
    pre = ImgDataPreprocessor(mean=[10.0, 20.0, 30.0], std=[1.0, 2.0, 5.0], bgr_to_rgb=True)
    image = torch.stack([torch.full((2, 2), v) for v in (30.0, 40.0, 10.0)]).to(torch.uint8)
    out = pre({"inputs": [image]})
    assert out["inputs"].dtype == torch.float32
    assert out["inputs"].shape == (1, 3, 2, 2)
    # Flipped to (10, 40, 30), then ((10-10)/1, (40-20)/2, (30-30)/5).
    assert out["inputs"][0, :, 0, 0].tolist() == [0.0, 10.0, 0.0]
    assert out["data_samples"] is None
    batched = pre({"inputs": image[None], "data_samples": ["s"]})
    assert torch.equal(batched["inputs"], out["inputs"])
    assert batched["data_samples"] == ["s"]


def test_img_preprocessor_pads_to_divisor():
    pre = ImgDataPreprocessor(pad_size_divisor=4, pad_value=-1)
    images = [torch.ones(1, 3, 5), torch.ones(1, 6, 2)]
    out = pre({"inputs": images})["inputs"]
    assert out.shape == (2, 1, 8, 8)
    assert torch.all(out[0, :, :3, :5] == 1) and torch.all(out[0, :, 3:, :] == -1)
    assert torch.all(out[1, :, :6, :2] == 1) and torch.all(out[1, :, :, 2:] == -1)
    batch = pre({"inputs": torch.ones(2, 1, 5, 4)})["inputs"]
    assert batch.shape == (2, 1, 8, 4) and torch.all(batch[:, :, 5:] == -1)


def test_img_preprocessor_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ImgDataPreprocessor(bgr_to_rgb=True, rgb_to_bgr=True)
    with pytest.raises(ValueError):
        ImgDataPreprocessor(mean=[1.0])
    with pytest.raises(ValueError):
        ImgDataPreprocessor(mean=[1.0, 2.0], std=[1.0, 2.0])
    pre = ImgDataPreprocessor(mean=[0, 0, 0], std=[1, 1, 1])
    with pytest.raises(ValueError, match="3-channel"):
        pre({"inputs": [torch.ones(1, 2, 2)]})
    with pytest.raises(ValueError, match="N, C, H, W"):
        pre({"inputs": torch.ones(3, 2, 2)})
    with pytest.raises(TypeError):
        pre({"inputs": "image"})


def test_cpu_batch_comes_back_as_a_new_dict_of_the_same_tensors():
    preprocessor = BaseDataPreprocessor()
    batch = {"inputs": torch.ones(2), "data_samples": torch.zeros(2)}
    out = preprocessor(batch, True)
    assert out == batch and out is not batch
    assert all(out[key] is batch[key] for key in batch)
    nested = {"inputs": torch.ones(2), "meta": [torch.zeros(1)]}
    assert preprocessor(nested)["meta"][0] is not None
