#!/usr/bin/env bash
# Runs the test suite on the oldest torch and Python that pyproject.toml declares.
#
#   .ci/oldest-torch.sh [pytest arguments...]
#
# Environment: PYTHON (a Python 3.10 interpreter; found with pyenv or uv when unset),
# VENV (default /work/venvs/oldest-torch), TORCH (default: the floor in pyproject.toml).
# The venv is made once and reused. PyPI's torch wheels for Linux carry CUDA: the first
# run downloads about 3 GB (torch and its nvidia-* packages); the tests run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

floor() {  # the version after ">=" in pyproject.toml's line for $1
    sed -n "s/.*\"$1>=\([0-9.]*\)\".*/\1/p" pyproject.toml | head -n 1
}
TORCH=${TORCH:-$(floor torch)}
VENV=${VENV:-/work/venvs/oldest-torch}
if [ -z "${PYTHON:-}" ]; then
    if command -v python3.10 >/dev/null && python3.10 -c '' 2>/dev/null; then
        PYTHON=python3.10
    elif command -v pyenv >/dev/null && pyenv prefix 3.10 >/dev/null 2>&1; then
        PYTHON="$(pyenv prefix 3.10 | head -n 1)/bin/python3.10"
    elif command -v uv >/dev/null; then
        PYTHON="$(uv python find 3.10)"
    else
        echo "oldest-torch.sh: no Python 3.10 found; set PYTHON=/path/to/python3.10" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet "torch==$TORCH" -e ".[test]"
"$VENV/bin/python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)'
export PYTHONPATH="$PWD" WANDB_MODE=offline
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
