"""TensorboardVisBackend, read back with tensorboard's EventAccumulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_visualization._readers import read_tensorboard
from torchrig.visualization import TensorboardVisBackend

pytest.importorskip("tensorboard")


def test_scalars_images_config_and_resume_in_the_same_directory(tmp_path):
    log_dir = str(tmp_path / "tb")
    first = TensorboardVisBackend(log_dir)
    first.add_config({"lr": 0.1}, env={"python": "3"})
    for it in range(1, 11):
        first.add_scalars({"loss": float(it), "note": "text is skipped"}, step=it)
        if it == 6:
            first.add_image("pred", np.zeros((4, 5, 3), np.uint8), step=6)
            first.flush()
            state = json.loads(json.dumps(first.state_dict()))
    first.add_image("pred", np.zeros((4, 5, 3), np.uint8), step=10)  # after the checkpoint
    first.close()

    resumed = TensorboardVisBackend(str(tmp_path / "elsewhere"))
    resumed.load_state_dict(state)
    for it in range(7, 13):
        resumed.add_scalars({"loss": float(it) + 100}, step=it)
    resumed.close()

    data = read_tensorboard(log_dir)
    loss = data["scalars"]["loss"]
    assert [step for step, _ in loss] == list(range(1, 13))  # steps after the checkpoint: once
    assert dict(loss)[6] == 6.0 and dict(loss)[7] == 107.0
    assert "note" not in data["scalars"]
    assert data["images"] == {"pred": [6]}  # step 10 was purged with the other steps > 6
    assert any(tag.startswith("config") for tag in data["tensors"])
    assert not (tmp_path / "elsewhere").exists()
