"""Worker for tests/test_distributed: rank 1 dies (``os._exit(1)``) after its second iteration.

Run under ``torchrun --nproc-per-node 2``; the job must fail, with torchrun naming the dead
rank, instead of rank 0 waiting forever in the next gradient all-reduce.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _toy import runner_kwargs  # noqa: E402

from torchrig.hooks import Hook  # noqa: E402
from torchrig.runner import Runner  # noqa: E402


class DieOnRankOne(Hook):
    """Kills rank 1 without any clean-up, as an out-of-memory kill or a crash would."""

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.rank == 1 and runner.iter + 1 == 2:
            sys.stdout.flush()
            os._exit(1)


def main() -> None:
    kwargs = runner_kwargs(sys.argv[1], "pytorch", batch_size=2, max_iters=50)
    kwargs["env_cfg"] = dict(dist_cfg=dict(backend="gloo", timeout=20))
    kwargs["custom_hooks"] = [DieOnRankOne()]
    Runner(**kwargs).train()


if __name__ == "__main__":
    main()
