"""Reading checkpoints by the scheme of their path (``mmengine.runner.checkpoint``'s
``CheckpointLoader`` and ``load_from_*``), re-exported by :mod:`torchrig.runner.checkpoint`.

=======================================  =============================================
path                                     loader
=======================================  =============================================
``/a/b.pth``, ``~/b.pth``                :func:`load_from_local`
``http://``, ``https://``                :func:`load_from_http` (downloaded once, cached)
``torchvision://name``                   :func:`load_from_torchvision` (needs torchvision)
``open-mmlab://name``, ``openmmlab://``  :func:`load_from_openmmlab` (model-zoo tables)
``mmcls://name``                         :func:`load_from_mmcls` (backbone weights)
``s3://``, ``petrel://``                 :func:`load_from_ceph` (needs ``petrel_client``)
``pavi://``                              :func:`load_from_pavi` (needs ``pavi``)
``wandb-artifact://E/P/NAME:ALIAS``      :func:`load_from_wandb_artifact` (W&B server)
=======================================  =============================================

Every built-in loader reads with ``torch.load(weights_only=True)`` unless asked otherwise.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
import urllib.error
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import torch

from torchrig.runner._mmengine_compat import mmengine_safe_globals

__all__ = [
    "CheckpointError",
    "CheckpointLoader",
    "get_deprecated_model_names",
    "get_external_models",
    "get_mmcls_models",
    "get_torchvision_models",
    "load_from_ceph",
    "load_from_http",
    "load_from_local",
    "load_from_mmcls",
    "load_from_openmmlab",
    "load_from_pavi",
    "load_from_torchvision",
    "load_from_wandb_artifact",
]

_HUB_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "hub")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupt or does not fit the model."""


def _log(logger: logging.Logger | str | None, message: str, level: int) -> None:
    if logger == "silent":
        return
    if isinstance(logger, logging.Logger):
        logger.log(level, message)
        return
    from torchrig.logging import print_log

    print_log(message, logger="current", level=level)


def _torch_load(source: str | io.BytesIO, name: str, map_location: Any, weights_only: bool) -> Any:
    """``torch.load`` with an error that names the checkpoint and what went wrong.

    Checkpoints MMEngine wrote load too: its classes are mapped to safe equivalents.
    """
    try:
        with mmengine_safe_globals():
            return torch.load(source, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as err:
        if weights_only and "weights_only" in str(err).lower().replace(" ", "_"):
            reason = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(err)).strip().splitlines()[0]
            raise CheckpointError(
                f"checkpoint {name!r} holds objects that torch.load(weights_only=True) refuses "
                f"({reason}); if you trust its source, convert it once with: "
                f"torchrig convert {name} <converted.pth> (in Python, load it with "
                "weights_only=False)"
            ) from err
        raise CheckpointError(f"checkpoint {name!r} is corrupt: {err}") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointError(
            f"checkpoint {name!r} is truncated or corrupt and cannot be loaded: {err}"
        ) from err


