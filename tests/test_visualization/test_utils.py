"""visualization.utils: type/length checks, colours, heat maps, canvases."""

from __future__ import annotations

import numpy as np
import pytest

from torchrig.visualization.utils import (
    check_length,
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

pytest.importorskip("matplotlib")


def test_checks_name_the_argument():
    check_type("sizes", [1, 2], (list, int))
    with pytest.raises(TypeError, match="`sizes` should be"):
        check_type("sizes", "big", (list, int))
    check_length("sizes", [1, 2], 2)
    check_length("sizes", 3, 5)  # not a list: nothing to check
    with pytest.raises(AssertionError, match="sizes must equal with or greater than 3"):
        check_length("sizes", [1, 2], 3)
    with pytest.raises(AssertionError):
        check_type_and_length("sizes", [1], list, 2)


def test_value2list_and_tensor2ndarray():
    torch = pytest.importorskip("torch")
    assert value2list("g", str, 3) == ["g", "g", "g"]
    assert value2list(["r", "g"], str, 3) == ["r", "g"]
    array = tensor2ndarray(torch.arange(3))
    assert isinstance(array, np.ndarray) and array.tolist() == [0, 1, 2]
    assert tensor2ndarray([1]) == [1]


def test_colours():
    assert color_val_matplotlib("red") == "red"
    assert color_val_matplotlib((255, 0, 51)) == (1.0, 0.0, 0.2)
    assert color_val_matplotlib([(0, 255, 0), "b"]) == [(0.0, 1.0, 0.0), "b"]
    with pytest.raises(AssertionError):
        color_val_matplotlib((300, 0, 0))
    with pytest.raises(TypeError):
        color_val_matplotlib(3)
    assert color_str2rgb("red") == (255, 0, 0)
    assert color_str2rgb("g") == (0, 127, 0)


def test_heatmap_spans_jet_and_blends():
    feat = np.array([[0.0, 1.0], [2.0, 4.0]])
    heat = convert_overlay_heatmap(feat)
    assert heat.shape == (2, 2, 3) and heat.dtype == np.uint8
    assert heat[0, 0].tolist() == [0, 0, 128]  # jet's bottom: dark blue
    assert heat[1, 1].tolist() == [128, 0, 0]  # jet's top: dark red
    image = np.full((2, 2, 3), 100, np.uint8)
    blended = convert_overlay_heatmap(feat, image, alpha=0.5)
    assert blended[0, 0].tolist() == [50, 50, 114]
    with pytest.raises(AssertionError, match="C 1 or 3"):
        convert_overlay_heatmap(np.zeros((2, 3, 3)))


def test_img_from_canvas_reads_the_drawn_pixels():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.2, 0.1), dpi=100, facecolor=(1.0, 0.0, 0.0))
    image = img_from_canvas(FigureCanvasAgg(fig))
    assert image.shape == (10, 20, 3) and (image == [255, 0, 0]).all()


def test_wait_continue_returns_zero_after_its_timeout():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    assert wait_continue(fig, timeout=0.05) == 0
