"""Worker: ``torchrun --nproc-per-node 2 _stop_two_ranks.py OUT`` (gloo, CPU).

Only rank 1 receives SIGTERM, during iteration 3; the ranks agree every 4 iterations
(``sync_interval=4``), so both stop after iteration 4, and rank 0 saves ``iter_4.pth``.
Each rank writes ``OUT/rank<r>.json`` with where it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test_distributed" / "scripts"))

from _toy import runner_kwargs  # noqa: E402

from torchrig.hooks import Hook  # noqa: E402
from torchrig.runner import Runner, TrainingStopped  # noqa: E402


class SignalRankOne(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.rank == 1 and runner.iter + 1 == 3:
            os.kill(os.getpid(), signal.SIGTERM)


def main(out: Path) -> None:
    kwargs = runner_kwargs(str(out), "pytorch", 4, 12)
    kwargs["env_cfg"]["graceful_stop"] = dict(sync_interval=4)
    kwargs["default_hooks"]["checkpoint"] = dict(
        type="CheckpointHook", interval=100, by_epoch=False
    )
    kwargs["custom_hooks"] = [SignalRankOne()]
    runner = Runner(**kwargs)
    try:
        runner.train()
    except TrainingStopped as stop:
        record = dict(iteration=stop.iteration, code=stop.code, checkpoint=stop.checkpoint)
        (out / f"rank{runner.rank}.json").write_text(json.dumps(record))
        raise


if __name__ == "__main__":
    main(Path(sys.argv[1]))