class CheckpointLoader:
    """Finds the loader of a checkpoint path by its scheme (prefix) and reads it.

    Register your own scheme with :meth:`register_scheme`; a loader is called as
    ``loader(filename, map_location)``. Longer prefixes are tried first; a prefix is a
    regular expression matched at the start of the path.
    """

    _schemes: dict[str, Callable[..., Any]] = {}

    @classmethod
    def _register_scheme(
        cls, prefixes: str | list[str] | tuple[str, ...], loader: Callable, force: bool = False
    ) -> None:
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if not isinstance(prefixes, (list, tuple)):
            raise TypeError(f"prefixes must be a str, list or tuple, got {prefixes!r}")
        for prefix in prefixes:
            if prefix in cls._schemes and not force:
                raise KeyError(
                    f'{prefix} is already registered as a loader backend, add "force=True" '
                    "if you want to override it"
                )
            cls._schemes[prefix] = loader
        cls._schemes = OrderedDict(sorted(cls._schemes.items(), key=lambda t: t[0], reverse=True))

    @classmethod
    def register_scheme(
        cls,
        prefixes: str | list[str] | tuple[str, ...],
        loader: Callable | None = None,
        force: bool = False,
    ) -> Any:
        """Registers a loader for path prefixes; also usable as a decorator.

        Args:
            prefixes: One prefix or several (regular expressions matched at the start).
            loader: ``loader(filename, map_location)``; None to use this as a decorator.
            force: Replace a loader already registered for a prefix.
        """
        if loader is not None:
            cls._register_scheme(prefixes, loader, force=force)
            return None

        def _register(loader: Callable) -> Callable:
            cls._register_scheme(prefixes, loader, force=force)
            return loader

        return _register

    @classmethod
    def _get_checkpoint_loader(cls, path: str) -> Callable[..., Any]:
        """The loader of the longest registered prefix that matches ``path``."""
        for prefix, loader in cls._schemes.items():
            if re.match(prefix, path) is not None:
                return loader
        return load_from_local

    @classmethod
    def load_checkpoint(
        cls,
        filename: str,
        map_location: Any = None,
        logger: logging.Logger | str | None = "current",
        weights_only: bool = True,
    ) -> Any:
        """Reads a checkpoint with the loader of its scheme.

        Args:
            filename: A path or URL (see the module docstring for the schemes).
            map_location: ``torch.load``'s argument.
            logger: Where the loader used is reported (``'silent'`` for nowhere).
            weights_only: Passed to loaders that take it (the built-in ones).
        """
        filename = os.fspath(filename)
        loader = cls._get_checkpoint_loader(filename)
        backend = getattr(loader, "__name__", type(loader).__name__).removeprefix("load_from_")
        _log(logger, f"Loads checkpoint by {backend} backend from path: {filename}", logging.INFO)
        try:
            accepts = "weights_only" in inspect.signature(loader).parameters
        except (TypeError, ValueError):
            accepts = False
        if accepts:
            return loader(filename, map_location, weights_only=weights_only)
        return loader(filename, map_location)


