"""A process that logs steps to a W&B-backed Visualizer, checkpoints, then dies with SIGKILL.

Run as ``python _crash_run.py SAVE_DIR STATE_FILE FIRST LAST FLUSH_AT KILL`` (used by the
crash tests): logs steps FIRST..LAST, flushes and saves ``visualizer.state_dict()`` to STATE_FILE
at FLUSH_AT (a checkpoint), resumes from STATE_FILE first if it exists, and ends with SIGKILL
when KILL is 1 (else closes normally).
"""

from __future__ import annotations

import json
import os
import signal
import sys

from torchrig.visualization import Visualizer


def main() -> None:
    save_dir, state_file = sys.argv[1], sys.argv[2]
    first, last, flush_at, kill = (int(a) for a in sys.argv[3:7])
    visualizer = Visualizer(
        vis_backends=[
            dict(type="WandbVisBackend", init_kwargs=dict(project="crash")),
            dict(type="LocalVisBackend"),
        ],
        save_dir=save_dir,
    )
    if os.path.exists(state_file):
        with open(state_file, encoding="utf-8") as f:
            visualizer.load_state_dict(json.load(f))
    visualizer.add_config({"model": "mlp"})
    for step in range(first, last + 1):
        visualizer.add_scalars({"loss": 1.0 / step, "iter": step, "epoch": 0}, step=step)
        if step == flush_at:
            visualizer.flush()
            with open(state_file, "w", encoding="utf-8") as f:
                json.dump(visualizer.state_dict(), f)
            visualizer.add_scalars({"accuracy": 0.5, "iter": step, "epoch": 0}, step=step)
    if kill:
        visualizer.flush()  # the values reach W&B's writer, which still loses them on SIGKILL
        os.kill(os.getpid(), signal.SIGKILL)
    visualizer.close()


if __name__ == "__main__":
    main()
