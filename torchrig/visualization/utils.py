"""Helpers of the drawing API (MMEngine's ``mmengine.visualization.utils``).

matplotlib is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "check_length",
    "check_type",
    "check_type_and_length",
    "color_str2rgb",
    "color_val_matplotlib",
    "convert_overlay_heatmap",
    "img_from_canvas",
    "tensor2ndarray",
    "value2list",
    "wait_continue",
]


def tensor2ndarray(value: Any) -> Any:
    """A tensor as a numpy array (detached, on the CPU); anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def value2list(value: Any, valid_type: type | tuple[type, ...], expand_dim: int) -> Any:
    """``[value] * expand_dim`` when ``value`` is a ``valid_type``; otherwise ``value`` itself.

    Args:
        value: One value for every item, or already one per item.
        valid_type: The type(s) of a single value.
        expand_dim: How many items there are.
    """
    if isinstance(value, valid_type):
        return [value] * expand_dim
    return value


def check_type(name: str, value: Any, valid_type: type | tuple[type, ...]) -> None:
    """Raises ``TypeError`` naming ``name`` unless ``value`` is a ``valid_type``."""
    if not isinstance(value, valid_type):
        raise TypeError(f"`{name}` should be {valid_type} but got {type(value)}")


def check_length(name: str, value: Any, valid_length: int) -> None:
    """Raises ``AssertionError`` when ``value`` is a list shorter than ``valid_length``."""
    if isinstance(value, list) and len(value) < valid_length:
        raise AssertionError(
            f"The length of {name} must equal with or greater than {valid_length}, "
            f"but got {len(value)}"
        )


def check_type_and_length(
    name: str, value: Any, valid_type: type | tuple[type, ...], valid_length: int
) -> None:
    """:func:`check_type` then :func:`check_length`."""
    check_type(name, value, valid_type)
    check_length(name, value, valid_length)


def color_val_matplotlib(colors: str | tuple | list) -> str | tuple | list:
    """RGB colours in 0-255 as matplotlib's 0-1 tuples; names pass unchanged.

    Args:
        colors: A colour name (``'g'``, ``'red'``), an ``(r, g, b)`` tuple in 0-255, or a list
            of either.

    Raises:
        AssertionError: A tuple is not three channels in 0-255.
        TypeError: ``colors`` is none of these.
    """
    if isinstance(colors, str):
        return colors
    if isinstance(colors, tuple):
        if len(colors) != 3 or not all(0 <= channel <= 255 for channel in colors):
            raise AssertionError(f"a colour tuple must be (r, g, b) in 0-255, got {colors}")
        return tuple(channel / 255 for channel in colors)
    if isinstance(colors, list):
        return [color_val_matplotlib(color) for color in colors]
    raise TypeError(f"Invalid type for color: {type(colors)}")


def color_str2rgb(color: str) -> tuple:
    """A matplotlib colour name as an ``(r, g, b)`` tuple of ints in 0-255 (``'g'`` -> (0, 127, 0))."""
    from matplotlib.colors import to_rgb

    return tuple(int(channel * 255) for channel in to_rgb(color))


def _jet(values: np.ndarray) -> np.ndarray:
    """uint8 values through the jet colour map, RGB uint8."""
    from matplotlib import colormaps

    return (colormaps["jet"](values)[..., :3] * 255).round().astype(np.uint8)


def convert_overlay_heatmap(
    feat_map: Any, img: np.ndarray | None = None, alpha: float = 0.5
) -> np.ndarray:
    """A feature map as a jet heat map, optionally blended over ``img``.

    Args:
        feat_map: H x W, or C x H x W with C 1 or 3 (a tensor or an array); its values are
            scaled to 0-255 by their minimum and maximum.
        img: An H x W x 3 RGB uint8 image to blend under the heat map.
        alpha: The heat map's weight in the blend.

    Returns:
        The H x W x 3 RGB uint8 heat map.
    """
    if not (feat_map.ndim == 2 or (feat_map.ndim == 3 and feat_map.shape[0] in (1, 3))):
        raise AssertionError(
            f"feat_map must be H x W or C x H x W with C 1 or 3, got shape {tuple(feat_map.shape)}"
        )
    values = np.asarray(tensor2ndarray(feat_map), dtype=np.float64)
    if values.ndim == 3:
        values = values.transpose(1, 2, 0)
    span = values.max() - values.min()
    scaled = (values - values.min()) * (255.0 / span) if span > 0 else np.zeros_like(values)
    norm = scaled.round().astype(np.uint8)
    if norm.ndim == 3 and norm.shape[2] == 3:  # a colour map per channel, as a lookup table
        heat = np.stack([_jet(norm[..., c] / 255.0)[..., c] for c in range(3)], axis=-1)
    else:
        heat = _jet(norm.reshape(norm.shape[:2]) / 255.0)
    if img is not None:
        blend = img.astype(np.float64) * (1 - alpha) + heat.astype(np.float64) * alpha
        heat = np.clip(blend.round(), 0, 255).astype(np.uint8)
    return heat


def img_from_canvas(canvas: Any) -> np.ndarray:
    """What a matplotlib Agg canvas shows, as an H x W x 3 RGB uint8 array."""
    buffer, (width, height) = canvas.print_to_buffer()
    rgba = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 4)
    return rgba[..., :3].copy()


def wait_continue(figure: Any, timeout: float = 0, continue_key: str = " ") -> int:
    """Shows ``figure`` and waits for ``continue_key``, the window's closing, or ``timeout``.

    Args:
        figure: The matplotlib figure.
        timeout: Seconds to wait; 0 waits without limit.
        continue_key: The key that continues.

    Returns:
        0 when the time ran out or ``continue_key`` was pressed, 1 when the figure was closed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import CloseEvent

    if "inline" in plt.get_backend():  # a notebook shows the figure by itself
        return 0
    if figure.canvas.manager is not None:
        figure.show()
    received: list = []

    def handler(event: Any) -> None:
        received.append(event)
        figure.canvas.stop_event_loop()

    while True:
        received.clear()
        ids = [
            figure.canvas.mpl_connect(kind, handler) for kind in ("key_press_event", "close_event")
        ]
        try:
            figure.canvas.start_event_loop(timeout)
        finally:
            for cid in ids:
                figure.canvas.mpl_disconnect(cid)
        event = received[0] if received else None
        if isinstance(event, CloseEvent):
            return 1
        if event is None or event.key == continue_key:
            return 0
