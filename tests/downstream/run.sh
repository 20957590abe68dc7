#!/usr/bin/env bash
# The downstream test (issue 13): OpenMMLab's own code on torchrig through the mmengine alias.
#
# Builds (once, then reuses) a virtual environment with torch 2.14.1 + torchvision 0.29.1,
# mmcv-lite 2.1.0 and mmpretrain 1.2.0 (installed with --no-deps: NO real mmengine) and their
# pure-Python dependencies, then runs tests/downstream/downstream.py in it with this checkout
# of torchrig on PYTHONPATH and TORCHRIG_MMENGINE_ALIAS=1.
#
#   bash tests/downstream/run.sh [WORK_DIR]
#
# TORCHRIG_DOWNSTREAM_VENV: where the environment lives (default: ~/.cache/torchrig/downstream).
# The first run downloads about 6 GB (torch's CUDA build; it runs on the CPU here).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${TORCHRIG_DOWNSTREAM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/torchrig/downstream}"
PYTHON="${PYTHON:-python3}"
# Everything the environment holds; a change here rebuilds it.
PINNED="torch==2.14.1 torchvision==0.29.1"
NO_DEPS="mmcv-lite==2.1.0 mmpretrain==1.2.0"
# mmcv-lite's and mmpretrain's requirements except mmengine, torchrig's own, and W&B.
DEPS="addict yapf pyyaml rich packaging opencv-python-headless termcolor einops mat4py
      matplotlib modelindex importlib-metadata numpy pillow wandb pytest"
STAMP="$VENV/.torchrig-downstream"
WANT="$PINNED | $NO_DEPS | $(echo $DEPS)"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    echo "building the downstream environment in $VENV"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q $PINNED
    "$VENV/bin/pip" install -q $DEPS $PINNED
    "$VENV/bin/pip" install -q --no-deps $NO_DEPS
    if "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('mmengine') is None)"; then
        echo "the real mmengine got installed into $VENV; the downstream test needs it absent" >&2
        exit 1
    fi
    echo "$WANT" > "$STAMP"
fi

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" TORCHRIG_MMENGINE_ALIAS=1 WANDB_MODE=offline
exec "$VENV/bin/python" "$REPO/tests/downstream/downstream.py" "$@"
