"""Drawing on images (matplotlib, imported only when something is drawn).

Kept apart from sending data to trackers: :class:`ImageDrawer` only turns arrays and
annotations into an RGB image; :class:`~torchrig.visualization.Visualizer` adds the sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from torchrig.visualization._values import to_image

__all__ = ["ImageDrawer", "color_val_matplotlib", "tensor2ndarray", "value2list"]


def tensor2ndarray(value: Any) -> Any:
    """A tensor -> a numpy array (on CPU); anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def value2list(value: Any, valid_type: type | tuple[type, ...], expand_dim: int) -> list:
    """Repeat a single value ``expand_dim`` times; a list is returned as it is."""
    if isinstance(value, valid_type):
        return [value] * expand_dim
    return list(value)


def color_val_matplotlib(colors: Any) -> Any:
    """RGB 0-255 tuples -> matplotlib's 0-1 tuples (names and lists of either are handled)."""
    if isinstance(colors, str):
        return colors
    if isinstance(colors, tuple) and colors and all(isinstance(c, (int, float)) for c in colors):
        if any(c > 1 for c in colors):
            return tuple(c / 255 for c in colors)
        return colors
    if isinstance(colors, (list, tuple)):
        return [color_val_matplotlib(c) for c in colors]
    return colors


def _colors_rgb(color: Any) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(color_val_matplotlib(color))) * 255


