"""The environment report (MMEngine's ``mmengine.utils.dl_utils.collect_env``)."""

from __future__ import annotations

import subprocess
from collections import OrderedDict
from typing import Any

__all__ = ["collect_env"]


def _command_output(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "n/a"
    return out.strip().splitlines()[0] if out.strip() else "n/a"


def collect_env() -> OrderedDict[str, Any]:
    """Versions and hardware of this process, as MMEngine reports them.

    Returns:
        An ordered dict: platform, Python, CUDA availability and GPUs, PyTorch and how it was
        built, torchvision and OpenCV when installed, torchrig, and the git commit.
    """
    from torchrig.runner._build.env import collect_env as runner_env
    from torchrig.utils.dl_utils.parrots_wrapper import _get_cuda_home, get_build_config

    env: OrderedDict[str, Any] = OrderedDict(runner_env())
    cuda_home = _get_cuda_home()
    env["CUDA_HOME"] = cuda_home
    if cuda_home is not None:
        env["NVCC"] = _command_output([f"{cuda_home}/bin/nvcc", "-V"])
    env["GCC"] = _command_output(["gcc", "--version"])
    env["PyTorch compiling details"] = get_build_config()
    try:
        import torchvision
    except ImportError:
        pass
    else:
        env["TorchVision"] = torchvision.__version__
    try:
        import cv2
    except ImportError:
        pass
    else:
        env["OpenCV"] = cv2.__version__
    return env