@CheckpointLoader.register_scheme(prefixes="")
def load_from_local(filename: str, map_location: Any = None, weights_only: bool = True) -> Any:
    """Reads a local checkpoint file (``~`` expanded).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file is truncated, corrupt or holds refused objects.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint file {filename!r} does not exist")
    return _torch_load(filename, filename, map_location, weights_only)


def _download(url: str, model_dir: str | None) -> str:
    """The cached copy of ``url`` in ``model_dir`` (torch hub's checkpoint directory by
    default), downloaded first if it is not there."""
    directory = model_dir or osp.join(torch.hub.get_dir(), "checkpoints")
    os.makedirs(directory, exist_ok=True)
    target = osp.join(directory, osp.basename(urlparse(url).path) or "checkpoint.pth")
    if not osp.isfile(target):
        try:
            torch.hub.download_url_to_file(url, target, progress=False)
        except (urllib.error.URLError, OSError) as err:
            raise CheckpointError(
                f"could not download checkpoint {url!r}: {err}; check the URL and the network, "
                "or download it yourself and pass the local path"
            ) from err
    return target


@CheckpointLoader.register_scheme(prefixes=("http://", "https://"))
def load_from_http(
    filename: str, map_location: Any = None, model_dir: str | None = None, weights_only: bool = True
) -> Any:
    """Downloads a checkpoint once (local rank 0 first, the others then read the cache).

    Args:
        filename: The URL.
        map_location: ``torch.load``'s argument.
        model_dir: The download cache (``<torch hub dir>/checkpoints`` by default).
        weights_only: ``torch.load``'s argument.
    """
    from torchrig.dist import barrier, get_dist_info

    rank, world_size = get_dist_info()
    if rank == 0:
        path = _download(filename, model_dir)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = _download(filename, model_dir)
    return _torch_load(path, filename, map_location, weights_only)


def _require(package: str, what: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise ImportError(f"{what} needs the {package!r} package, which is not installed")


@CheckpointLoader.register_scheme(prefixes="pavi://")
def load_from_pavi(filename: str, map_location: Any = None, weights_only: bool = True) -> Any:
    """Reads a checkpoint from OpenMMLab's PAVI model cloud (needs the ``pavi`` package).

    Raises:
        ImportError: ``pavi`` is not installed.
    """
    if not filename.startswith("pavi://"):
        raise ValueError(f"expected a path starting with 'pavi://', got {filename!r}")
    _require("pavi", "load_from_pavi (pavi:// checkpoints)")
    from pavi import modelcloud  # type: ignore[import-not-found]

    model = modelcloud.get(filename[len("pavi://") :])
    with tempfile.TemporaryDirectory() as directory:
        downloaded = osp.join(directory, model.name)
        model.download(downloaded)
        return _torch_load(downloaded, filename, map_location, weights_only)


@CheckpointLoader.register_scheme(prefixes=[r"(\S+\:)?s3://", r"(\S+\:)?petrel://"])
def load_from_ceph(
    filename: str, map_location: Any = None, backend: str = "petrel", weights_only: bool = True
) -> Any:
    """Reads a checkpoint from Ceph through the Petrel SDK (``petrel_client``).

    Raises:
        ImportError: ``petrel_client`` is not installed.
        ValueError: ``backend`` is not ``'petrel'``.
    """
    if backend != "petrel":
        raise ValueError(f"load_from_ceph: backend must be 'petrel', got {backend!r}")
    _require("petrel_client", "load_from_ceph (s3:// and petrel:// checkpoints)")
    from petrel_client.client import Client  # type: ignore[import-not-found]

    with io.BytesIO(Client().get(filename)) as buffer:
        return _torch_load(buffer, filename, map_location, weights_only)


def get_torchvision_models() -> dict[str, str]:
    """Torchvision's weight URLs by name: ``'<model>.<weights>'`` (``'resnet50.imagenet1k_v1'``,
    ``'resnet50.default'``) and, for configs written for older torchvision, ``'<model>'`` for
    its first (``IMAGENET1K_V1``) weights.

    Raises:
        ImportError: torchvision is not installed.
    """
    _require("torchvision", "torchvision:// checkpoints")
    import torchvision.models as models

    urls: dict[str, str] = {}
    for name in models.list_models(models):
        weights = models.get_model_weights(name)
        members = list(weights)
        if not members:
            continue
        key = weights.__name__.removesuffix("_Weights").lower()
        for member in members:
            urls[f"{key}.{member.name.lower()}"] = member.url
        urls[f"{key}.default"] = weights.DEFAULT.url
        urls.setdefault(name, members[0].url)
    return urls


def _mmengine_home() -> str:
    """``$MMENGINE_HOME``, else ``$XDG_CACHE_HOME/mmengine`` (``~/.cache/mmengine``): where
    MMEngine users keep their own model-zoo table (``open_mmlab.json``)."""
    cache = os.getenv("XDG_CACHE_HOME", "~/.cache")
    return osp.expanduser(os.getenv("MMENGINE_HOME", osp.join(cache, "mmengine")))


def _table(path: str) -> dict[str, str]:
    if not osp.isfile(path):
        return {}
    from torchrig.fileio import load

    table = load(path)
    if not isinstance(table, dict):
        raise ValueError(f"{path} must hold a JSON object of name -> URL, got {type(table)}")
    return table


def get_external_models() -> dict[str, str]:
    """The ``open-mmlab://`` names: torchrig's table (``torchrig/hub/openmmlab.json``) updated
    with the user's ``$MMENGINE_HOME/open_mmlab.json``."""
    urls = _table(osp.join(_HUB_DIR, "openmmlab.json"))
    urls.update(_table(osp.join(_mmengine_home(), "open_mmlab.json")))
    return urls


