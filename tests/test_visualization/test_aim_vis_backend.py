"""AimVisBackend: what it hands to ``aim.Run`` (a unit test with a stand-in ``aim`` module).

aim 3.29.1 installs here, but a run it writes reads back empty in a fresh process (no params,
no metrics), so there is no real store to check against; these tests check the calls.
"""

from __future__ import annotations

import sys
from unittest.mock import MagicMock, patch

import numpy as np
import pytest

from torchrig.visualization import AimVisBackend


@pytest.fixture
def fake_aim():
    aim = MagicMock(name="aim")
    with patch.dict(sys.modules, {"aim": aim}):
        yield aim


def test_run_config_scalars_images_and_resume(tmp_path, fake_aim):
    run = fake_aim.Run.return_value
    run.hash = "abc123"
    backend = AimVisBackend(str(tmp_path / "repo"), init_kwargs={"experiment": "digits"})
    backend.add_config({"optim": {"lr": 0.1}}, env={"python": "3.11"})
    backend.add_scalars({"loss": 0.5, "note": "not a number"}, step=7)
    backend.add_image("pred", np.zeros((2, 2, 3), np.uint8), step=7)
    assert backend.state_dict() == {"run_hash": "abc123"}
    backend.close()

    fake_aim.Run.assert_called_once_with(experiment="digits", repo=str(tmp_path / "repo"))
    run.__setitem__.assert_any_call("hparams", {"optim": {"lr": 0.1}})
    run.__setitem__.assert_any_call("environment", {"python": "3.11"})
    run.track.assert_any_call(0.5, name="loss", step=7)
    assert [c.kwargs["name"] for c in run.track.call_args_list] == ["loss", "pred"]
    run.close.assert_called_once_with()

    resumed = AimVisBackend(str(tmp_path / "repo"))
    resumed.load_state_dict({"run_hash": "abc123"})
    resumed.add_scalar("loss", 0.4, step=8)
    assert fake_aim.Run.call_args.kwargs == {"repo": str(tmp_path / "repo"), "run_hash": "abc123"}


def test_a_missing_aim_names_the_extra(tmp_path):
    with patch.dict(sys.modules, {"aim": None}):
        with pytest.raises(ImportError, match=r"pip install torchrig\[aim\]"):
            AimVisBackend(str(tmp_path)).add_scalar("loss", 1.0)
