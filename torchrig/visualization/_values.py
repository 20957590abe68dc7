"""Turning logged values into what trackers and files accept."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

__all__ = ["dumps_flat", "encode_png", "snapshot", "to_builtin", "to_image"]


def snapshot(value: Any) -> Any:
    """Detach a value at call time so the writer thread sees what was logged.

    Tensors are detached (no ``.item()``: no device sync on the training thread); numpy
    arrays are copied, since drawing code reuses its buffers.
    """
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    detach = getattr(value, "detach", None)
    if callable(detach):
        return detach()
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def to_builtin(value: Any) -> Any:
    """A number, numpy scalar or one-element tensor -> a Python number; others unchanged."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() == 1:
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    if isinstance(value, dict):
        return {key: to_builtin(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(item) for item in value]
    return value


def dumps_flat(record: dict) -> str:
    """One JSON line's text for ``record`` (values that JSON cannot hold are written as text)."""
    return json.dumps(record, default=str)


def to_image(image: Any) -> np.ndarray:
    """An HWC (or HW) image as a contiguous uint8 numpy array (tensors are moved to CPU)."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return np.ascontiguousarray(array)


def encode_png(image: np.ndarray) -> bytes:
    """Encode an HW (gray), HWC RGB or RGBA uint8 image as PNG, without any image library."""
    array = to_image(image)
    if array.ndim == 2:
        color_type, channels = 0, 1
    elif array.shape[2] == 3:
        color_type, channels = 2, 3
    elif array.shape[2] == 4:
        color_type, channels = 6, 4
    else:
        raise ValueError(f"encode_png: expected HW, HWC with 3 or 4 channels, got {array.shape}")
    height, width = array.shape[:2]
    rows = array.reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
