"""The ``torchrig`` subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from torchrig.cli.main import CliError

__all__ = ["convert", "load_config", "plot", "show_config", "test", "train"]


def load_config(path: str, cfg_options: dict[str, Any] | None) -> Any:
    """Loads a config file and applies ``--cfg-options``."""
    from torchrig.config import Config

    if not os.path.isfile(path):
        raise CliError(f"config file not found: {path}")
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _is_reference(path: str) -> bool:
    """A W&B artifact reference (``wandb-artifact://...``), downloaded when loaded."""
    return path.startswith("wandb-artifact://")


def _default_work_dir(cfg: Any, config_path: str, given: str | None) -> str:
    if given:
        return given
    if cfg.get("work_dir"):
        return cfg.work_dir
    return os.path.join("work_dirs", Path(config_path).stem)


def _build_runner(cfg: Any) -> Any:
    from torchrig.registry import RUNNERS

    if "runner_type" in cfg:
        return RUNNERS.build(cfg)
    from torchrig.runner import Runner

    return Runner.from_cfg(cfg)


def train(args: argparse.Namespace) -> None:
    """``torchrig train CONFIG [key=value ...]``: builds the Runner from the config and trains."""
    cfg = load_config(args.config, args.cfg_options)
    if getattr(args, "overrides", None):
        from torchrig.cli.sweep import parse_overrides
        from torchrig.visualization._wandb_sweep import merge_overrides

        merge_overrides(cfg, parse_overrides(args.overrides), "torchrig train arguments")
    cfg.launcher = args.launcher
    cfg.work_dir = _default_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        optim_wrapper = cfg.get("optim_wrapper")
        if optim_wrapper is None:
            raise CliError(f"--amp needs an optim_wrapper in {args.config}")
        optim_wrapper.type = "AmpOptimWrapper"
        optim_wrapper.setdefault("loss_scale", "dynamic")
    if args.resume == "auto":
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not _is_reference(args.resume) and not os.path.isfile(args.resume):
            raise CliError(f"--resume: checkpoint not found: {args.resume}")
        cfg.resume = True
        cfg.load_from = args.resume
    if args.seed is not None:
        randomness = dict(cfg.get("randomness") or {})
        randomness["seed"] = args.seed
        cfg.randomness = randomness
    runner = _build_runner(cfg)
    from torchrig.runner import TrainingStopped

    try:
        runner.train()
    except TrainingStopped as stop:  # exits with 128 + signal, as a shell reports it
        print(f"torchrig train: {stop}", file=sys.stderr)
        raise
    if getattr(runner, "rank", 0) == 0:
        curves = _draw_curves(Path(runner.work_dir))
        print(_summary(runner, curves))


def _draw_curves(work_dir: Path) -> str:
    """Draws the run's curves next to its checkpoints; says why when it cannot."""
    from torchrig.cli.plot import plot_curves, read_scalars

    try:
        records = read_scalars(work_dir)
        if not records:
            return "no scalars were logged (no LocalVisBackend in the visualizer)"
        out = work_dir / "curves.png"
        plot_curves(records, out)
        return str(out)
    except ImportError:
        return f"pip install matplotlib, then run `torchrig plot {work_dir}`"
    except ValueError as err:
        return f"not drawn: {err}"


def _summary(runner: Any, curves: str) -> str:
    work_dir = Path(runner.work_dir)
    lines = ["", "torchrig: training finished. Where things are:"]
    checkpoints = sorted(work_dir.glob("*.pth"), key=os.path.getmtime)
    if checkpoints:
        lines.append(f"  checkpoints:  {', '.join(str(p) for p in checkpoints[-3:])}")
    log_dir = Path(getattr(runner, "log_dir", work_dir))
    for log_file in sorted(log_dir.glob("*.log")):
        lines.append(f"  log:          {log_file}")
    scalars = log_dir / "vis_data" / "scalars.json"
    if scalars.exists():
        lines.append(f"  scalars:      {scalars}")
    for run_dir in sorted(work_dir.rglob("offline-run-*")):
        lines.append(f"  W&B run:      {run_dir}  (upload with: wandb sync {run_dir})")
    for run_dir in sorted(work_dir.rglob("run-*")):
        if run_dir.is_dir() and run_dir.parent.name == "wandb":
            lines.append(f"  W&B run:      {run_dir}")
    lines.append(f"  curves:       {curves}")
    return "\n".join(lines)


def test(args: argparse.Namespace) -> None:
    """``torchrig test CONFIG CHECKPOINT``: evaluates a checkpoint with the config's test loop."""
    cfg = load_config(args.config, args.cfg_options)
    if not _is_reference(args.checkpoint) and not os.path.isfile(args.checkpoint):
        raise CliError(f"checkpoint not found: {args.checkpoint}")
    cfg.launcher = args.launcher
    cfg.work_dir = _default_work_dir(cfg, args.config, args.work_dir)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    runner = _build_runner(cfg)
    metrics = runner.test()
    if getattr(runner, "rank", 0) == 0 and metrics:
        for key, value in metrics.items():
            print(f"{key}: {value}")


def show_config(args: argparse.Namespace) -> None:
    """``torchrig config CONFIG``: prints the fully resolved config as Python."""
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)


def plot(args: argparse.Namespace) -> None:
    """``torchrig plot WORK_DIR``: draws curves from the local backend's scalars as a PNG."""
    from torchrig.cli.plot import plot_curves, read_scalars

    work_dir = Path(args.work_dir)
    if not work_dir.is_dir():
        raise CliError(f"work dir not found: {work_dir}")
    records = read_scalars(work_dir)
    if not records:
        raise CliError(
            f"no scalars in {work_dir}: expected <timestamp>/vis_data/scalars.json written by "
            "LocalVisBackend"
        )
    out = Path(args.out) if args.out else work_dir / "curves.png"
    drawn = plot_curves(records, out, keys=args.keys)
    print(f"torchrig plot: wrote {out} ({', '.join(drawn)})")


def convert(args: argparse.Namespace) -> None:
    """``torchrig convert CHECKPOINT OUT``: keeps the weights and meta of a trusted checkpoint.

    MMEngine's checkpoints hold objects (``HistoryBuffer``, NumPy values) that
    ``torch.load(weights_only=True)`` refuses; the converted file loads with ``load_from``.
    """
    import torch

    if not os.path.isfile(args.checkpoint):
        raise CliError(f"checkpoint not found: {args.checkpoint}")
    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict):
        raise CliError(
            f"{args.checkpoint} holds a {type(checkpoint).__name__}, not a checkpoint dict"
        )
    state_dict = checkpoint.get("state_dict", checkpoint)
    meta = checkpoint.get("meta") or {}
    plain_meta = {
        k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, type(None)))
    }
    torch.save({"meta": plain_meta, "state_dict": dict(state_dict)}, args.out)
    print(f"torchrig convert: wrote {args.out} ({len(state_dict)} tensors); load it with load_from")
