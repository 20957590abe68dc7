"""Drawing on images (matplotlib, imported only when something is drawn).

Kept apart from sending data to trackers: :class:`ImageDrawer` only turns arrays and
annotations into an RGB image; :class:`~torchrig.visualization.Visualizer` adds the sending.
Methods, arguments, defaults and input checks are MMEngine's ``Visualizer``'s, so downstream
visualizers that subclass ``Visualizer`` and call them draw the same pictures.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from torchrig.visualization._values import to_image
from torchrig.visualization.utils import (
    check_type,
    check_type_and_length,
    color_str2rgb,
    color_val_matplotlib,
    convert_overlay_heatmap,
    img_from_canvas,
    tensor2ndarray,
    value2list,
    wait_continue,
)

__all__ = ["ImageDrawer", "color_val_matplotlib", "tensor2ndarray", "value2list"]


class _InvalidDrawingInput(ValueError, AssertionError):
    """Bad drawing input: a ``ValueError``, and an ``AssertionError`` as MMEngine raises."""


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise _InvalidDrawingInput(message)


def _arrays() -> tuple[type, ...]:
    import torch

    return (np.ndarray, torch.Tensor)


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
        self._default_font_size = 10

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
    def fig_save_canvas(self) -> Any:
        """The Agg canvas of :attr:`fig_save`."""
        self._figure()
        return self._canvas

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
        """Start drawing on ``image`` (H x W x 3 RGB, or H x W gray; cast to uint8)."""
        _require(image is not None, "set_image: image is None")
        array = to_image(tensor2ndarray(image))
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        self._image = array
        self.height, self.width = array.shape[:2]
        self._default_font_size = max(np.sqrt(self.height * self.width) // 90, 10)
        self._figure()
        dpi = self._fig.get_dpi()
        self._fig.set_size_inches((self.width + 1e-2) / dpi, (self.height + 1e-2) / dpi)
        self._show_on_axes(array)

    def _show_on_axes(self, array: np.ndarray) -> None:
        self._ax.cla()
        self._ax.axis(False)
        self._ax.imshow(array, extent=(0, self.width, self.height, 0), interpolation="none")
        self._ax.set_xlim(0, self.width)
        self._ax.set_ylim(self.height, 0)

    def get_image(self) -> np.ndarray:
        """The drawn image, H x W x 3 RGB uint8, the size of the image given to :meth:`set_image`."""
        self._require_image()
        buffer = img_from_canvas(self._canvas)
        if buffer.shape[:2] != (self.height, self.width):
            buffer = _resize_nearest(buffer, self.height, self.width)
        return np.ascontiguousarray(buffer)

    def _require_image(self) -> None:
        if self._image is None:
            raise RuntimeError("Please set image using `set_image(image)` before drawing")

    def _is_posion_valid(self, position: np.ndarray) -> bool:
        """Whether every (x, y) of ``position`` (... x 2) lies inside the image."""
        return bool(
            (position[..., 0] < self.width).all()
            and (position[..., 0] >= 0).all()
            and (position[..., 1] < self.height).all()
            and (position[..., 1] >= 0).all()
        )

    def _warn_outside(self, position: np.ndarray, what: str) -> None:
        if not self._is_posion_valid(position):
            warnings.warn(
                f"Warning: The {what} is out of bounds, the drawn {what} may not be in the image",
                UserWarning,
                stacklevel=3,
            )

    def _line_widths(self, line_widths: Any, count: int) -> list[float]:
        if isinstance(line_widths, (int, float)):
            line_widths = [line_widths] * count
        return [min(max(width, 1), self._default_font_size / 4) for width in line_widths]

    # -- primitives --------------------------------------------------------------------------
    def draw_points(
        self, positions: Any, colors: Any = "g", marker: str | None = None, sizes: Any = None
    ) -> ImageDrawer:
        """Draw points at ``positions`` (N x 2, x then y)."""
        self._require_image()
        check_type("positions", positions, _arrays())
        positions = tensor2ndarray(positions)
        if positions.ndim == 1:
            positions = positions[None]
        _require(
            positions.shape[-1] == 2,
            f"The shape of `positions` should be (N, 2), but got {positions.shape}",
        )
        self._ax.scatter(
            positions[:, 0], positions[:, 1], c=color_val_matplotlib(colors), s=sizes, marker=marker
        )
        return self

    def draw_texts(
        self,
        texts: str | list[str],
        positions: Any,
        font_sizes: Any = None,
        colors: Any = "g",
        vertical_alignments: Any = "top",
        horizontal_alignments: Any = "left",
        font_families: Any = "sans-serif",
        bboxes: Any = None,
        font_properties: Any = None,
    ) -> ImageDrawer:
        """Write ``texts`` at ``positions`` (N x 2); each styling argument is one or one per text."""
        from matplotlib.font_manager import FontProperties

        self._require_image()
        check_type("texts", texts, (str, list))
        texts = [texts] if isinstance(texts, str) else texts
        count = len(texts)
        check_type("positions", positions, _arrays())
        positions = tensor2ndarray(positions)
        if positions.ndim == 1:
            positions = positions[None]
        _require(
            positions.shape == (count, 2),
            f"`positions` should have the shape of ({count}, 2), but got {positions.shape}",
        )
        self._warn_outside(positions, "text")
        positions = positions.tolist()
        if font_sizes is None:
            font_sizes = self._default_font_size
        check_type_and_length("font_sizes", font_sizes, (int, float, list), count)
        font_sizes = value2list(font_sizes, (int, float), count)
        check_type_and_length("colors", colors, (str, tuple, list), count)
        colors = color_val_matplotlib(value2list(colors, (str, tuple), count))
        styles = {}
        for name, value in (
            ("vertical_alignments", vertical_alignments),
            ("horizontal_alignments", horizontal_alignments),
            ("font_families", font_families),
        ):
            check_type_and_length(name, value, (str, list), count)
            styles[name] = value2list(value, str, count)
        if bboxes is None:
            bboxes = [None] * count
        else:
            check_type_and_length("bboxes", bboxes, (dict, list), count)
            bboxes = value2list(bboxes, dict, count)
        if font_properties is None:
            font_properties = [None] * count
        else:
            check_type_and_length("font_properties", font_properties, (FontProperties, list), count)
            font_properties = value2list(font_properties, FontProperties, count)
        for i in range(count):
            self._ax.text(
                positions[i][0], positions[i][1], texts[i], size=font_sizes[i], bbox=bboxes[i],
                verticalalignment=styles["vertical_alignments"][i],
                horizontalalignment=styles["horizontal_alignments"][i],
                family=styles["font_families"][i], fontproperties=font_properties[i],
                color=colors[i],
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
        """Draw lines; ``x_datas[i]`` and ``y_datas[i]`` (N x 2) hold line ``i``'s two ends."""
        from matplotlib.collections import LineCollection

        self._require_image()
        check_type("x_datas", x_datas, _arrays())
        check_type("y_datas", y_datas, _arrays())
        x_datas, y_datas = tensor2ndarray(x_datas), tensor2ndarray(y_datas)
        _require(
            x_datas.shape == y_datas.shape, "`x_datas` and `y_datas` should have the same shape"
        )
        _require(
            x_datas.shape[-1] == 2,
            f"The shape of `x_datas` should be (N, 2), but got {x_datas.shape}",
        )
        lines = np.concatenate((x_datas.reshape(-1, 2, 1), y_datas.reshape(-1, 2, 1)), axis=-1)
        self._warn_outside(lines, "line")
        self._ax.add_collection(
            LineCollection(
                lines,
                colors=color_val_matplotlib(colors),
                linestyles=line_styles,
                linewidths=self._line_widths(line_widths, len(lines)),
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
        check_type("center", center, _arrays())
        check_type("radius", radius, _arrays())
        center, radius = tensor2ndarray(center), tensor2ndarray(radius)
        if center.ndim == 1:
            center = center[None]
        radius = radius.reshape(-1)
        _require(
            center.shape == (radius.shape[0], 2),
            f"The shape of `center` should be (radius.shape, 2), but got {center.shape}",
        )
        offsets = np.tile(radius.reshape(-1, 1), (1, 2))
        self._warn_outside(np.concatenate([center - offsets, center + offsets]), "circle")
        circles = [Circle(tuple(c), float(r)) for c, r in zip(center.tolist(), radius.tolist())]
        self._add_collection(
            PatchCollection, circles, edge_colors, line_styles, line_widths, face_colors, alpha
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
        self._require_image()
        check_type("bboxes", bboxes, _arrays())
        boxes = tensor2ndarray(bboxes)
        if boxes.ndim == 1:
            boxes = boxes[None]
        _require(
            boxes.shape[-1] == 4, f"The shape of `bboxes` should be (N, 4), but got {boxes.shape}"
        )
        _require(
            (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all(),
            "draw_bboxes: each box must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2",
        )
        self._warn_outside(boxes.reshape(-1, 2, 2), "bbox")
        corners = (boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]]).reshape(-1, 4, 2)
        return self.draw_polygons(
            list(corners), edge_colors, line_styles, line_widths, face_colors, alpha
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
        """Draw polygons, each an M x 2 array of vertices (one array, or a list of them)."""
        from matplotlib.collections import PolyCollection

        self._require_image()
        check_type("polygons", polygons, (list, *_arrays()))
        if not isinstance(polygons, list):
            polygons = [polygons]
        verts = [np.asarray(tensor2ndarray(p), dtype=float) for p in polygons]
        for vertices in verts:
            _require(
                vertices.ndim == 2 and vertices.shape[1] == 2,
                f"The shape of each polygon in `polygons` should be (M, 2), but got {vertices.shape}",
            )
            self._warn_outside(vertices, "polygon")
        self._add_collection(
            PolyCollection, verts, edge_colors, line_styles, line_widths, face_colors, alpha
        )
        return self

    def _add_collection(
        self, kind: Any, items: list, edges: Any, styles: Any, widths: Any, faces: Any, alpha: float
    ) -> None:
        collection = kind(
            items, alpha=alpha, facecolors=color_val_matplotlib(faces),
            edgecolors=color_val_matplotlib(edges), linestyles=styles,
            linewidths=self._line_widths(widths, len(items)),
        )  # fmt: skip
        self._ax.add_collection(collection)

    def draw_binary_masks(
        self, binary_masks: Any, colors: Any = "g", alphas: float | list[float] = 0.8
    ) -> ImageDrawer:
        """Blend boolean masks (N x H x W, or H x W) over the image: ``pixel*(1-a) + colour*a``.

        Pixels outside every mask keep their value.
        """
        self._require_image()
        check_type("binary_masks", binary_masks, _arrays())
        masks = tensor2ndarray(binary_masks)
        _require(
            masks.dtype == np.bool_,
            f"The dtype of binary_masks should be np.bool_, but got {masks.dtype}",
        )
        if masks.ndim == 2:
            masks = masks[None]
        image = self.get_image()
        _require(
            masks.shape[1:] == image.shape[:2],
            f"`binary_masks` must have the same shape with image: {masks.shape[1:]} on an image "
            f"of {image.shape[:2]}",
        )
        count = len(masks)
        check_type_and_length("colors", colors, (str, tuple, list), count)
        colors = value2list(colors, (str, tuple), count)
        colors = [color_str2rgb(c) if isinstance(c, str) else c for c in colors]
        for color in colors:
            _require(
                len(color) == 3 and all(0 <= channel <= 255 for channel in color),
                f"each mask colour must be (r, g, b) in 0-255, got {color}",
            )
        if isinstance(alphas, (int, float)):
            alphas = [alphas] * count
        blended = image.astype(np.float64)
        for mask, color, alpha in zip(masks, colors, alphas):
            blended[mask] = blended[mask] * (1 - alpha) + np.asarray(color, float) * alpha
        self._show_on_axes(np.clip(blended.round(), 0, 255).astype(np.uint8))
        return self

    @staticmethod
    def draw_featmap(
        featmap: Any,
        overlaid_image: np.ndarray | None = None,
        channel_reduction: str | None = "squeeze_mean",
        topk: int = 20,
        arrangement: tuple[int, int] = (4, 5),
        resize_shape: tuple | None = None,
        alpha: float = 0.5,
    ) -> np.ndarray:
        """A C x H x W feature map as a heat-map image (optionally over ``overlaid_image``).

        Args:
            featmap: The C x H x W tensor.
            overlaid_image: An H x W (x 3) image to draw the heat map over; the feature map is
                resized to it.
            channel_reduction: ``'squeeze_mean'`` (the mean of the channels) or
                ``'select_max'`` (the channel with the largest sum) reduce the channels to one;
                None shows the ``topk`` channels with the largest sums in an ``arrangement``
                (rows, cols) grid, or, with ``topk <= 0``, a 1- or 3-channel map as it is.
            topk: How many channels the grid shows.
            arrangement: The grid's rows and columns.
            resize_shape: (H, W) to resize the feature map (and the image) to.
            alpha: The heat map's weight over ``overlaid_image``.

        Returns:
            The RGB uint8 image.
        """
        import torch
        import torch.nn.functional as F

        _require(
            isinstance(featmap, torch.Tensor),
            f"`featmap` should be torch.Tensor, but got {type(featmap)}",
        )
        _require(featmap.ndim == 3, f"Input dimension must be 3, but got {featmap.ndim}")
        featmap = featmap.detach().float().cpu()
        if overlaid_image is not None:
            overlaid_image = to_image(tensor2ndarray(overlaid_image))
            if overlaid_image.ndim == 2:
                overlaid_image = np.stack([overlaid_image] * 3, axis=-1)
            if overlaid_image.shape[:2] != tuple(featmap.shape[1:]):
                warnings.warn(
                    f"Since the spatial dimensions of overlaid_image: {overlaid_image.shape[:2]} and "
                    f"featmap: {tuple(featmap.shape[1:])} are not same, the feature map will be "
                    "interpolated. This may cause mismatch problems!",
                    stacklevel=2,
                )
                if resize_shape is None:
                    featmap = F.interpolate(
                        featmap[None],
                        overlaid_image.shape[:2],
                        mode="bilinear",
                        align_corners=False,
                    )[0]
        if resize_shape is not None:
            featmap = F.interpolate(
                featmap[None], tuple(resize_shape), mode="bilinear", align_corners=False
            )[0]
            if overlaid_image is not None:
                overlaid_image = _resize_nearest(overlaid_image, *resize_shape)
        if channel_reduction is not None:
            _require(
                channel_reduction in ("squeeze_mean", "select_max"),
                f'Mode only support "squeeze_mean", "select_max", but got {channel_reduction}',
            )
            if channel_reduction == "select_max":
                reduced = featmap[featmap.sum(dim=(1, 2)).argmax()]
            else:
                reduced = featmap.mean(dim=0)
            return convert_overlay_heatmap(reduced, overlaid_image, alpha)
        if topk <= 0:
            _require(
                featmap.shape[0] in (1, 3),
                "The input tensor channel dimension must be 1 or 3 when topk is less than 1, but "
                f"the channel dimension you input is {featmap.shape[0]}, you can use the "
                "channel_reduction parameter or set topk greater than 0 to solve the error",
            )
            return convert_overlay_heatmap(featmap, overlaid_image, alpha)
        rows, cols = arrangement
        _require(
            rows * cols >= topk,
            "The product of row and col in the `arrangement` is less than topk, please set the "
            "`arrangement` correctly",
        )
        count = min(featmap.shape[0], topk)
        indices = featmap.sum(dim=(1, 2)).topk(count).indices
        tiles = [convert_overlay_heatmap(featmap[i], overlaid_image, alpha) for i in indices]
        height, width = tiles[0].shape[:2]
        grid = np.full((rows * height, cols * width, 3), 255, dtype=np.uint8)
        for n, tile in enumerate(tiles):
            r, c = divmod(n, cols)
            grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = tile
        return grid

    def show(
        self,
        drawn_img: np.ndarray | None = None,
        win_name: str = "image",
        wait_time: float = 0.0,
        continue_key: str = " ",
        backend: str = "matplotlib",
    ) -> None:
        """Show the drawn image (or ``drawn_img``) in a window.

        Args:
            drawn_img: The image to show; the drawn one when None.
            win_name: The window's title.
            wait_time: Seconds to wait; 0 waits for ``continue_key`` or the window's closing.
            continue_key: The key that closes the window and continues.
            backend: ``'matplotlib'`` or ``'cv2'`` (needs opencv-python).
        """
        image = self.get_image() if drawn_img is None else to_image(tensor2ndarray(drawn_img))
        if backend == "cv2":
            try:
                import cv2
            except ImportError as error:
                raise ImportError(
                    "show(backend='cv2') needs OpenCV: pip install opencv-python"
                ) from error
            cv2.imshow(win_name, image[..., ::-1])
            cv2.waitKey(int(np.ceil(wait_time * 1000)))
            return
        if backend != "matplotlib":
            raise ValueError(f"show: backend must be 'matplotlib' or 'cv2', got {backend!r}")
        import matplotlib.pyplot as plt

        fig = plt.figure(**self.fig_show_cfg)
        if fig.canvas.manager is not None:
            fig.canvas.manager.set_window_title(win_name)
        ax = fig.add_subplot()
        ax.axis(False)
        ax.imshow(image)
        fig.canvas.draw()
        wait_continue(fig, timeout=wait_time, continue_key=continue_key)
        plt.close(fig)


def _resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = (np.arange(height) * image.shape[0] / height).astype(int)
    cols = (np.arange(width) * image.shape[1] / width).astype(int)
    return image[rows][:, cols]
