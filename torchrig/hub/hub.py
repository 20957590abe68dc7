"""Configs and models of installed OpenMMLab-style packages (MMEngine's ``mmengine.hub``).

``get_config('mmpretrain::resnet/resnet18_8xb16_cifar10.py')`` reads the config that the
package ships under its ``.mim/configs`` folder; with ``pretrained=True`` the package's model
index (``.mim/model-index.yml`` and the metafiles it lists) supplies the weights' location.
"""

from __future__ import annotations

import importlib
import os.path as osp
import re
from typing import Any

from torchrig.config import Config
from torchrig.utils.package_utils import get_installed_path, is_installed

__all__ = ["get_config", "get_model"]

_CFG_PATH_RE = re.compile(r"^([\w\-]+)::(.+)$")


def _package_and_cfg_path(cfg_path: str) -> tuple[str, str]:
    match = _CFG_PATH_RE.match(cfg_path)
    if match is None:
        raise ValueError(
            f"{cfg_path!r} does not name a package's config; write it as "
            "'package::relative/path.py', e.g. 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'"
        )
    package, path = match.groups()
    if not is_installed(package):
        from torchrig.config.utils import MODULE2PACKAGE

        raise ModuleNotFoundError(
            f"{package} is not installed; install it (pip install "
            f"{MODULE2PACKAGE.get(package, package)}) to load {cfg_path!r}",
            name=package,
        )
    return package, path


def _cfg_metainfo(package_path: str, cfg_path: str) -> dict[str, Any]:
    """The model-index entry of ``configs/<cfg_path>`` (ValueError when none lists it)."""
    import yaml

    index_path = osp.join(package_path, ".mim", "model-index.yml")
    if not osp.isfile(index_path):
        raise ValueError(f"{package_path} has no .mim/model-index.yml")
    with open(index_path) as f:
        index = yaml.safe_load(f) or {}
    wanted = osp.normpath(osp.join("configs", cfg_path))
    for metafile in index.get("Import", []):
        with open(osp.join(package_path, ".mim", metafile)) as f:
            meta = yaml.safe_load(f) or {}
        for model in meta.get("Models", []):
            if osp.normpath(model.get("Config", "")) == wanted:
                return model
    raise ValueError(f"Cannot find the config {cfg_path} in the model index of {package_path}")


def get_config(cfg_path: str, pretrained: bool = False) -> Config:
    """Loads a config shipped in an installed package.

    Args:
        cfg_path: ``'package::path/in/configs.py'``.
        pretrained: Also set ``cfg.model_path`` to the weights the package's model index
            lists for this config.

    Returns:
        The config.

    Raises:
        ModuleNotFoundError: When the package is not installed.
        FileNotFoundError: When it does not ship that config.
        ValueError: When ``pretrained`` is asked but the model index lists no weights for it.
    """
    package, path = _package_and_cfg_path(cfg_path)
    package_path = get_installed_path(package)
    full_path = osp.join(package_path, ".mim", "configs", path)
    if not osp.isfile(full_path):
        raise FileNotFoundError(
            f"{package} does not ship the config {path} (looked for {full_path})"
        )
    cfg = Config.fromfile(full_path)
    if pretrained:
        meta = _cfg_metainfo(package_path, path)
        if "Weights" not in meta:
            raise ValueError(f"the model index of {package} lists no Weights for {path}")
        cfg.model_path = meta["Weights"]
    return cfg


def get_model(cfg_path: str, pretrained: bool = False, **kwargs: Any) -> Any:
    """Builds the model of a config shipped in an installed package.

    Args:
        cfg_path: ``'package::path/in/configs.py'``.
        pretrained: Load the weights the package's model index lists for this config.
        **kwargs: Passed to the model's constructor (``default_args``).

    Returns:
        The model.
    """
    from torchrig.registry import MODELS, DefaultScope

    package, _ = _package_and_cfg_path(cfg_path)
    with DefaultScope.overwrite_default_scope(package):
        cfg = get_config(cfg_path, pretrained)
        if "data_preprocessor" in cfg:
            cfg.model.data_preprocessor = cfg.data_preprocessor
        try:
            utils = importlib.import_module(f"{package}.utils")
        except ImportError:
            importlib.import_module(package)
        else:
            if hasattr(utils, "register_all_modules"):
                utils.register_all_modules()
        model = MODELS.build(cfg.model, default_args=kwargs or None)
        if pretrained:
            from torchrig.runner.checkpoint import load_checkpoint

            load_checkpoint(model, cfg.model_path)
        return model
