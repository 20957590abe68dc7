"""BaseMetric, the base of every metric, and DumpResults."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any

from torchrig.registry import METRICS

__all__ = ["BaseMetric", "DumpResults"]


def _to_cpu(data: Any) -> Any:
    """``data`` with every tensor and data element moved to the CPU."""
    import torch

    from torchrig.structures import BaseDataElement

    if isinstance(data, (torch.Tensor, BaseDataElement)):
        return data.to("cpu")
    if isinstance(data, list):
        return [_to_cpu(item) for item in data]
    if isinstance(data, tuple):
        return tuple(_to_cpu(item) for item in data)
    if isinstance(data, dict):
        return {key: _to_cpu(value) for key, value in data.items()}
    return data


class BaseMetric(metaclass=ABCMeta):
    """Base class of metrics: accumulate per-batch results, reduce them at the end.

    Subclasses implement :meth:`process` (append what each batch contributes to
    ``self.results``) and :meth:`compute_metrics` (results of the whole dataset -> a dict of
    metrics). :meth:`evaluate` gathers the results of every rank, computes on rank 0 and
    shares the metrics with every rank, their keys prefixed ``'<prefix>/<name>'``.

    Args:
        collect_device: ``'cpu'`` (through CPU memory) or ``'gpu'`` (through the GPU's
            collectives), how results are gathered across ranks.
        prefix: Prefix of the metric names; ``default_prefix`` of the class if None.
        collect_dir: For ``collect_device='cpu'``, a directory shared by every rank to pass
            the results through files (MMEngine's way); None sends them over the network.
    """

    default_prefix: str | None = None

    def __init__(
        self,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        if collect_dir is not None and collect_device != "cpu":
            raise ValueError(
                f"{type(self).__name__}: collect_dir works only with collect_device='cpu', "
                f"got collect_device={collect_device!r}"
            )
        self._dataset_meta: dict | None = None
        self.collect_device = collect_device
        self.results: list[Any] = []
        self.prefix = prefix or self.default_prefix
        self.collect_dir = collect_dir
        if self.prefix is None:
            from torchrig.logging import print_log

            print_log(
                f"The prefix is not set in metric class {type(self).__name__}.",
                logger="current",
                level=logging.WARNING,
            )

    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the evaluated dataset (e.g. class names)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta

    @abstractmethod
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Add what one batch contributes to ``self.results``.

        Args:
            data_batch: The batch from the dataloader.
            data_samples: The model's outputs for the batch (as dicts).
        """

    @abstractmethod
    def compute_metrics(self, results: list) -> dict[str, Any]:
        """Metrics of the whole dataset from the collected ``results``."""

    def evaluate(self, size: int) -> dict[str, Any]:
        """Gather the results of every rank, compute the metrics, clear the results.

        Args:
            size: The dataset's length (results that samplers padded in are dropped).

        Returns:
            The metrics, keys prefixed with ``'<prefix>/'``, on every rank.
        """
        from torchrig.dist import broadcast_object_list, collect_results, is_main_process

        if not self.results:
            from torchrig.logging import print_log

            print_log(
                f"{type(self).__name__} got empty `self.results`. Please ensure that the "
                "processed results are properly added into `self.results` in `process`.",
                logger="current",
                level=logging.WARNING,
            )
        if self.collect_device == "cpu":
            results = collect_results(self.results, size, "cpu", tmpdir=self.collect_dir)
        else:
            results = collect_results(self.results, size, self.collect_device)
        if is_main_process():
            metrics = self.compute_metrics(_to_cpu(results))
            if self.prefix:
                metrics = {f"{self.prefix}/{name}": value for name, value in metrics.items()}
            shared: list[Any] = [metrics]
        else:
            shared = [None]
        broadcast_object_list(shared)
        self.results.clear()
        return shared[0]


@METRICS.register_module()
class DumpResults(BaseMetric):
    """Writes the model's predictions to a pickle file instead of computing metrics.

    Args:
        out_file_path: The ``.pkl``/``.pickle`` file to write.
        collect_device: See :class:`BaseMetric`.
        collect_dir: See :class:`BaseMetric`.
    """

    def __init__(
        self,
        out_file_path: str,
        collect_device: str = "cpu",
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix="dump", collect_dir=collect_dir)
        if not str(out_file_path).endswith((".pkl", ".pickle")):
            raise ValueError(
                f"DumpResults: out_file_path must end in .pkl or .pickle, got {out_file_path!r}"
            )
        self.out_file_path = str(out_file_path)

    def process(self, data_batch: Any, predictions: Sequence[dict]) -> None:
        """Keep the predictions (on the CPU)."""
        self.results.extend(_to_cpu(list(predictions)))

    def compute_metrics(self, results: list) -> dict[str, Any]:
        """Write ``results`` to ``out_file_path``; no metrics."""
        from torchrig.fileio import dump
        from torchrig.logging import print_log

        dump(results, self.out_file_path)
        print_log(f"Results has been saved to {self.out_file_path}.", logger="current")
        return {}
