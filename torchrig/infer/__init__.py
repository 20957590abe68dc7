"""Inference on raw inputs: :class:`BaseInferencer`, the base of OpenMMLab's inferencers."""

from __future__ import annotations

from torchrig.infer.infer import BaseInferencer

__all__ = ["BaseInferencer"]
