"""W&B sweeps from the command line.

``torchrig train CONFIG key=value --key=value --key value`` takes config overrides the way
``wandb agent`` passes a run's parameters (the ``${args_no_hyphens}`` and ``${args}`` macros);
``torchrig sweep CONFIG --param KEY=SPEC ...`` writes a sweep YAML whose ``command`` runs
``torchrig train CONFIG`` with them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from torchrig.cli.main import CliError

__all__ = ["parse_overrides", "sweep", "sweep_config"]

# Distributions W&B sweeps accept with a min and a max (the others take values lists).
_RANGES = (
    "uniform",
    "int_uniform",
    "log_uniform_values",
    "q_uniform",
    "q_log_uniform_values",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
)


def _value(text: str) -> Any:
    from torchrig.config import DictAction

    return text if text.strip().startswith("{") else DictAction._parse_iterable(text)


def parse_overrides(tokens: Sequence[str]) -> dict[str, Any]:
    """Config overrides from command-line words: ``key=value``, ``--key=value``, ``--key value``.

    Values are read as ``--cfg-options`` reads them (numbers, booleans, ``None``, lists);
    ``{...}`` is a dict of nested keys (W&B's nested sweep parameters).

    Raises:
        CliError: A word that is none of these.
    """
    overrides: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        key, sep, text = token.removeprefix("--").partition("=")
        if not sep and token.startswith("--") and index < len(tokens):
            if not tokens[index].startswith("--"):
                text, sep = tokens[index], "="
                index += 1
        if not sep or not key or key.startswith("-") or any(not p for p in key.split(".")):
            raise CliError(
                f"cannot read argument {token!r}: config overrides are key=value, --key=value "
                "or --key value with a dotted config key (e.g. optim_wrapper.optimizer.lr=0.01)"
            )
        try:
            overrides[key] = _value(text)
        except ValueError as err:
            raise CliError(f"cannot read the value of {token!r}: {err}") from err
    return overrides


def _spec(key: str, spec: str) -> dict[str, Any]:
    """A sweep parameter from ``DIST:MIN:MAX`` (a W&B distribution), ``A,B,C`` (values) or
    one value."""
    dist, sep, rest = spec.partition(":")
    if sep and dist in _RANGES:
        low, sep2, high = rest.partition(":")
        if not sep2:
            raise CliError(f"--param {key}={spec}: a range is {dist}:MIN:MAX")
        return {"distribution": dist, "min": _value(low), "max": _value(high)}
    if sep and dist.isidentifier():
        raise CliError(
            f"--param {key}={spec}: unknown distribution {dist!r} (one of {', '.join(_RANGES)})"
        )
    value = _value(spec)
    if isinstance(value, list):
        return {"values": value}
    return {"value": value}


def sweep_config(
    config: str,
    params: Sequence[str],
    method: str = "bayes",
    metric: str | None = None,
    goal: str = "maximize",
    name: str | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """The sweep configuration (what ``wandb sweep`` reads) for a torchrig config.

    Args:
        config: The config file the sweep trains.
        params: ``KEY=SPEC`` strings, KEY a dotted config key (checked against the config),
            SPEC ``DIST:MIN:MAX``, ``A,B,C`` or a value.
        method: ``grid``, ``random`` or ``bayes``.
        metric: The metric to optimise, exactly as torchrig logs it (``accuracy/top1``).
        goal: ``maximize`` or ``minimize``.
        name: The sweep's name.
        project: The W&B project.
    """
    from torchrig.cli.commands import load_config
    from torchrig.visualization._wandb_sweep import merge_overrides

    cfg = load_config(config, None)
    parameters: dict[str, Any] = {}
    for item in params:
        key, sep, spec = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param {item!r}: expected KEY=SPEC, e.g. optim_wrapper.optimizer.lr=")
        parameters[key] = _spec(key, spec)
        try:
            merge_overrides(cfg, {key: None}, f"--param {key}")
        except KeyError as err:
            raise CliError(str(err).strip("\"'")) from err
    if method == "bayes" and metric is None:
        raise CliError("--method bayes needs --metric (the logged name, e.g. accuracy/top1)")
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if project:
        out["project"] = project
    out["method"] = method
    if metric:
        out["metric"] = {"name": metric, "goal": goal}
    out["parameters"] = parameters
    out["command"] = [
        "${env}",
        "${interpreter}",
        "-m",
        "torchrig",
        "train",
        config,
        "${args_no_hyphens}",
    ]
    return out


def sweep(args: argparse.Namespace) -> None:
    """``torchrig sweep CONFIG --param KEY=SPEC ...``: writes (or prints) the sweep YAML."""
    import yaml

    values = sweep_config(
        args.config,
        args.param or [],
        method=args.method,
        metric=args.metric,
        goal=args.goal,
        name=args.name,
        project=args.project,
    )
    text = yaml.safe_dump(values, sort_keys=False)
    if args.out in (None, "-"):
        sys.stdout.write(text)
        return
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"torchrig sweep: wrote {args.out}; start it with `wandb sweep {args.out}`")


def add_parser(commands: Any, **kwargs: Any) -> None:
    """The ``sweep`` subcommand's arguments."""
    parser = commands.add_parser("sweep", help="write a W&B sweep YAML for a config", **kwargs)
    parser.add_argument("config")
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=SPEC",
        help="a swept config key: KEY=uniform:MIN:MAX, KEY=log_uniform_values:MIN:MAX, "
        "KEY=int_uniform:MIN:MAX, KEY=A,B,C (values) or KEY=VALUE",
    )
    parser.add_argument("--method", choices=["grid", "random", "bayes"], default="bayes")
    parser.add_argument("--metric", help="the metric to optimise, as logged (accuracy/top1)")
    parser.add_argument("--goal", choices=["maximize", "minimize"], default="maximize")
    parser.add_argument("--name", help="the sweep's name")
    parser.add_argument("--project", help="the W&B project")
    parser.add_argument("--out", help="the YAML file to write (default: print it)")
