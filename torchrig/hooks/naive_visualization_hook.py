"""NaiveVisualizationHook: sends test images with their predictions to the visualizer."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.hooks.logger_hook import _completed_train_iters
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    import numpy as np

    from torchrig.runner import Runner

__all__ = ["NaiveVisualizationHook"]


def _meta(sample: Any, key: str, default: Any = None) -> Any:
    if sample is None:
        return default
    if isinstance(sample, dict):
        return sample.get(key, default)
    getter = getattr(sample, "get", None)
    if callable(getter):
        return getter(key, default)
    return getattr(sample, key, default)


def _to_image(inputs: Any, sample: Any) -> np.ndarray:
    """A CHW tensor (normalized as ``img_norm_cfg`` says) as an HWC uint8 image at the
    sample's original size, padding removed."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    image = torch.as_tensor(inputs).detach().cpu().float()
    if image.dim() == 2:
        image = image[None]
    norm = _meta(sample, "img_norm_cfg") or {}
    mean = torch.as_tensor(norm.get("mean", (0.0,) * image.shape[0]), dtype=torch.float32)
    std = torch.as_tensor(norm.get("std", (1.0,) * image.shape[0]), dtype=torch.float32)
    image = image * std.view(-1, 1, 1) + mean.view(-1, 1, 1)
    if norm.get("to_rgb", False):
        image = image.flip(0)
    img_shape = _meta(sample, "img_shape")
    if img_shape is not None and _meta(sample, "pad_shape") is not None:
        image = image[:, : int(img_shape[0]), : int(img_shape[1])]
    ori_shape = _meta(sample, "ori_shape")
    if ori_shape is not None and tuple(image.shape[1:]) != tuple(ori_shape[:2]):
        size = (int(ori_shape[0]), int(ori_shape[1]))
        image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    image = image.clamp(0, 255).round().to(torch.uint8)
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())


def _pairs(data_batch: DATA_BATCH, outputs: Sequence[Any]) -> list[tuple[Any, Any, Any]]:
    """``(inputs, data_sample, output)`` per sample, from a dict batch
    (``{'inputs': [...], 'data_samples': [...]}``) or a list of per-sample dicts."""
    if isinstance(data_batch, dict):
        inputs = data_batch.get("inputs")
        samples = data_batch.get("data_samples") or [None] * len(outputs)
        return list(zip(inputs, samples, outputs))
    triples = []
    for item, output in zip(data_batch or [], outputs):
        sample = item.get("data_samples", item.get("data_sample"))
        triples.append((item["inputs"], sample, output))
    return triples


@HOOKS.register_module()
class NaiveVisualizationHook(Hook):
    """After every ``interval`` test iterations, draws each input image with its ground truth
    and prediction through ``runner.visualizer.add_datasample``.

    Args:
        interval: Visualize every this many test iterations.
        draw_gt: Draw the ground truth.
        draw_pred: Draw the prediction.
    """

    priority = "NORMAL"

    def __init__(self, interval: int = 1, draw_gt: bool = True, draw_pred: bool = True) -> None:
        self._interval = interval
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred

    def after_test_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Sequence[Any] | None = None,
    ) -> None:
        if not self.every_n_inner_iters(batch_idx, self._interval) or outputs is None:
            return
        # Images share the scalars' x-axis: iterations of training completed so far.
        _, step = _completed_train_iters(runner)
        for index, (inputs, sample, output) in enumerate(_pairs(data_batch, outputs)):
            meta_source = output if _meta(output, "ori_shape") is not None else sample
            image = _to_image(inputs, meta_source)
            img_path = _meta(meta_source, "img_path")
            name = osp.basename(img_path) if img_path else f"test_{batch_idx}_{index}"
            runner.visualizer.add_datasample(
                name,
                image,
                data_sample=output if output is not None else sample,
                draw_gt=self.draw_gt,
                draw_pred=self.draw_pred,
                step=step,
            )
