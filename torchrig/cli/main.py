"""Entry point of the ``torchrig`` command: parses arguments and dispatches to a subcommand.

Bad arguments and bad configs end with one line on stderr saying what and where, and exit
code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["CliError", "build_parser", "main"]


class CliError(Exception):
    """An error the user can mend; printed as one line without a traceback."""


def _add_cfg_options(parser: argparse.ArgumentParser) -> None:
    from torchrig.config import DictAction

    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        metavar="KEY=VALUE",
        help="override config entries, e.g. train_cfg.max_epochs=2 'model.layers=[64,32]'",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``torchrig`` command."""
    parser = argparse.ArgumentParser(
        prog="torchrig", description="Train and test PyTorch models from MMEngine-style configs."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug is also accepted after the subcommand; SUPPRESS keeps a subcommand's default
    # from overwriting a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def add_command(name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[debug], **kwargs)

    train = add_command(
        "train",
        help="train a model from a config",
        allow_abbrev=False,  # a sweep's --key=value must not be taken for an option prefix
        epilog="Further arguments key=value, --key=value or --key value override config keys "
        "(what `wandb agent` passes with ${args_no_hyphens} or ${args}).",
    )
    train.add_argument("config", help="the config file (.py, .json, .yaml)")
    train.add_argument(
        "--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)"
    )
    train.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="auto|PATH",
        help="resume from the latest checkpoint in the work dir (auto) or from PATH",
    )
    train.add_argument("--amp", action="store_true", help="mixed precision (AmpOptimWrapper)")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    train.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    _add_cfg_options(train)

    test = add_command("test", help="evaluate a checkpoint on the test set")
    test.add_argument("config")
    test.add_argument("checkpoint")
    test.add_argument("--work-dir")
    test.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    _add_cfg_options(test)

    plot = add_command("plot", help="plot curves from a work dir's local scalars")
    plot.add_argument("work_dir")
    plot.add_argument("--keys", nargs="+", help="scalars to plot (default: losses and val metrics)")
    plot.add_argument("--out", help="the PNG to write (default: WORK_DIR/curves.png)")

    config = add_command("config", help="print the fully resolved config")
    config.add_argument("config")
    _add_cfg_options(config)

    convert = add_command(
        "convert",
        help="rewrite a trusted checkpoint that torch.load(weights_only=True) refuses "
        "(MMEngine's) as one torchrig loads: its weights and meta",
    )
    convert.add_argument("checkpoint", help="the checkpoint to convert (you trust its source)")
    convert.add_argument("out", help="the converted file to write")
    from torchrig.cli import sweep

    sweep.add_parser(commands, parents=[debug])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra  # train's config overrides (W&B sweep agents pass these)
    from torchrig.cli import commands, sweep

    handler = {
        "train": commands.train,
        "test": commands.test,
        "plot": commands.plot,
        "config": commands.show_config,
        "convert": commands.convert,
        "sweep": sweep.sweep,
    }[args.command]
    try:
        handler(args)
    except KeyboardInterrupt:
        print("torchrig: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"torchrig {args.command}: error: {_one_line(err)}", file=sys.stderr)
        print("(run with --debug for the traceback)", file=sys.stderr)
        return 2
    return 0


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _one_line(err: BaseException) -> str:
    """The error as one line: its message as written (quotes kept), no terminal codes."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]  # str(KeyError) would wrap the message in quotes
    else:
        text = str(err)
    text = " ".join(_ANSI.sub("", text).split()) or type(err).__name__
    if isinstance(err, CliError):
        return text
    return f"{type(err).__name__}: {text}"
