#!/usr/bin/env bash
# Runs the tracking tests against the oldest tracker versions torchrig supports: the lower
# bounds of wandb, tensorboard and mlflow in pyproject.toml's `all` extra, installed in a
# virtual environment on top of the system's packages (torch and the rest stay as they are).
# Usage: .ci/oldest-trackers.sh [VENV_DIR]   (default: /tmp/torchrig-oldest-trackers)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-/tmp/torchrig-oldest-trackers}
pins=$(python - <<'PY'
import re, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["all"]
for spec in extras:
    match = re.fullmatch(r"(wandb|tensorboard|mlflow)>=([\w.]+)", spec)
    if match:
        print(f"{match[1]}=={match[2]}")
PY
)
# The libraries of their time that they need and do not bound from above: mlflow 2.10 imports
# names SQLAlchemy 2.1 removed.
era="sqlalchemy<2.1"
echo "+ oldest declared trackers: $(echo $pins) ($era)"
python -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q $pins "$era"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
print("+ testing with", ", ".join(f"{n} {version(n)}" for n in ("wandb", "tensorboard", "mlflow", "sqlalchemy")))
PY
WANDB_MODE=offline PYTHONPATH="$PWD" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/test_visualization tests/test_e2e/test_wandb_kill_resume.py \
  tests/test_e2e/test_wandb_user_code.py tests/test_e2e/test_wandb_torchrun.py
