"""W&B sweeps: a sweep run's parameters override a config's keys before anything is built.

A sweep parameter is a dotted config key (``optim_wrapper.optimizer.lr``) or a top-level key
whose value is a dict of nested keys (W&B's nested parameters, ``model: {hidden_dims: ...}``).
Two ways reach here: ``torchrig train CONFIG key=value ...`` (what ``wandb agent`` runs with
the ``${args_no_hyphens}`` or ``${args}`` macro), and a W&B run that exists in the process
(``wandb.agent(sweep_id, function=...)``), whose parameters are in ``wandb.config``.
"""

from __future__ import annotations

import ast
import difflib
import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["apply_wandb_config", "merge_overrides", "sweep_parameters"]

# What W&B itself keeps in a run's config.
_WANDB_KEYS = ("_wandb", "wandb_version")


def _flatten(values: Mapping, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _check_key(cfg: Any, dotted: str, source: str) -> None:
    """Every part of ``dotted`` but the last must name an existing dict (the last may add a
    key): a sweep parameter that names no config key would otherwise sweep nothing."""
    node: Any = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    parts = dotted.split(".")
    for depth, part in enumerate(parts[:-1] if len(parts) > 1 else parts):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(parts[:depth]) or "the config's top level"
            keys = sorted(str(k) for k in node) if isinstance(node, Mapping) else []
            close = difflib.get_close_matches(part, keys, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            filename = getattr(cfg, "filename", None)
            in_file = f" of {filename}" if filename else ""
            raise KeyError(
                f"{source}: {dotted!r} names no config key: {part!r} is not in {where}{in_file}"
                f"{hint} (sweep parameters are dotted config keys, e.g. "
                "optim_wrapper.optimizer.lr)"
            )
        node = node[part]


def merge_overrides(cfg: Any, overrides: Mapping[str, Any], source: str) -> Any:
    """Merge ``{dotted key: value}`` overrides into ``cfg`` (a :class:`~torchrig.config.Config`).

    Dict values are nested keys (``{'model': {'hidden_dims': [64]}}`` sets
    ``model.hidden_dims``); a string that reads as a Python dict (W&B passes nested parameters
    to a command as ``model={'hidden_dims': [64]}``) is one too.

    Args:
        cfg: The config, changed in place.
        overrides: Dotted keys to values.
        source: Where the overrides come from, for errors (``'torchrig train arguments'``).

    Returns:
        The flat ``{dotted key: value}`` merged.

    Raises:
        KeyError: A key whose parents are not in the config (with close matches).
    """
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                value = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError) as err:
                raise ValueError(f"{source}: {key}={value!r} is not a valid dict: {err}") from err
        if isinstance(value, Mapping):
            values.update(_flatten(value, f"{key}."))
        else:
            values[str(key)] = value
    for key in values:
        _check_key(cfg, key, source)
    if values:
        cfg.merge_from_dict(values)
    return values


def sweep_parameters(run: Any = None) -> dict[str, Any]:
    """The parameters W&B's sweep gave the active run: its ``wandb.config`` entries that the
    sweep set (the keys of the parameters file W&B's agent writes, ``WANDB_SWEEP_PARAM_PATH``),
    or every entry of ``wandb.config`` but W&B's own when there is no such file.

    Args:
        run: The W&B run; the active one (``wandb.run``) when None.
    """
    if run is None:
        wandb = sys.modules.get("wandb")
        run = getattr(wandb, "run", None)
    if run is None:
        return {}
    config = dict(run.config)
    path = os.environ.get("WANDB_SWEEP_PARAM_PATH")
    if path and os.path.isfile(path):
        import yaml

        with open(path, encoding="utf-8") as f:
            swept = [k for k in (yaml.safe_load(f) or {}) if k not in _WANDB_KEYS]
        return {key: config[key] for key in swept if key in config}
    return {k: v for k, v in config.items() if k not in _WANDB_KEYS}


def apply_wandb_config(cfg: Any, run: Any = None) -> dict[str, Any]:
    """Override ``cfg``'s keys with the W&B run's sweep parameters (``wandb.config``).

    Call it before the Runner is built (``Runner.from_cfg`` calls it itself when the active
    W&B run belongs to a sweep). Keys are dotted config keys; dicts are nested keys.

    Example:
        >>> def train():  # what wandb.agent(sweep_id, function=train) calls
        ...     with wandb.init():
        ...         cfg = Config.fromfile('configs/digits/digits_mlp_wandb.py')
        ...         apply_wandb_config(cfg)  # optional: from_cfg does it in a sweep
        ...         Runner.from_cfg(cfg).train()

    Args:
        cfg: The config, changed in place.
        run: The W&B run; the active one (``wandb.run``) when None.

    Returns:
        The flat ``{dotted key: value}`` applied.
    """
    return merge_overrides(cfg, sweep_parameters(run), "W&B sweep parameters (wandb.config)")


def apply_active_sweep(cfg: Any) -> Any:
    """:func:`apply_wandb_config` when W&B is imported and its active run belongs to a sweep
    (``Run.sweep_id``); otherwise nothing (W&B is never imported here).

    Returns:
        ``cfg`` (a :class:`~torchrig.config.Config` made from it when it was a dict and
        overrides were applied).
    """
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None)
    if run is None or not getattr(run, "sweep_id", None):
        return cfg
    from torchrig.config import Config

    if not isinstance(cfg, Config):
        cfg = Config(cfg)
    apply_wandb_config(cfg, run)
    return cfg
