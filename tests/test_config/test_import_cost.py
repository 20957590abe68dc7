from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_torchrig_config_imports_no_torch_or_tracker():
    code = (
        "import sys\n"
        "import torchrig.config\n"
        "import torchrig.fileio\n"
        "from torchrig.config import Config\n"
        "cfg = Config.fromfile(sys.argv[1])\n"
        "bad = [m for m in ('torch', 'wandb', 'tensorboard', 'mlflow', 'yapf')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    config = ROOT / "tests/data/config/inherit/child.py"
    out = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert out.stdout.strip() == ""
