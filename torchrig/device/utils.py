"""Which accelerator this machine has (MMEngine's ``mmengine.device.utils``).

CUDA and Apple's MPS are asked of torch itself. Ascend NPU, Cambricon MLU, Moore Threads MUSA
and DIPU need their vendor's torch extension (``torch_npu``, ``torch_mlu``, ``torch_musa``,
``torch_dipu``); without it they are reported unavailable, and what needs them raises.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = [
    "get_device",
    "get_max_cuda_memory",
    "get_max_musa_memory",
    "is_cuda_available",
    "is_dipu_available",
    "is_mlu_available",
    "is_mps_available",
    "is_musa_available",
    "is_npu_available",
    "is_npu_support_full_precision",
]


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def is_cuda_available() -> bool:
    """Whether a CUDA GPU is usable."""
    import torch

    return torch.cuda.is_available()


def is_npu_available() -> bool:
    """Whether an Ascend NPU is usable (needs ``torch_npu``)."""
    if not _has_module("torch_npu"):
        return False
    import torch
    import torch_npu  # noqa: F401 - registers torch.npu

    return hasattr(torch, "npu") and torch.npu.is_available()


def is_mlu_available() -> bool:
    """Whether a Cambricon MLU is usable (needs ``torch_mlu``)."""
    import torch

    return hasattr(torch, "is_mlu_available") and bool(torch.is_mlu_available())


def is_mps_available() -> bool:
    """Whether Apple's Metal (MPS) backend is usable."""
    import torch

    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def is_musa_available() -> bool:
    """Whether a Moore Threads MUSA GPU is usable (needs ``torch_musa``)."""
    if not _has_module("torch_musa"):
        return False
    import torch
    import torch_musa  # noqa: F401 - registers torch.musa

    return hasattr(torch, "musa") and torch.musa.is_available()


def is_dipu_available() -> bool:
    """Whether DIPU is usable (needs ``torch_dipu``)."""
    return _has_module("torch_dipu")


def is_npu_support_full_precision() -> bool:
    """Whether the NPU here computes in full precision (Ascend 910B and later); False
    without an NPU."""
    if not is_npu_available():
        return False
    import torch_npu

    version_of_support_full_precision = 220
    return torch_npu.npu.utils.get_soc_version() >= version_of_support_full_precision


def get_max_cuda_memory(device: Any = None) -> int:
    """The most GPU memory tensors have held on ``device`` since the last call, in MiB.

    Resets the peak statistic, so the next call measures from now.

    Raises:
        RuntimeError: When no CUDA GPU is usable.
    """
    if not is_cuda_available():
        raise RuntimeError(
            "get_max_cuda_memory needs a CUDA GPU; torch.cuda.is_available() is False"
        )
    import torch

    peak = torch.cuda.max_memory_allocated(device=device)
    torch.cuda.reset_peak_memory_stats(device=device)
    return int(peak // (1024 * 1024))


def get_max_musa_memory(device: Any = None) -> int:
    """The most MUSA GPU memory tensors have held since the last call, in MiB.

    Raises:
        RuntimeError: When no MUSA GPU is usable (it needs ``torch_musa``).
    """
    if not is_musa_available():
        raise RuntimeError(
            "get_max_musa_memory needs a Moore Threads MUSA GPU and the torch_musa package; "
            "none is available"
        )
    import torch

    peak = torch.musa.max_memory_allocated(device=device)
    torch.musa.reset_peak_memory_stats(device=device)
    return int(peak // (1024 * 1024))


def get_device() -> str:
    """The device to run on: ``'npu'``, ``'cuda'``, ``'mlu'``, ``'mps'``, ``'dipu'``,
    ``'musa'`` (first one available, in that order) or ``'cpu'``."""
    checks = (
        ("npu", is_npu_available),
        ("cuda", is_cuda_available),
        ("mlu", is_mlu_available),
        ("mps", is_mps_available),
        ("dipu", is_dipu_available),
        ("musa", is_musa_available),
    )
    for name, available in checks:
        if available():
            return name
    return "cpu"
