from __future__ import annotations

import pytest
import torch

from torchrig.evaluator import BaseMetric, Evaluator, get_metric_value
from torchrig.registry import METRICS
from torchrig.structures import BaseDataElement


class Accuracy(BaseMetric):
    default_prefix = "acc"

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            self.results.append(int(sample["pred"] == sample["gt"]))

    def compute_metrics(self, results):
        return {"top1": sum(results) / len(results)}


class Count(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))
        self.batches = getattr(self, "batches", []) + [data_batch]

    def compute_metrics(self, results):
        return {"n": sum(results), "classes": self.dataset_meta["classes"]}


@pytest.fixture(scope="module", autouse=True)
def _registered():
    METRICS.register_module("TestAccuracyMetric", module=Accuracy, force=True)
    yield
    METRICS._module_dict.pop("TestAccuracyMetric", None)


def _samples(preds, gts):
    return [BaseDataElement(pred=p, gt=g) for p, g in zip(preds, gts)]


def test_two_metrics_with_prefixes():
    evaluator = Evaluator([dict(type="TestAccuracyMetric"), Count(prefix="count")])
    evaluator.dataset_meta = {"classes": ["a", "b"]}
    assert evaluator.metrics[1].dataset_meta == {"classes": ["a", "b"]}
    evaluator.process(_samples([1, 0], [1, 1]), data_batch={"inputs": 1})
    evaluator.process(_samples([1, 1], [1, 1]), data_batch={"inputs": 2})
    metrics = evaluator.evaluate(4)
    assert metrics == {"acc/top1": 0.75, "count/n": 4, "count/classes": ["a", "b"]}
    assert evaluator.metrics[1].batches == [{"inputs": 1}, {"inputs": 2}]
    # Results are cleared for the next evaluation.
    assert evaluator.metrics[0].results == []


def test_single_metric_object_or_dict():
    assert isinstance(Evaluator(Accuracy()).metrics[0], Accuracy)
    assert isinstance(Evaluator(dict(type="TestAccuracyMetric")).metrics[0], Accuracy)


def test_clashing_names_are_rejected():
    evaluator = Evaluator([Accuracy(), Accuracy()])
    evaluator.process(_samples([1], [1]))
    with pytest.raises(ValueError, match="different prefixes"):
        evaluator.evaluate(1)


def test_results_beyond_size_are_cut_off():
    evaluator = Evaluator(Accuracy())
    evaluator.process(_samples([1, 1, 0], [1, 1, 1]))
    # The third result is padding a sampler added (size 2).
    assert evaluator.evaluate(2) == {"acc/top1": 1.0}


def test_tensors_reach_compute_metrics_on_cpu():
    seen = []

    class Capture(Accuracy):
        def compute_metrics(self, results):
            seen.extend(results)
            return {}

    metric = Capture()
    metric.results.append(torch.ones(2))
    metric.evaluate(1)
    assert seen[0].device.type == "cpu"


def test_offline_evaluate_in_chunks():
    evaluator = Evaluator([Accuracy(), Count(prefix="count")])
    evaluator.dataset_meta = {"classes": []}
    samples = [dict(pred=i % 2, gt=1) for i in range(5)]
    data = [dict(inputs=torch.tensor([i])) for i in range(5)]
    metrics = evaluator.offline_evaluate(samples, data, chunk_size=2)
    assert metrics["acc/top1"] == pytest.approx(2 / 5)
    assert metrics["count/n"] == 5
    batches = evaluator.metrics[1].batches
    assert len(batches) == 3  # chunks of 2, 2, 1, collated
    assert len(batches[0]["inputs"]) == 2
    with pytest.raises(ValueError, match="same length"):
        evaluator.offline_evaluate(samples, data[:2])
    assert Evaluator(Accuracy()).offline_evaluate(samples) == {"acc/top1": pytest.approx(0.4)}


def test_get_metric_value():
    metrics = {"acc/top1": 0.5, "coco/top1": 0.7, "loss": 1.0}
    assert get_metric_value("acc/top1", metrics) == 0.5
    assert get_metric_value("loss", metrics) == 1.0
    with pytest.raises(ValueError, match="ambiguous"):
        get_metric_value("top1", metrics)
    with pytest.raises(ValueError, match="matches no metric"):
        get_metric_value("top5", metrics)
