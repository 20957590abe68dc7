"""Device detection on this machine: whatever torch reports, and the clear errors."""

from __future__ import annotations

import pytest
import torch

from torchrig.device import (
    get_device,
    get_max_cuda_memory,
    get_max_musa_memory,
    is_cuda_available,
    is_dipu_available,
    is_mlu_available,
    is_mps_available,
    is_musa_available,
    is_npu_available,
    is_npu_support_full_precision,
)


def test_detection_matches_torch():
    assert is_cuda_available() == torch.cuda.is_available()
    assert is_mps_available() == torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not any(f() for f in (is_npu_available, is_mlu_available, is_mps_available)):
        assert get_device() == expected
    for check in (
        is_npu_available,
        is_mlu_available,
        is_musa_available,
        is_dipu_available,
        is_npu_support_full_precision,
    ):
        assert isinstance(check(), bool)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_memory_queries_need_their_device():
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        get_max_cuda_memory()
    if not is_musa_available():
        with pytest.raises(RuntimeError, match="torch_musa"):
            get_max_musa_memory()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_max_cuda_memory_counts_a_tensor():
    get_max_cuda_memory()  # resets the peak
    block = torch.empty(64 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    assert get_max_cuda_memory() >= 64
    del block
