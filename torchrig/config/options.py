"""Which keys ``--cfg-options`` and ``Config.merge_from_dict`` may add to a config.

An option may set any key the config has. It may also add a key:

- inside a dict the config already has, below the top level (``default_hooks.checkpoint.
  max_keep_ckpts=3``: a new argument of a component, as MMEngine's configs are used), unless
  the new name is nearly the name of a key beside it (``train_cfg.max_epoch`` next to
  ``max_epochs``), which is taken for a typo;
- at the top level, a key the Runner reads (``randomness.seed=0``, ``load_from=...``), as
  MMEngine's tools set them on configs that do not name them;
- anywhere, when the key is written with a ``+`` before it (``+my_key.depth=3``), or when
  ``merge_from_dict(..., allow_new_keys=True)`` is called.

Anything else is a typo until told otherwise: a ``ConfigKeyError`` names the key and the close
matches (``train_cgf`` -> did you mean ``train_cfg``?).
"""

from __future__ import annotations

import difflib
from typing import Any

from torchrig.config.utils import ConfigKeyError

__all__ = ["NEW_KEY_PREFIX", "RUNNER_KEYS", "check_new_keys"]

NEW_KEY_PREFIX = "+"

# The top-level keys ``Runner.from_cfg`` and the CLI read (tests/test_config/test_options.py
# checks this list against runner.py).
RUNNER_KEYS = frozenset(
    {
        "model",
        "work_dir",
        "train_dataloader",
        "val_dataloader",
        "test_dataloader",
        "train_cfg",
        "val_cfg",
        "test_cfg",
        "auto_scale_lr",
        "optim_wrapper",
        "param_scheduler",
        "val_evaluator",
        "test_evaluator",
        "default_hooks",
        "custom_hooks",
        "data_preprocessor",
        "load_from",
        "resume",
        "launcher",
        "env_cfg",
        "log_processor",
        "log_level",
        "visualizer",
        "default_scope",
        "randomness",
        "experiment_name",
        "model_wrapper_cfg",
        "find_unused_parameters",
        "custom_imports",
        "runner_type",
        "compile",
    }
)


def _close(name: str, candidates: Any, cutoff: float = 0.6) -> list[str]:
    names = [str(c) for c in candidates]
    return difflib.get_close_matches(name, names, n=3, cutoff=cutoff)


def _unknown(option: str, parts: list[str], where: str, matches: list[str]) -> ConfigKeyError:
    missing = ".".join(parts)
    parent = "".join(f"{p}." for p in parts[:-1])
    hint = f"; did you mean {' or '.join(repr(parent + m) for m in matches)}?" if matches else "."
    return ConfigKeyError(
        f"Unknown key {option!r}{where}: the config has no {missing!r}{hint} To add it on "
        f"purpose, write {NEW_KEY_PREFIX + option!r} (or call merge_from_dict(..., "
        "allow_new_keys=True))"
    )


def check_new_keys(
    options: dict, cfg_dict: dict, filename: str | None = None, allow_new_keys: bool = False
) -> dict:
    """The options with their ``+`` prefixes removed, after checking the keys they add.

    Args:
        options: ``{'dotted.key': value}``, a key may start with ``+`` to add it on purpose.
        cfg_dict: The config the options will be merged into.
        filename: The config's file, for the message.
        allow_new_keys: Let every option add keys.

    Raises:
        ConfigKeyError: An option adds a key none of the rules above allows.
    """
    where = f" (config file {filename})" if filename else ""
    checked = {}
    for full_key, value in options.items():
        key = str(full_key)
        added_on_purpose = key.startswith(NEW_KEY_PREFIX)
        if added_on_purpose:
            key = key[len(NEW_KEY_PREFIX) :]
        checked[key] = value
        if not (added_on_purpose or allow_new_keys):
            _check_one(key, cfg_dict, where)
    return checked


def _check_one(key: str, cfg_dict: dict, where: str) -> None:
    parts = key.split(".")
    if not all(parts):
        return  # an empty part is reported when merging
    node: Any = cfg_dict
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            return  # list indices are checked when merging
        if not isinstance(node, dict):
            return  # replacing a value by a dict is the merge's to judge
        if part in node:
            node = dict.__getitem__(node, part)
            continue
        if depth == 0 and part in RUNNER_KEYS:
            return
        if depth == len(parts) - 1 and depth > 0:
            typos = _close(part, node.keys(), cutoff=0.85)
            if typos:
                raise _unknown(key, parts[: depth + 1], where, typos)
            return
        raise _unknown(key, parts[: depth + 1], where, _close(part, node.keys()))
