"""``torchrig.utils.dl_utils``: real modules, tensors and processes."""

from __future__ import annotations

import logging
import multiprocessing

import numpy as np
import pytest
import torch
from torch import nn

from torchrig.utils.dl_utils import (
    TORCH_VERSION,
    TimeCounter,
    collect_env,
    has_batch_norm,
    is_jit_tracing,
    is_norm,
    mmcv_full_available,
    set_multi_processing,
    tensor2imgs,
    torch_meshgrid,
)
from torchrig.utils.dl_utils.parrots_wrapper import (
    SyncBatchNorm,
    SyncBatchNorm_,
    _BatchNorm,
    _ConvNd,
    _InstanceNorm,
    get_build_config,
    is_rocm_pytorch,
)


def test_parrots_wrapper_names_are_torchs():
    assert TORCH_VERSION == torch.__version__
    assert isinstance(nn.BatchNorm2d(3), _BatchNorm)
    assert isinstance(nn.InstanceNorm1d(3), _InstanceNorm)
    assert isinstance(nn.Conv2d(1, 1, 1), _ConvNd)
    assert SyncBatchNorm_ is nn.SyncBatchNorm and issubclass(SyncBatchNorm, nn.SyncBatchNorm)
    assert is_rocm_pytorch() is False
    assert "PyTorch built with" in get_build_config()


def test_norm_checks():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Sequential(nn.BatchNorm2d(2)))
    assert has_batch_norm(model) and not has_batch_norm(nn.Linear(1, 1))
    assert is_norm(nn.GroupNorm(1, 2)) and is_norm(nn.LayerNorm(2))
    assert not is_norm(nn.Linear(1, 1))
    assert not is_norm(nn.BatchNorm1d(2), exclude=_BatchNorm)
    with pytest.raises(TypeError, match="exclude"):
        is_norm(nn.BatchNorm1d(2), exclude="bn")
    assert mmcv_full_available() is False


def test_tensor2imgs_undoes_normalization():
    image = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) / 10  # H, W, C=... RGB
    rgb = image[..., :3]
    mean, std = (1.0, 2.0, 3.0), (2.0, 2.0, 0.5)
    tensor = torch.from_numpy((rgb - mean) / std).permute(2, 0, 1)[None].float()
    (out,) = tensor2imgs(tensor, mean, std, to_bgr=True)
    np.testing.assert_allclose(out, rgb[..., ::-1], rtol=1e-6, atol=1e-6)
    (gray,) = tensor2imgs(torch.ones(1, 1, 2, 2), to_bgr=False)
    assert gray.shape == (2, 2, 1)
    with pytest.raises(ValueError, match="to_bgr"):
        tensor2imgs(torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match="4-d"):
        tensor2imgs(torch.ones(1, 2, 2))


def test_meshgrid_and_tracing():
    rows, cols = torch_meshgrid(torch.arange(2), torch.arange(3))
    assert rows.shape == (2, 3) and rows[1, 0] == 1 and cols[0, 2] == 2
    seen = []

    def f(x):
        seen.append(is_jit_tracing())
        return x + 1

    torch.jit.trace(f, torch.ones(1), check_trace=False)
    assert seen == [True] and is_jit_tracing() is False


def test_collect_env_reports_torch():
    env = collect_env()
    assert env["PyTorch"] == torch.__version__
    assert "PyTorch compiling details" in env and "GCC" in env and "torchrig" in env


def test_set_multi_processing(monkeypatch):
    before = multiprocessing.get_start_method(allow_none=True)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    try:
        with pytest.warns(UserWarning, match="OMP_NUM_THREADS"):
            set_multi_processing("spawn", distributed=True)
        assert multiprocessing.get_start_method() == "spawn"
        import os

        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"
    finally:
        multiprocessing.set_start_method(before, force=True)


def test_time_counter_logs_averages(caplog):
    TimeCounter.instance_dict.pop("torchrig-test-fn", None)
    TimeCounter.instance_dict.pop("torchrig-test-block", None)
    logger = logging.getLogger("torchrig-test-time-counter")

    @TimeCounter(log_interval=2, warmup_interval=2, tag="torchrig-test-fn", logger=logger)
    def step(x):
        return x * 2

    with caplog.at_level(logging.INFO, logger="torchrig-test-time-counter"):
        assert [step(i) for i in range(4)] == [0, 2, 4, 6]
        for _ in range(2):
            with TimeCounter(tag="torchrig-test-block", logger=logger):
                pass
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith("[torchrig-test-fn]-time per run averaged in the past 2 runs")
        for line in lines
    )
    assert any("past 4 runs" in line for line in lines)
    assert any(line.startswith("[torchrig-test-block]-time per run") for line in lines)
    assert TimeCounter(tag="torchrig-test-fn") is TimeCounter(tag="torchrig-test-fn")
    with pytest.raises(ValueError, match="tag"):
        with TimeCounter.__new__(TimeCounter, tag=None):
            pass