class ImageDrawer:
    """Draws points, lines, boxes, polygons, circles, texts, masks and feature maps on an image.

    Args:
        fig_save_cfg: Keyword arguments of the figure drawn into.
        fig_show_cfg: Keyword arguments of the figure :meth:`show` opens.
    """

    def __init__(self, fig_save_cfg: dict | None = None, fig_show_cfg: dict | None = None) -> None:
        self.fig_save_cfg = dict(fig_save_cfg if fig_save_cfg is not None else {"frameon": False})
        self.fig_show_cfg = dict(fig_show_cfg if fig_show_cfg is not None else {"frameon": False})
        self._image: np.ndarray | None = None
        self._fig: Any = None
        self._canvas: Any = None
        self._ax: Any = None
        self.width = 0
        self.height = 0

    # -- canvas ----------------------------------------------------------------------------
    def _figure(self) -> None:
        if self._fig is not None:
            return
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._fig = Figure(**self.fig_save_cfg)
        self._canvas = FigureCanvasAgg(self._fig)
        self._ax = self._fig.add_subplot()
        self._ax.axis(False)
        self._fig.subplots_adjust(left=0, right=1, bottom=0, top=1)

    @property
    def fig_save(self) -> Any:
        """The matplotlib figure drawn into (created on first use)."""
        self._figure()
        return self._fig

    @property
    def ax_save(self) -> Any:
        """The axes drawn into."""
        self._figure()
        return self._ax

    @property
    def dpi(self) -> float:
        """The figure's dots per inch."""
        return float(self.fig_save.get_dpi())

    def set_image(self, image: Any) -> None:
        """Start drawing on ``image`` (HWC RGB uint8, or HW gray)."""
        array = to_image(tensor2ndarray(image))
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        self._image = array
        self.height, self.width = array.shape[:2]
        self._figure()
        self._ax.cla()
        self._ax.axis(False)
        self._ax.imshow(array, extent=(0, self.width, self.height, 0), interpolation="none")
        self._ax.set_xlim(0, self.width)
        self._ax.set_ylim(self.height, 0)
        dpi = self._fig.get_dpi()
        self._fig.set_size_inches((self.width + 1e-2) / dpi, (self.height + 1e-2) / dpi)

    def get_image(self) -> np.ndarray:
        """The drawn image, HWC RGB uint8, the size of the image given to :meth:`set_image`."""
        if self._image is None:
            raise RuntimeError("ImageDrawer: call set_image(image) before drawing or get_image()")
        self._canvas.draw()
        buffer = np.asarray(self._canvas.buffer_rgba())[..., :3]
        if buffer.shape[:2] != (self.height, self.width):
            buffer = _resize_nearest(buffer, self.height, self.width)
        return np.ascontiguousarray(buffer)

    def _require_image(self) -> None:
        if self._image is None:
            raise RuntimeError("ImageDrawer: call set_image(image) before drawing")

    # -- primitives --------------------------------------------------------------------------
    def draw_points(
        self, positions: Any, colors: Any = "g", marker: str | None = None, sizes: Any = None
    ) -> ImageDrawer:
        """Draw points at ``positions`` (N x 2, x then y)."""
        self._require_image()
        points = np.asarray(tensor2ndarray(positions)).reshape(-1, 2)
        self._ax.scatter(
            points[:, 0], points[:, 1], c=color_val_matplotlib(colors), s=sizes, marker=marker
        )
        return self

    def draw_texts(
        self,
        texts: str | Sequence[str],
        positions: Any,
        font_sizes: Any = None,
        colors: Any = "g",
        vertical_alignments: Any = "top",
        horizontal_alignments: Any = "left",
        font_families: Any = "sans-serif",
        bboxes: Any = None,
        font_properties: Any = None,
    ) -> ImageDrawer:
        """Write ``texts`` at ``positions`` (N x 2)."""
        self._require_image()
        texts = [texts] if isinstance(texts, str) else list(texts)
        points = np.asarray(tensor2ndarray(positions)).reshape(-1, 2)
        count = len(texts)
        sizes = value2list(font_sizes, (int, float, type(None)), count)
        colors_ = value2list(color_val_matplotlib(colors), (str, tuple), count)
        valign = value2list(vertical_alignments, str, count)
        halign = value2list(horizontal_alignments, str, count)
        families = value2list(font_families, str, count)
        boxes = value2list(bboxes, (dict, type(None)), count)
        props = (
            value2list(font_properties, object, count)
            if font_properties is not None
            else [None] * count
        )
        for i, text in enumerate(texts):
            self._ax.text(
                points[i][0], points[i][1], text, size=sizes[i] or max(8, self.height // 40),
                color=colors_[i], verticalalignment=valign[i], horizontalalignment=halign[i],
                family=families[i], bbox=boxes[i], fontproperties=props[i],
            )  # fmt: skip
        return self

    def draw_lines(
        self,
        x_datas: Any,
        y_datas: Any,
        colors: Any = "g",
        line_styles: Any = "-",
        line_widths: Any = 2,
    ) -> ImageDrawer:
        """Draw lines; ``x_datas[i]`` and ``y_datas[i]`` are the two ends of line ``i``."""
        from matplotlib.collections import LineCollection

        self._require_image()
        xs = np.asarray(tensor2ndarray(x_datas)).reshape(-1, 2)
        ys = np.asarray(tensor2ndarray(y_datas)).reshape(-1, 2)
        segments = np.stack([xs, ys], axis=-1)
        self._ax.add_collection(
            LineCollection(
                segments,
                colors=color_val_matplotlib(colors),
                linestyles=line_styles,
                linewidths=line_widths,
            )
        )
        return self

    def draw_circles(
        self,
        center: Any,
        radius: Any,
        edge_colors: Any = "g",
        line_styles: Any = "-",
        line_widths: Any = 2,
        face_colors: Any = "none",
        alpha: float = 1.0,
    ) -> ImageDrawer:
        """Draw circles with ``center`` (N x 2) and ``radius`` (N)."""
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Circle

        self._require_image()
        centers = np.asarray(tensor2ndarray(center)).reshape(-1, 2)
        radii = np.asarray(tensor2ndarray(radius)).reshape(-1)
        patches = [Circle((float(c[0]), float(c[1])), float(r)) for c, r in zip(centers, radii)]
        self._add_patches(
            PatchCollection, patches, edge_colors, line_styles, line_widths, face_colors, alpha
        )
        return self

    def draw_bboxes(
        self,
        bboxes: Any,
        edge_colors: Any = "g",
        line_styles: Any = "-",
        line_widths: Any = 2,
        face_colors: Any = "none",
        alpha: float = 0.8,
    ) -> ImageDrawer:
        """Draw boxes given as N x 4 ``(x1, y1, x2, y2)``."""
        boxes = np.asarray(tensor2ndarray(bboxes), dtype=float).reshape(-1, 4)
        if ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
            raise ValueError(
                "draw_bboxes: each box must be (x1, y1, x2, y2) with x1 <= x2, y1 <= y2"
            )
        polygons = [np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) for x1, y1, x2, y2 in boxes]
        return self.draw_polygons(
            polygons, edge_colors, line_styles, line_widths, face_colors, alpha
        )

    def draw_polygons(
        self,
        polygons: Any,
        edge_colors: Any = "g",
        line_styles: Any = "-",
        line_widths: Any = 2,
        face_colors: Any = "none",
        alpha: float = 0.8,
    ) -> ImageDrawer:
        """Draw polygons, each a K x 2 array of vertices."""
        from matplotlib.collections import PolyCollection

        self._require_image()
        if isinstance(polygons, np.ndarray) or hasattr(polygons, "detach"):
            polygons = [polygons]
        verts = [np.asarray(tensor2ndarray(p), dtype=float).reshape(-1, 2) for p in polygons]
        self._add_patches(
            PolyCollection, verts, edge_colors, line_styles, line_widths, face_colors, alpha
        )
        return self

    def _add_patches(
        self, kind: Any, items: list, edges: Any, styles: Any, widths: Any, faces: Any, alpha: float
    ) -> None:
        collection = kind(
            items, alpha=alpha, facecolors=color_val_matplotlib(faces),
            edgecolors=color_val_matplotlib(edges), linestyles=styles, linewidths=widths,
        )  # fmt: skip
        self._ax.add_collection(collection)

    def draw_binary_masks(
        self, binary_masks: Any, colors: Any = "g", alphas: Any = 0.8
    ) -> ImageDrawer:
        """Blend boolean masks (N x H x W, or H x W) over the image in ``colors``."""
        self._require_image()
        masks = np.asarray(tensor2ndarray(binary_masks)).astype(bool)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.shape[1:] != (self.height, self.width):
            raise ValueError(
                f"draw_binary_masks: masks of shape {masks.shape[1:]} on an image of {(self.height, self.width)}"
            )
        count = len(masks)
        colors_ = value2list(colors, (str, tuple), count)
        alphas_ = value2list(alphas, (int, float), count)
        image = self.get_image().astype(float)
        for mask, color, alpha in zip(masks, colors_, alphas_):
            image[mask] = image[mask] * (1 - alpha) + _colors_rgb(color) * alpha
        self.set_image(image.astype(np.uint8))
        return self

    @staticmethod
    def draw_featmap(
        featmap: Any,
        overlaid_image: Any = None,
        channel_reduction: str | None = "squeeze_mean",
        topk: int = 20,
        arrangement: tuple[int, int] = (4, 5),
        resize_shape: tuple[int, int] | None = None,
        alpha: float = 0.5,
    ) -> np.ndarray:
        """A C x H x W feature map as a heat-map image (optionally over ``overlaid_image``).

        ``channel_reduction`` ``'squeeze_mean'`` / ``'select_max'`` reduce the channels to one;
        None shows the ``topk`` channels with the largest mean in an ``arrangement`` grid.
        """
        import torch

        feat = featmap if isinstance(featmap, torch.Tensor) else torch.as_tensor(featmap)
        if feat.ndim != 3:
            raise ValueError(f"draw_featmap: featmap must be C x H x W, got {tuple(feat.shape)}")
        feat = feat.detach().float().cpu()
        if overlaid_image is not None:
            overlaid_image = to_image(tensor2ndarray(overlaid_image))
            resize_shape = overlaid_image.shape[:2]
        if resize_shape is not None:
            feat = torch.nn.functional.interpolate(
                feat[None], tuple(resize_shape), mode="bilinear", align_corners=False
            )[0]
        if channel_reduction == "squeeze_mean":
            return _heatmap(feat.mean(0), overlaid_image, alpha)
        if channel_reduction == "select_max":
            index = feat.mean(dim=(1, 2)).argmax()
            return _heatmap(feat[index], overlaid_image, alpha)
        if channel_reduction is not None:
            raise ValueError(
                f"draw_featmap: channel_reduction must be 'squeeze_mean', 'select_max' or None, got {channel_reduction!r}"
            )
        rows, cols = arrangement
        count = min(topk, feat.shape[0], rows * cols)
        indices = feat.mean(dim=(1, 2)).topk(count).indices
        tiles = [_heatmap(feat[i], overlaid_image, alpha) for i in indices]
        height, width = tiles[0].shape[:2]
        grid = np.zeros((rows * height, cols * width, 3), dtype=np.uint8)
        for n, tile in enumerate(tiles):
            r, c = divmod(n, cols)
            grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = tile
        return grid

    def show(
        self,
        drawn_img: Any = None,
        win_name: str = "image",
        wait_time: float = 0,
        continue_key: str = " ",
        backend: str = "matplotlib",
    ) -> None:
        """Show the drawn image in a matplotlib window."""
        import matplotlib.pyplot as plt

        image = self.get_image() if drawn_img is None else to_image(tensor2ndarray(drawn_img))
        fig = plt.figure(**self.fig_show_cfg)
        fig.canvas.manager.set_window_title(win_name)
        plt.imshow(image)
        plt.axis("off")
        plt.show(block=wait_time == 0)
        if wait_time:
            plt.pause(wait_time)
        plt.close(fig)


def _heatmap(feat: Any, overlaid: np.ndarray | None, alpha: float) -> np.ndarray:
    from matplotlib import colormaps

    values = feat.numpy()
    span = values.max() - values.min()
    norm = (values - values.min()) / (span if span > 0 else 1.0)
    heat = (colormaps["jet"](norm)[..., :3] * 255).astype(np.uint8)
    if overlaid is None:
        return heat
    base = overlaid if overlaid.ndim == 3 else np.stack([overlaid] * 3, -1)
    return (base * (1 - alpha) + heat * alpha).astype(np.uint8)


def _resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = (np.arange(height) * image.shape[0] / height).astype(int)
    cols = (np.arange(width) * image.shape[1] / width).astype(int)
    return image[rows][:, cols]
