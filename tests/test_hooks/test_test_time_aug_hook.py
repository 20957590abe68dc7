"""PrepareTTAHook / build_runner_with_tta: a real Runner tests through the TTA model."""

from __future__ import annotations

import pytest
import torch

from torchrig.dataset import BaseDataset
from torchrig.evaluator import BaseMetric
from torchrig.hooks import PrepareTTAHook
from torchrig.hooks.test_time_aug_hook import build_runner_with_tta
from torchrig.model import BaseModel, BaseTTAModel
from torchrig.registry import DATASETS, METRICS, MODELS, TRANSFORMS


class TenTimes(BaseModel):
    """Predicts 10 * x for each sample."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        return [float(x) * 10 for x in inputs]


class MeanOfAugs(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return [sum(preds) / len(preds) for preds in data_samples_list]


class Numbers(BaseDataset):
    def load_data_list(self):
        return [{"x": float(i)} for i in range(1, 5)]


class PackOne:
    def __call__(self, results):
        return {"inputs": torch.tensor(results["x"]), "data_samples": 0}


class ScaleAug:
    """Two augmentations of each sample: x and 3x."""

    def __call__(self, results):
        x = torch.tensor(results["x"])
        return {"inputs": [x, 3 * x], "data_samples": [0, 0]}


class SumOfPredictions(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return {"sum": float(sum(results))}


@pytest.fixture
def registered():
    entries = [
        (MODELS, TenTimes), (MODELS, MeanOfAugs), (DATASETS, Numbers),
        (TRANSFORMS, PackOne), (TRANSFORMS, ScaleAug), (METRICS, SumOfPredictions),
    ]  # fmt: skip
    for registry, cls in entries:
        registry.register_module(module=cls, force=True)
    yield
    for registry, cls in entries:
        registry.module_dict.pop(cls.__name__, None)


def _cfg(tmp_path):
    return dict(
        work_dir=str(tmp_path),
        model=dict(type="TenTimes"),
        test_dataloader=dict(
            batch_size=2,
            dataset=dict(type="Numbers", pipeline=[dict(type="PackOne")]),
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="pseudo_collate"),
        ),
        test_cfg=dict(),
        test_evaluator=dict(type="SumOfPredictions"),
        tta_model=dict(type="MeanOfAugs"),
        tta_pipeline=[dict(type="ScaleAug")],
        default_hooks=dict(progress=None),
    )


def test_build_runner_with_tta_tests_the_merged_predictions(registered, tmp_path):
    runner = build_runner_with_tta(_cfg(tmp_path))
    try:
        metrics = runner.test()
    finally:
        runner.visualizer.close()
    # Each x gives 10x and 30x, merged to 20x: 20 * (1 + 2 + 3 + 4).
    assert metrics["sum"] == pytest.approx(200.0)
    assert isinstance(runner.model, MeanOfAugs) and isinstance(runner.model.module, TenTimes)


def test_missing_tta_keys_are_named(registered, tmp_path):
    cfg = _cfg(tmp_path)
    del cfg["tta_pipeline"]
    with pytest.raises(KeyError, match="tta_pipeline"):
        build_runner_with_tta(cfg)
    with pytest.raises(TypeError, match="tta_cfg must be a dict"):
        PrepareTTAHook("MeanOfAugs")
