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
ORDER = ["engine", "tracking", "history", "dataset", "config"]


def main(argv: list[str]) -> int:
    names = argv or ORDER
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), WANDB_MODE="offline", WANDB_SILENT="true")
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"== {name}: no {script.name}")
            failed.append(name)
            continue
        print(f"\n== {script.name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], env=env, cwd=HERE.parent)
        print(f"== {script.name}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
