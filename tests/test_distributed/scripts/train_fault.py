"""Worker for tests/test_distributed/test_fault_tolerance.py: 40 iterations of the toy
regression under torchrun (checkpoints every 10, validation every 20, W&B offline).

``python train_fault.py OUT MODE``; MODE is
- ``plain``: train to the end;
- ``fail_once``: rank 1 raises at iteration 25 unless ``OUT/failed`` exists (it creates it), so
  that under ``torchrun --max-restarts 1`` only the first attempt fails;
- ``die``: rank 1 is killed (SIGKILL) at iteration 5, as the out-of-memory killer would
  (the time is written to ``OUT/killed_at``);
- ``multinode``: ``plain``, then the exact evaluation of ``evaluate_exactly.py``.
Rank 0 writes the final weights to ``OUT/final.pth`` and the last validation's metrics to
``OUT/metrics.json``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from _toy import RecordMetrics, train_val_kwargs  # noqa: E402

from torchrig import dist  # noqa: E402
from torchrig.hooks import Hook  # noqa: E402
from torchrig.runner import Runner  # noqa: E402

ITERS = 40


class Fault(Hook):
    """Makes rank 1 fail as ``mode`` says."""

    def __init__(self, out: Path, mode: str) -> None:
        self.out, self.mode = out, mode

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.rank != 1:
            return
        done = runner.iter + 1
        if self.mode == "fail_once" and done == 25 and not (self.out / "failed").exists():
            (self.out / "failed").touch()
            raise RuntimeError("planned failure of rank 1 at iteration 25")
        if self.mode == "die" and done == 5:
            (self.out / "killed_at").write_text(repr(time.time()))
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    out, mode = Path(sys.argv[1]), sys.argv[2]
    kwargs = train_val_kwargs(str(out / "work"), "pytorch", batch_size=2, max_iters=ITERS)
    kwargs["train_cfg"] = dict(by_epoch=False, max_iters=ITERS, val_interval=20)
    kwargs.update(
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=10, by_epoch=False),
            logger=dict(type="LoggerHook", interval=5),
        ),
        visualizer=dict(
            type="Visualizer",
            vis_backends=[
                dict(type="LocalVisBackend"),
                dict(type="WandbVisBackend", init_kwargs=dict(project="torchrig-fault")),
            ],
        ),
        experiment_name="fault",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=30)),
    )
    kwargs["custom_hooks"] = [*kwargs["custom_hooks"], Fault(out, mode)]
    runner = Runner(**kwargs)
    try:
        runner.train()
    finally:
        runner.visualizer.close()
    state = runner.model.state_dict()
    record = next(hook for hook in runner.hooks if isinstance(hook, RecordMetrics))
    if dist.is_main_process():
        torch.save(
            {key.removeprefix("module."): value for key, value in state.items()}, out / "final.pth"
        )
        (out / "metrics.json").write_text(json.dumps(record.metrics))
    if mode == "multinode":
        from evaluate_exactly import evaluate

        report = evaluate(str(out / "evaluate"), "pytorch", lengths=(1000, 7))
        if dist.is_main_process():
            (out / "evaluate.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
