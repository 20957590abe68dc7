"""The downstream test (mmcv-lite + mmpretrain on torchrig), when its environment is built.

Skipped unless ``TORCHRIG_DOWNSTREAM_VENV`` names an environment that ``run.sh`` has built
(it never downloads the 6 GB here); build it with ``bash tests/downstream/run.sh``.
"""

import os
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).with_name("run.sh")
VENV = os.environ.get("TORCHRIG_DOWNSTREAM_VENV", "")


@pytest.mark.slow
@pytest.mark.skipif(
    not (VENV and Path(VENV, ".torchrig-downstream").is_file()),
    reason="TORCHRIG_DOWNSTREAM_VENV does not name a built downstream environment",
)
def test_mmpretrain_trains_and_tests_through_the_alias(tmp_path):
    result = subprocess.run(
        ["bash", str(RUN), str(tmp_path)], capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert "DOWNSTREAM OK" in result.stdout
    assert (tmp_path / "work_dir" / "epoch_2.pth").is_file()
    assert "top-1 accuracy of the checkpoint:" in result.stdout
