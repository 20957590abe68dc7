"""Saving and loading checkpoints (``mmengine.runner.checkpoint``).

Writes are atomic: the checkpoint goes to a temporary file in the target directory, is
flushed and fsynced, then renamed over the target, and the directory is fsynced, so a
process killed while saving leaves the previous file intact. Loading uses
``torch.load(weights_only=True)`` unless the caller opts out.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from torchrig.runner._checkpoint_loader import (
    CheckpointError,
    CheckpointLoader,
    _log,
    get_deprecated_model_names,
    get_external_models,
    get_mmcls_models,
    get_torchvision_models,
    load_from_ceph,
    load_from_http,
    load_from_local,
    load_from_mmcls,
    load_from_openmmlab,
    load_from_pavi,
    load_from_torchvision,
)

__all__ = [
    "CheckpointError",
    "CheckpointLoader",
    "find_latest_checkpoint",
    "get_deprecated_model_names",
    "get_external_models",
    "get_mmcls_models",
    "get_state_dict",
    "get_torchvision_models",
    "load_checkpoint",
    "load_from_ceph",
    "load_from_http",
    "load_from_local",
    "load_from_mmcls",
    "load_from_openmmlab",
    "load_from_pavi",
    "load_from_torchvision",
    "load_state_dict",
    "save_checkpoint",
    "weights_to_cpu",
]

_CHECKPOINT_NAME = re.compile(r"(?:epoch|iter)_(\d+)\.pth$")


def _unwrap(module: nn.Module) -> nn.Module:
    from torchrig.model import is_model_wrapper

    return module.module if is_model_wrapper(module) else module


def _state_owner(module: nn.Module) -> nn.Module:
    """The module a state dict is taken from or loaded into: the bare model, except under a
    wrapper that shards it (FSDP), which gathers and scatters full state dicts itself."""
    return module if getattr(module, "shards_parameters", False) else _unwrap(module)


def weights_to_cpu(state_dict: dict[str, Any]) -> OrderedDict[str, Any]:
    """Copies a state dict with every tensor moved to the CPU (metadata kept).

    Args:
        state_dict: A model's state dict.
    """
    cpu_state = OrderedDict((key, value.cpu()) for key, value in state_dict.items())
    cpu_state._metadata = getattr(state_dict, "_metadata", OrderedDict())  # type: ignore[attr-defined]
    return cpu_state


def get_state_dict(
    module: nn.Module, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
) -> dict[str, Any]:
    """A module's state dict, with a model wrapper (DDP, ...) looked through.

    Args:
        module: The module, possibly wrapped.
        destination: A dict to fill; a new ordered dict when None.
        prefix: Prefix added to every key.
        keep_vars: Keep parameters as variables (not detached).
    """
    owner = _state_owner(module)
    return owner.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)


def load_state_dict(
    module: nn.Module,
    state_dict: dict[str, Any],
    strict: bool = False,
    logger: logging.Logger | str | None = None,
) -> None:
    """Loads a state dict into a module, reporting missing, unexpected and misshapen keys.

    Keys whose shapes differ are left out of the load (and reported) instead of raising
    halfway through.

    Args:
        module: The module, possibly wrapped.
        state_dict: The weights.
        strict: Raise :class:`CheckpointError` when anything does not fit.
        logger: Where a non-strict mismatch is reported (a warning).
    """
    owner = _state_owner(module)
    # Under FSDP the bare model's state dict holds DTensor shards whose shapes are the full ones.
    own_state = _unwrap(module).state_dict()
    fitting: OrderedDict[str, Any] = OrderedDict()
    mismatched: list[str] = []
    for key, value in state_dict.items():
        own = own_state.get(key)
        if isinstance(own, torch.Tensor) and isinstance(value, torch.Tensor):
            if own.shape != value.shape:
                mismatched.append(
                    f"{key}: checkpoint {tuple(value.shape)}, model {tuple(own.shape)}"
                )
                continue
        fitting[key] = value
    fitting._metadata = getattr(state_dict, "_metadata", None)  # type: ignore[attr-defined]
    if fitting._metadata is None:  # type: ignore[attr-defined]
        del fitting._metadata  # type: ignore[attr-defined]
    result = owner.load_state_dict(fitting, strict=False)
    problems = []
    if result.unexpected_keys:
        problems.append(
            f"unexpected keys in source state_dict: {', '.join(result.unexpected_keys)}"
        )
    missing = [
        key for key in result.missing_keys if not any(m.startswith(key + ":") for m in mismatched)
    ]
    if missing:
        problems.append(f"missing keys in source state_dict: {', '.join(missing)}")
    if mismatched:
        problems.append(f"size mismatch: {'; '.join(mismatched)}")
    if not problems:
        return
    message = "The model and the loaded state dict do not match exactly\n" + "\n".join(problems)
    if strict:
        raise CheckpointError(message)
    _log(logger, message, logging.WARNING)


def _load_checkpoint(
    filename: str | os.PathLike,
    map_location: str | torch.device | None = None,
    logger: logging.Logger | str | None = None,
    weights_only: bool = True,
) -> Any:
    """Reads a checkpoint from a path or URL through :class:`CheckpointLoader`.

    Args:
        filename: Local path, URL, ``torchvision://``, ``open-mmlab://``, ``mmcls://``, ...
        map_location: Where tensors go (``torch.load``'s argument).
        logger: Where the loader used is reported (the current logger when None).
        weights_only: Refuse anything but tensors and plain values; set False only for
            files you trust.

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file is truncated, corrupt or holds refused objects.
    """
    return CheckpointLoader.load_checkpoint(
        os.fspath(filename), map_location, logger, weights_only=weights_only
    )


def _load_checkpoint_with_prefix(
    prefix: str, filename: str | os.PathLike, map_location: str | torch.device | None = None
) -> dict[str, Any]:
    """The weights under ``prefix`` (a submodule's name) of a checkpoint, the prefix removed.

    Args:
        prefix: E.g. ``'backbone'`` (a trailing dot is added).
        filename: As :func:`_load_checkpoint`.
        map_location: Where tensors go.

    Raises:
        KeyError: No key of the checkpoint starts with the prefix.
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    state_dict = checkpoint.get("state_dict", checkpoint)
    if not prefix.endswith("."):
        prefix += "."
    selected = {
        key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)
    }
    if not selected:
        raise KeyError(f"{prefix} is not in the pretrained model {os.fspath(filename)!r}")
    return selected


def _revise(state_dict: dict[str, Any], revise_keys: Sequence[tuple[str, str]]) -> OrderedDict:
    metadata = getattr(state_dict, "_metadata", OrderedDict())
    revised = OrderedDict(state_dict)
    for pattern, replacement in revise_keys:
        compiled = re.compile(pattern)
        revised = OrderedDict(
            (compiled.sub(replacement, key), value) for key, value in revised.items()
        )
    revised._metadata = metadata  # type: ignore[attr-defined]
    return revised


def _load_checkpoint_to_model(
    model: nn.Module,
    checkpoint: Any,
    strict: bool = False,
    logger: logging.Logger | str | None = None,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
) -> Any:
    state_dict = (
        checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    )
    if not isinstance(state_dict, dict):
        raise CheckpointError(
            f"a checkpoint must hold a state dict, got {type(state_dict).__name__}"
        )
    load_state_dict(model, _revise(state_dict, revise_keys), strict, logger)
    return checkpoint


def load_checkpoint(
    model: nn.Module,
    filename: str | os.PathLike,
    map_location: str | torch.device | None = None,
    strict: bool = False,
    logger: logging.Logger | str | None = None,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
    weights_only: bool = True,
) -> Any:
    """Loads a checkpoint's weights into a model.

    Args:
        model: The model (possibly wrapped).
        filename: Path or URL of the checkpoint.
        map_location: Where tensors go.
        strict: Raise when keys or shapes do not fit; the error names the file and keys.
        logger: Where a non-strict mismatch is reported.
        revise_keys: ``(pattern, replacement)`` regexes applied to every key in order.
        weights_only: See :func:`_load_checkpoint`.

    Returns:
        The whole loaded checkpoint.
    """
    checkpoint = _load_checkpoint(filename, map_location, logger, weights_only=weights_only)
    try:
        return _load_checkpoint_to_model(model, checkpoint, strict, logger, revise_keys)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {os.fspath(filename)!r}: {err}") from None


def save_checkpoint(
    checkpoint: dict[str, Any],
    filename: str | os.PathLike,
    file_client_args: dict | None = None,
    backend_args: dict | None = None,
) -> None:
    """Writes a checkpoint atomically and durably.

    The data goes to a temporary file beside ``filename``, is fsynced, replaces
    ``filename`` in one rename, and the directory is fsynced so the rename survives a
    crash. An interrupted save leaves the previous file as it was.

    Args:
        checkpoint: Tensors and plain Python values only (``weights_only``-loadable).
        filename: Destination path.
        file_client_args: Not supported (local files only); must be None.
        backend_args: Not supported (local files only); must be None.
    """
    if file_client_args or backend_args:
        raise ValueError("torchrig saves checkpoints to local files only; drop backend_args")
    target = os.path.abspath(os.fspath(filename))
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(
        directory, f".{os.path.basename(target)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    )
    try:
        with open(temporary, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def find_latest_checkpoint(path: str | os.PathLike) -> str | None:
    """The checkpoint to resume from in a work directory.

    Reads the ``last_checkpoint`` file that :class:`CheckpointHook` writes; when it is
    missing, empty or names a file that is gone, falls back to the newest
    ``epoch_*.pth`` / ``iter_*.pth`` in ``path``.

    Args:
        path: The work directory.

    Returns:
        The checkpoint path, or None when there is none.
    """
    path = os.fspath(path)
    record = os.path.join(path, "last_checkpoint")
    if os.path.isfile(record):
        with open(record) as stream:
            named = stream.read().strip()
        if named:
            candidate = named if os.path.isabs(named) else os.path.join(path, named)
            if os.path.isfile(candidate):
                return candidate
    if not os.path.isdir(path):
        return None
    found = [os.path.join(path, name) for name in os.listdir(path) if _CHECKPOINT_NAME.search(name)]
    found = [name for name in found if os.path.isfile(name)]
    if not found:
        return None
    return max(found, key=lambda name: (os.path.getmtime(name), name))