def get_mmcls_models() -> dict[str, str]:
    """The ``mmcls://`` names (``torchrig/hub/mmcls.json``)."""
    return _table(osp.join(_HUB_DIR, "mmcls.json"))


def get_deprecated_model_names() -> dict[str, str]:
    """Deprecated ``open-mmlab://`` names and their replacements
    (``torchrig/hub/deprecated.json``)."""
    return _table(osp.join(_HUB_DIR, "deprecated.json"))


def _zoo_url(table: dict[str, str], name: str, scheme: str, where: str) -> str:
    if name not in table:
        raise KeyError(
            f"{scheme}{name} is not a known model name (known: {len(table)} names); {where}"
        )
    return table[name]


@CheckpointLoader.register_scheme(prefixes=("modelzoo://", "torchvision://"))
def load_from_torchvision(
    filename: str, map_location: Any = None, weights_only: bool = True
) -> Any:
    """Reads torchvision's weights for ``torchvision://<name>`` (``modelzoo://`` deprecated)."""
    if filename.startswith("modelzoo://"):
        warnings.warn(
            'The URL scheme of "modelzoo://" is deprecated, please use "torchvision://" instead',
            DeprecationWarning,
            stacklevel=2,
        )
    scheme, _, name = filename.partition("://")
    url = _zoo_url(get_torchvision_models(), name, f"{scheme}://", "see get_torchvision_models()")
    return load_from_http(url, map_location=map_location, weights_only=weights_only)


@CheckpointLoader.register_scheme(prefixes=("open-mmlab://", "openmmlab://"))
def load_from_openmmlab(filename: str, map_location: Any = None, weights_only: bool = True) -> Any:
    """Reads ``open-mmlab://<name>``: its URL (or path under ``$MMENGINE_HOME``) from
    :func:`get_external_models`, deprecated names replaced."""
    scheme, _, name = filename.partition("://")
    deprecated = get_deprecated_model_names()
    if name in deprecated:
        warnings.warn(
            f"{scheme}://{name} is deprecated in favor of {scheme}://{deprecated[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        name = deprecated[name]
    url = _zoo_url(
        get_external_models(),
        name,
        f"{scheme}://",
        f'add it to {osp.join(_mmengine_home(), "open_mmlab.json")} as "{name}": "<url>"',
    )
    if url.startswith(("http://", "https://")):
        return load_from_http(url, map_location=map_location, weights_only=weights_only)
    return load_from_local(osp.join(_mmengine_home(), url), map_location, weights_only)


@CheckpointLoader.register_scheme(prefixes="mmcls://")
def load_from_mmcls(filename: str, map_location: Any = None, weights_only: bool = True) -> Any:
    """Reads ``mmcls://<name>`` and keeps its backbone's weights (``backbone.`` stripped)."""
    name = filename[len("mmcls://") :]
    url = _zoo_url(get_mmcls_models(), name, "mmcls://", "see get_mmcls_models()")
    checkpoint = load_from_http(url, map_location=map_location, weights_only=weights_only)
    state_dict = checkpoint.get("state_dict", checkpoint)
    backbone = OrderedDict(
        (key[len("backbone.") :], value)
        for key, value in state_dict.items()
        if key.startswith("backbone.")
    )
    return dict(state_dict=backbone)


@CheckpointLoader.register_scheme(prefixes="wandb-artifact://")
def load_from_wandb_artifact(
    filename: str, map_location: Any = None, weights_only: bool = True
) -> Any:
    """Reads ``wandb-artifact://ENTITY/PROJECT/NAME:ALIAS``: the W&B artifact's checkpoint file,
    downloaded with W&B's public API (offline: a clear error; see
    :func:`torchrig.visualization._wandb_artifacts.download_checkpoint`)."""
    from torchrig.visualization._wandb_artifacts import download_checkpoint

    return load_from_local(download_checkpoint(filename), map_location, weights_only)
