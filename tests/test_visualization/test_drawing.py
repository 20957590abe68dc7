"""The drawing API: what is drawn changes the right pixels; matplotlib only when drawing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from torchrig.visualization import Visualizer

pytest.importorskip("matplotlib")


def test_importing_the_package_imports_no_tracker_and_no_matplotlib():
    code = (
        "import sys, torchrig.visualization\n"
        "from torchrig.visualization import Visualizer\n"
        "Visualizer(vis_backends=[dict(type='WandbVisBackend')], save_dir='unused')\n"
        "bad = [m for m in ('matplotlib', 'wandb', 'mlflow', 'tensorboard') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_boxes_polygons_lines_points_texts_circles_change_the_image():
    image = np.zeros((40, 60, 3), np.uint8)
    visualizer = Visualizer(image=image)
    assert (visualizer.get_image() == 0).all() and visualizer.get_image().shape == (40, 60, 3)
    visualizer.draw_bboxes(np.array([[5, 5, 30, 20]]), edge_colors=(255, 0, 0), line_widths=2)
    drawn = visualizer.get_image()
    assert drawn.shape == (40, 60, 3)
    assert drawn[5, 15, 0] > 100 and drawn[5, 15, 1] < 100  # red top edge
    assert (drawn[12, 15] == 0).all()  # inside: face 'none'
    assert (drawn[35, 50] == 0).all()
    visualizer.draw_polygons([np.array([[40, 25], [55, 25], [55, 38]])], edge_colors="b")
    visualizer.draw_lines(np.array([0, 59]), np.array([39, 39]), colors="g")
    visualizer.draw_points(np.array([[50, 10]]), colors="w", sizes=30)
    visualizer.draw_circles(np.array([[10, 30]]), np.array([5]), edge_colors="y")
    visualizer.draw_texts("hi", np.array([[35, 2]]), colors="w", font_sizes=8)
    assert (visualizer.get_image() != drawn).any()
    with pytest.raises(ValueError, match="x1 <= x2"):
        visualizer.draw_bboxes(np.array([[30, 5, 5, 20]]))
    with pytest.raises(AssertionError, match="x1 <= x2"):  # as MMEngine raises it
        visualizer.draw_bboxes(np.array([[30, 5, 5, 20]]))


def test_binary_masks_blend_their_colour_over_the_masked_pixels():
    visualizer = Visualizer(image=np.zeros((10, 10, 3), np.uint8))
    mask = np.zeros((10, 10), bool)
    mask[2:5, 2:5] = True
    visualizer.draw_binary_masks(mask, colors=(0, 0, 255), alphas=1.0)
    out = visualizer.get_image()
    assert (out[3, 3] == [0, 0, 255]).all() and (out[8, 8] == 0).all()


def test_featmap_as_heatmap_and_grid():
    torch = pytest.importorskip("torch")
    feat = torch.rand(6, 8, 8)
    heat = Visualizer.draw_featmap(feat, overlaid_image=np.zeros((16, 16, 3), np.uint8))
    assert heat.shape == (16, 16, 3) and heat.dtype == np.uint8
    grid = Visualizer.draw_featmap(feat, channel_reduction=None, topk=4, arrangement=(2, 2))
    assert grid.shape == (16, 16, 3)


def test_drawing_before_an_image_is_set_says_what_to_do():
    with pytest.raises(RuntimeError, match="set_image"):
        Visualizer().draw_bboxes(np.array([[0, 0, 1, 1]]))


GRAY = 60


def _visualizer(height: int = 40, width: int = 60) -> Visualizer:
    return Visualizer(image=np.full((height, width, 3), GRAY, np.uint8))


def test_a_filled_box_has_its_colour_inside_and_leaves_the_rest_unchanged():
    visualizer = _visualizer()
    visualizer.draw_bboxes(
        np.array([10, 10, 30, 20]), edge_colors=(255, 0, 0), face_colors=(255, 0, 0), alpha=1.0
    )
    drawn = visualizer.get_image()
    assert (drawn[12:19, 12:29] == [255, 0, 0]).all()
    outside = np.ones((40, 60), bool)
    outside[7:24, 7:34] = False  # the box with its edge's width
    assert (drawn[outside] == GRAY).all()


def test_polygon_circle_point_line_and_text_pixels():
    torch = pytest.importorskip("torch")
    visualizer = _visualizer()
    visualizer.draw_polygons(
        torch.tensor([[40, 5], [58, 5], [58, 25]]), face_colors=(0, 0, 255), alpha=1.0
    )
    visualizer.draw_circles(np.array([[10, 30]]), np.array([6]), face_colors="w", alpha=1.0)
    visualizer.draw_points(np.array([[25, 30]]), colors="r", sizes=60)
    visualizer.draw_lines(np.array([[0, 59]]), np.array([[38, 38]]), colors=[(0, 255, 0)])
    drawn = visualizer.get_image()
    assert (drawn[8, 54] == [0, 0, 255]).all()  # inside the triangle
    assert (drawn[20, 42] == GRAY).all()  # beside it
    assert (drawn[30, 10] == [255, 255, 255]).all()  # the circle's centre
    assert (drawn[30, 25] == [255, 0, 0]).all()  # the point
    assert drawn[38, 30, 1] > 150 and drawn[38, 30, 0] < 100  # the line
    assert (drawn[2, 2] == GRAY).all()
    visualizer.draw_texts(["a", "b"], np.array([[2, 2], [20, 2]]), colors=["w", "w"])
    assert (visualizer.get_image()[:12, :30] != GRAY).any()


def test_binary_mask_blends_exactly_over_the_masked_pixels_only():
    visualizer = _visualizer(10, 10)
    mask = np.zeros((2, 10, 10), bool)
    mask[0, 2:5, 2:5] = True
    mask[1, 6:9, 6:9] = True
    visualizer.draw_binary_masks(mask, colors=[(200, 0, 0), "b"], alphas=[0.5, 1.0])
    out = visualizer.get_image()
    assert (out[2:5, 2:5] == [130, 30, 30]).all()
    assert (out[6:9, 6:9] == [0, 0, 255]).all()
    assert (out[~mask.any(0)] == GRAY).all()


def test_inputs_are_checked_as_mmengine_checks_them():
    visualizer = _visualizer()
    with pytest.raises(TypeError, match="`bboxes` should be"):
        visualizer.draw_bboxes([[0, 0, 1, 1]])
    with pytest.raises(AssertionError, match=r"\(N, 4\)"):
        visualizer.draw_bboxes(np.array([[0, 0, 1]]))
    with pytest.raises(AssertionError, match="same shape"):
        visualizer.draw_lines(np.array([[0, 1]]), np.array([[0, 1], [2, 3]]))
    with pytest.raises(AssertionError, match="num_text|\\(2, 2\\)"):
        visualizer.draw_texts(["a", "b"], np.array([[0, 0]]))
    with pytest.raises(AssertionError, match="np.bool_"):
        visualizer.draw_binary_masks(np.zeros((40, 60), np.uint8))
    with pytest.raises(AssertionError, match="same shape with image"):
        visualizer.draw_binary_masks(np.zeros((4, 6), bool))
    with pytest.warns(UserWarning, match="out of bounds"):
        visualizer.draw_bboxes(np.array([[50, 5, 100, 20]]))


def test_featmap_reductions_and_grid_layout():
    torch = pytest.importorskip("torch")
    feat = torch.zeros(3, 4, 4)
    feat[1, 0, 0] = 9.0  # channel 1 has the largest sum, its peak at the top-left
    top = Visualizer.draw_featmap(feat, channel_reduction="select_max")
    assert top[0, 0].tolist() == [128, 0, 0] and top[3, 3].tolist() == [0, 0, 128]
    grid = Visualizer.draw_featmap(feat, channel_reduction=None, topk=2, arrangement=(1, 3))
    assert grid.shape == (4, 12, 3)
    assert (grid[:, 8:] == 255).all()  # the third cell is empty
    with pytest.raises(AssertionError, match="arrangement"):
        Visualizer.draw_featmap(feat, channel_reduction=None, topk=5, arrangement=(2, 2))
    with pytest.raises(AssertionError, match="squeeze_mean"):
        Visualizer.draw_featmap(feat, channel_reduction="max")
    with pytest.raises(AssertionError, match="torch.Tensor"):
        Visualizer.draw_featmap(np.zeros((3, 4, 4)))


def test_a_downstream_visualizer_subclass_draws_through_the_api():
    class DetVisualizer(Visualizer):
        def add_datasample(self, name, image, data_sample=None, **kwargs):
            self.set_image(image)
            self.draw_bboxes(data_sample, edge_colors=self.dataset_meta["palette"][0])
            self.draw_texts("cat", data_sample[:, :2], colors="w")
            return self.get_image()

    visualizer = DetVisualizer(name="det_vis_test")
    visualizer.dataset_meta = {"classes": ["cat"], "palette": [(255, 0, 0)]}
    image = np.zeros((30, 30, 3), np.uint8)
    drawn = visualizer.add_datasample("x", image, np.array([[5.0, 5.0, 25.0, 25.0]]))
    assert drawn.shape == (30, 30, 3) and drawn[5, 15, 0] > 100
