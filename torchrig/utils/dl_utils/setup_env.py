"""Process set-up for training (MMEngine's ``mmengine.utils.dl_utils.setup_env``)."""

from __future__ import annotations

import os
import platform
import warnings

import torch.multiprocessing as mp

__all__ = ["set_multi_processing"]


def set_multi_processing(
    mp_start_method: str = "fork", opencv_num_threads: int = 0, distributed: bool = False
) -> None:
    """Sets the multiprocessing start method, OpenCV's threads and, when distributed, one
    OpenMP/MKL thread per process (unless the environment already sets them).

    Args:
        mp_start_method: ``'fork'``, ``'spawn'`` or ``'forkserver'`` (not set on Windows).
        opencv_num_threads: Threads OpenCV may use (0: none), when OpenCV is installed.
        distributed: Whether this is one of several processes.
    """
    if platform.system() != "Windows":
        current = mp.get_start_method(allow_none=True)
        if current is not None and current != mp_start_method:
            warnings.warn(
                f"Multi-processing start method `{mp_start_method}` is different from the "
                f"previous setting `{current}`. It will be force set to `{mp_start_method}`.",
                stacklevel=2,
            )
        mp.set_start_method(mp_start_method, force=True)
    try:
        import cv2
    except ImportError:
        pass
    else:
        cv2.setNumThreads(opencv_num_threads)
    if not distributed:
        return
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if variable not in os.environ:
            warnings.warn(
                f"Setting {variable} environment variable for each process to be 1 by default, "
                "to avoid your system being overloaded; tune it for the best performance.",
                stacklevel=2,
            )
            os.environ[variable] = "1"
