"""Runs every benchmark in this folder, one after the other, and prints their reports.

Each benchmark measures torchrig against a raw PyTorch baseline in the same process or run,
interleaved, and prints ratios; run on a quiet machine. Usage:

    python benchmarks/run_all.py [NAME ...]     # e.g. engine tracking
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (benchmark, its arguments): the engine's targets, logging and tracking through the Runner
# (issue 14's cases), then the parts.
ORDER = [
    ("engine", []),
    ("tracking", []),
    ("history", []),
    ("dataset", []),
    ("config", []),
]


def main(argv: list[str]) -> int:
    runs = [(name, args) for name, args in ORDER if not argv or name in argv]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), WANDB_MODE="offline", WANDB_SILENT="true")
    failed = []
    for name, args in runs:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"== {name}: no {script.name}")
            failed.append(name)
            continue
        title = " ".join([script.name, *args])
        print(f"\n== {title}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *args], env=env, cwd=HERE.parent)
        print(f"== {title}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
