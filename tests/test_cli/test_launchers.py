"""The CLI accepts every launcher MMEngine's tools accept."""

from __future__ import annotations

import pytest

from torchrig.cli.main import build_parser


@pytest.mark.parametrize("launcher", ["none", "pytorch", "slurm", "mpi"])
@pytest.mark.parametrize("command", [["train", "cfg.py"], ["test", "cfg.py", "ckpt.pth"]])
def test_launcher_choices(command, launcher):
    args = build_parser().parse_args([*command, "--launcher", launcher])
    assert args.launcher == launcher
