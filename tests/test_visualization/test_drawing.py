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
