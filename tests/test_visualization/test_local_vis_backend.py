"""LocalVisBackend: JSON lines, PNG images and the config file, read back."""

from __future__ import annotations

import json
import zlib

import numpy as np

from tests.test_visualization._readers import read_local_scalars
from torchrig.config import Config
from torchrig.visualization import LocalVisBackend
from torchrig.visualization._values import encode_png


def _decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    raw = np.frombuffer(zlib.decompress(data[start : start + length]), np.uint8)
    return raw.reshape(height, -1)[:, 1:].reshape(height, width, -1)


def test_scalars_images_and_config_land_in_files(tmp_path):
    backend = LocalVisBackend(str(tmp_path / "vis_data"))
    backend.add_config(Config(dict(model=dict(type="MLP", depth=3), lr=0.1)), env={"python": "3"})
    backend.add_scalars({"loss": np.float32(0.5), "epoch": 1}, step=7, file_path="extra.json")
    backend.add_scalar("lr", 0.1, step=8)
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    backend.add_image("val/pred", image, step=8)
    backend.close()

    assert read_local_scalars(str(tmp_path / "vis_data" / "scalars.json")) == [
        {"loss": 0.5, "epoch": 1, "step": 7},
        {"lr": 0.1, "step": 8},
    ]
    assert read_local_scalars(str(tmp_path / "vis_data" / "extra.json")) == [
        {"loss": 0.5, "epoch": 1, "step": 7}
    ]
    written = (tmp_path / "vis_data" / "vis_image" / "val" / "pred_8.png").read_bytes()
    assert (_decode_png(written) == image).all()
    loaded = Config.fromfile(str(tmp_path / "vis_data" / "config.py"))
    assert loaded.model.depth == 3 and loaded.lr == 0.1
    assert json.loads((tmp_path / "vis_data" / "environment.json").read_text()) == {"python": "3"}


def test_png_encoder_handles_gray_and_rgba():
    gray = np.array([[0, 255], [10, 20]], np.uint8)
    assert (_decode_png(encode_png(gray))[..., 0] == gray).all()
    rgba = np.full((3, 2, 4), 7, np.uint8)
    assert (_decode_png(encode_png(rgba)) == rgba).all()
