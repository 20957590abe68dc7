from __future__ import annotations

import pytest
import torch

from torchrig.model import BaseModel, BaseTTAModel
from torchrig.registry import MODELS


class EchoModel(BaseModel):
    """Predicts its input times 10 plus the sample's offset."""

    def forward(self, inputs, data_samples=None, mode="tensor"):
        return [x * 10 + s for x, s in zip(inputs.tolist(), data_samples)]


class MeanTTA(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return [sum(preds) / len(preds) for preds in data_samples_list]


def test_test_step_splits_augmentations_and_merges_per_sample():
    tta = MeanTTA(EchoModel())
    # 2 augmentations of a batch of 2 samples.
    data = {
        "inputs": [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])],
        "data_samples": [[0, 1], [0, 1]],
    }
    # Sample 0: (10 + 0, 30 + 0) -> 20; sample 1: (20 + 1, 40 + 1) -> 31.
    assert tta.test_step(data) == [20.0, 31.0]
    as_tuple = (data["inputs"], data["data_samples"])
    assert tta.test_step(as_tuple) == [20.0, 31.0]
    with pytest.raises(TypeError):
        tta.test_step(torch.ones(2))
    with pytest.raises(NotImplementedError):
        tta(torch.ones(1))


def test_module_built_from_config_with_data_preprocessor():
    MODELS.register_module(module=EchoModel, force=True)
    try:
        tta = MeanTTA(
            dict(type="EchoModel"),
            data_preprocessor=dict(type="ImgDataPreprocessor", mean=[0.0], std=[1.0]),
        )
    finally:
        MODELS.module_dict.pop("EchoModel")
    assert type(tta.module.data_preprocessor).__name__ == "ImgDataPreprocessor"
    with pytest.raises(TypeError):
        MeanTTA("EchoModel")
