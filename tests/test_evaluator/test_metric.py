from __future__ import annotations

import pickle

import pytest
import torch

from torchrig.evaluator import BaseMetric, DumpResults, Evaluator
from torchrig.registry import METRICS


def test_dump_results_writes_a_pickle(tmp_path):
    out = tmp_path / "results.pkl"
    evaluator = Evaluator(dict(type="DumpResults", out_file_path=str(out)))
    assert isinstance(evaluator.metrics[0], DumpResults)
    evaluator.process([{"pred": torch.tensor([1.0])}, {"pred": torch.tensor([2.0])}])
    assert evaluator.evaluate(2) == {}
    with open(out, "rb") as f:
        results = pickle.load(f)
    assert [r["pred"].item() for r in results] == [1.0, 2.0]


def test_dump_results_needs_a_pickle_path():
    with pytest.raises(ValueError, match=".pkl"):
        DumpResults("out.json")


def test_collect_dir_requires_cpu_collection():
    class M(BaseMetric):
        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    with pytest.raises(ValueError, match="collect_device='cpu'"):
        M(collect_device="gpu", collect_dir="/tmp/x")
    metric = M(prefix="p")
    assert metric.prefix == "p" and metric.collect_device == "cpu"
    assert metric.evaluate(0) == {}


def test_registry_finds_dump_results():
    assert METRICS.get("DumpResults") is DumpResults
