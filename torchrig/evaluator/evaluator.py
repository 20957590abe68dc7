"""Evaluator: runs one or several metrics over a model's predictions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from torchrig.evaluator.metric import BaseMetric
from torchrig.registry import EVALUATOR, METRICS

__all__ = ["Evaluator"]


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while True:
        chunk = [item for _, item in zip(range(size), items)]
        if not chunk:
            return
        yield chunk


@EVALUATOR.register_module()
class Evaluator:
    """Feeds predictions to its metrics and merges their results.

    Args:
        metrics: A metric or its config dict, or a list of them.
    """

    def __init__(self, metrics: dict | BaseMetric | Sequence[dict | BaseMetric]) -> None:
        self._dataset_meta: dict | None = None
        if isinstance(metrics, (dict, BaseMetric)) or not isinstance(metrics, Sequence):
            metrics = [metrics]
        self.metrics: list[BaseMetric] = [
            METRICS.build(metric) if isinstance(metric, dict) else metric for metric in metrics
        ]

    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the evaluated dataset, shared with every metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_samples: Sequence[Any], data_batch: Any = None) -> None:
        """Hand one batch of predictions to every metric.

        Args:
            data_samples: The model's outputs; data elements are turned into dicts.
            data_batch: The batch they were predicted from.
        """
        samples = [
            sample.to_dict() if callable(getattr(sample, "to_dict", None)) else sample
            for sample in data_samples
        ]
        for metric in self.metrics:
            metric.process(data_batch, samples)

    def evaluate(self, size: int) -> dict[str, Any]:
        """Every metric's results, merged.

        Args:
            size: The dataset's length.

        Raises:
            ValueError: Two metrics produced the same name (give them different prefixes).
        """
        merged: dict[str, Any] = {}
        for metric in self.metrics:
            results = metric.evaluate(size)
            clashes = sorted(set(results) & set(merged))
            if clashes:
                raise ValueError(
                    f"There are multiple evaluation results with the same metric name "
                    f"{clashes} ({type(metric).__name__}). Please make sure all metrics have "
                    "different prefixes."
                )
            merged.update(results)
        return merged

    def offline_evaluate(
        self, data_samples: Sequence, data: Sequence | None = None, chunk_size: int = 1
    ) -> dict[str, Any]:
        """Evaluate predictions computed earlier (e.g. loaded from a ``DumpResults`` file).

        Args:
            data_samples: All predictions.
            data: The inputs they belong to, one per prediction (collated with
                ``pseudo_collate`` per chunk), or None.
            chunk_size: How many predictions to process at once.

        Returns:
            The metrics.
        """
        if data is not None and len(data_samples) != len(data):
            raise ValueError(
                "offline_evaluate: data_samples and data must have the same length, got "
                f"{len(data_samples)} and {len(data)}"
            )
        data_chunks: Iterable[Any] | None = None
        if data is not None:
            from torchrig.dataset.utils import pseudo_collate

            data_chunks = (pseudo_collate(chunk) for chunk in _chunks(iter(data), chunk_size))
        data_iter = iter(data_chunks) if data_chunks is not None else None
        size = 0
        for chunk in _chunks(iter(data_samples), chunk_size):
            size += len(chunk)
            self.process(chunk, next(data_iter) if data_iter is not None else None)
        return self.evaluate(size)
