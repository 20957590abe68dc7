"""Worker for tests/test_distributed/test_exact_evaluation.py: validation and test metrics of
several dataset lengths, on this process or under ``torchrun`` (launcher ``pytorch``).

``python evaluate_exactly.py OUT LAUNCHER [BACKEND]`` writes ``OUT/metrics.json`` (rank 0):
``{length: {"val": metrics, "test": metrics}}``. The model is elementwise (no matrix product),
so a sample's scores do not depend on which batch it is in, and metrics can be compared
exactly between 1 and N processes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from torchrig.dist import get_rank
from torchrig.evaluator import BaseMetric
from torchrig.model import BaseModel
from torchrig.runner import Runner

LENGTHS = (1797, 1000, 7, 1)


class Samples(Dataset):
    """``length`` samples: 10 features and a label in 0..9 from a fixed generator."""

    def __init__(self, length: int) -> None:
        generator = torch.Generator().manual_seed(length)
        self.x = torch.randn(length, 10, generator=generator)
        self.y = torch.randint(0, 10, (length,), generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return dict(inputs=self.x[index], labels=self.y[index], index=index)


class Elementwise(BaseModel):
    """Scores ``inputs * weight + bias``; predicts per-sample dicts."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(10, generator=generator))
        self.bias = nn.Parameter(torch.randn(10, generator=generator))

    def forward(self, inputs: Any, labels: Any = None, index: Any = None, mode: str = "tensor"):
        scores = inputs * self.weight + self.bias
        if mode == "loss":
            return dict(loss=scores.sum())
        return [
            dict(index=int(i), scores=s, pred=int(s.argmax()), label=int(y))
            for i, s, y in zip(index, scores.detach(), labels)
        ]


class PerSampleNumbers(BaseMetric):
    """Numbers per sample; also reports the order in which the results arrived."""

    default_prefix = "numbers"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.results.extend((s["index"], s["pred"], s["label"]) for s in data_samples)

    def compute_metrics(self, results: list) -> dict[str, Any]:
        correct = sum(pred == label for _, pred, label in results)
        return dict(
            accuracy=100.0 * correct / len(results),
            count=len(results),
            order=[index for index, _, _ in results],
        )


class PerBatchDicts(BaseMetric):
    """A dict of tensors per batch, as MMEngine's tutorial metric keeps."""

    default_prefix = "batches"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        preds = torch.tensor([s["pred"] for s in data_samples])
        self.results.append(
            dict(batch_size=len(data_samples), correct=(preds == data_batch["labels"]).sum())
        )

    def compute_metrics(self, results: list) -> dict[str, Any]:
        correct = int(sum(item["correct"] for item in results))
        total = sum(item["batch_size"] for item in results)
        return dict(accuracy=100.0 * correct / total, count=total)


class PerSampleTensors(BaseMetric):
    """A score tensor per sample."""

    default_prefix = "tensors"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.results.extend(s["scores"] for s in data_samples)

    def compute_metrics(self, results: list) -> dict[str, Any]:
        scores = torch.stack(results)
        return dict(count=len(results), sum=scores.sum().item(), first=scores[0].tolist())


def evaluators(collect_device: str) -> list[dict[str, Any]]:
    prefixes = ("numbers", "batches", "tensors")
    kinds = (PerSampleNumbers, PerBatchDicts, PerSampleTensors)
    return [
        dict(type=kind, collect_device=collect_device, prefix=f"{prefix}_{collect_device}")
        for kind, prefix in zip(kinds, prefixes)
    ]


def loader(length: int, batch_size: int, shuffle: bool) -> dict[str, Any]:
    return dict(
        dataset=Samples(length),
        sampler=dict(type="DefaultSampler", shuffle=shuffle, seed=5),
        batch_size=batch_size,
        collate_fn=dict(type="default_collate"),
    )


def evaluate(
    out: str, launcher: str, backend: str = "gloo", lengths: tuple[int, ...] = LENGTHS
) -> dict[int, dict[str, Any]]:
    """Every length's validation and test metrics (cpu and gpu collection)."""
    report: dict[int, dict[str, Any]] = {}
    for length in lengths:
        runner = Runner(
            model=Elementwise(),
            work_dir=f"{out}/work_{length}",
            val_dataloader=loader(length, 64, shuffle=True),
            val_cfg=dict(),
            val_evaluator=evaluators("cpu") + evaluators("gpu"),
            test_dataloader=loader(length, 5, shuffle=False),
            test_cfg=dict(),
            test_evaluator=evaluators("cpu") + evaluators("gpu"),
            launcher=launcher,
            env_cfg=dict(dist_cfg=dict(backend=backend, timeout=60)),
            default_hooks=dict(logger=None),
        )
        try:
            report[length] = dict(val=runner.val(), test=runner.test())
        finally:
            runner.visualizer.close()
    return report


def average_losses(out: str) -> None:
    """The loops' loss averaging across ranks: rank r had r + 1 batches of loss r + 1, except
    the last rank, which had none (as a rank whose only batch was padding)."""
    from torchrig.dist import get_world_size
    from torchrig.runner.loops import _average_losses

    rank, world_size = get_rank(), get_world_size()
    losses = {} if rank == world_size - 1 else {"loss": [torch.tensor(rank + 1.0)] * (rank + 1)}
    averages = _average_losses(losses, "val")
    Path(out, f"losses_rank{rank}.json").write_text(json.dumps(averages))


def main() -> None:
    out, launcher = sys.argv[1], sys.argv[2]
    report = evaluate(out, launcher, *sys.argv[3:4])
    if get_rank() == 0:
        Path(out, "metrics.json").write_text(json.dumps(report))
    average_losses(out)


if __name__ == "__main__":
    main()
