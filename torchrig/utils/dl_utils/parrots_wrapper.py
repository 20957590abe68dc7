"""torch's private base classes under MMEngine's names (``mmengine.utils.dl_utils.parrots_wrapper``).

MMEngine picks these from torch or from SenseTime's parrots; torchrig runs on torch only, so
``TORCH_VERSION`` is never ``'parrots'``. Downstream code subclasses and ``isinstance``-checks
``_BatchNorm``, ``_ConvNd`` and friends from here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.modules.batchnorm import SyncBatchNorm as SyncBatchNorm_
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeMixin
from torch.nn.modules.instancenorm import _InstanceNorm
from torch.nn.modules.pooling import (
    _AdaptiveAvgPoolNd,
    _AdaptiveMaxPoolNd,
    _AvgPoolNd,
    _MaxPoolNd,
)
from torch.utils.data import DataLoader

__all__ = ["SyncBatchNorm", "get_build_config", "is_rocm_pytorch"]

TORCH_VERSION = torch.__version__

# parrots had a pooled loader; torch's DataLoader is the same thing here.
PoolDataLoader = DataLoader


def is_rocm_pytorch() -> bool:
    """Whether this torch was built for AMD GPUs (ROCm/HIP)."""
    return getattr(torch.version, "hip", None) is not None


def _get_cuda_home() -> str | None:
    from torch.utils.cpp_extension import CUDA_HOME, ROCM_HOME

    return ROCM_HOME if is_rocm_pytorch() else CUDA_HOME


def get_build_config() -> str:
    """How this torch was built (``torch.__config__.show()``)."""
    return torch.__config__.show()


def __getattr__(name: str) -> Any:
    # torch.utils.cpp_extension is slow to import and rarely needed: load it on first use.
    if name == "CUDA_HOME":
        return _get_cuda_home()
    if name in ("BuildExtension", "CppExtension", "CUDAExtension"):
        from torch.utils import cpp_extension

        return getattr(cpp_extension, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SyncBatchNorm(SyncBatchNorm_):
    """torch's ``SyncBatchNorm`` (MMEngine's parrots-aware subclass, here with nothing to add)."""


_ = (
    _AdaptiveAvgPoolNd,
    _AdaptiveMaxPoolNd,
    _AvgPoolNd,
    _BatchNorm,
    _ConvNd,
    _ConvTransposeMixin,
    _InstanceNorm,
    _MaxPoolNd,
)  # re-exported for downstream code that imports them from here
