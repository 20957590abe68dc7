"""BaseInferencer: a model from a config or checkpoint, run on raw inputs in four steps.

``inferencer(inputs)`` runs ``preprocess`` (each input through the pipeline, then batched by the
collate function), ``forward`` (``model.test_step`` without gradients), ``visualize`` and
``postprocess``. Subclasses (every OpenMMLab ``*Inferencer``) implement ``_init_pipeline``,
``visualize`` and ``postprocess``, and list which keyword arguments of ``__call__`` each step takes
in ``preprocess_kwargs``, ``forward_kwargs``, ``visualize_kwargs`` and ``postprocess_kwargs``.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import os.path as osp
import re
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import torch
from torch import nn

from torchrig.config import Config, ConfigDict
from torchrig.config.utils import MODULE2PACKAGE
from torchrig.dataset import pseudo_collate
from torchrig.fileio import load
from torchrig.logging import print_log
from torchrig.registry import FUNCTIONS, MODELS, VISUALIZERS, DefaultScope
from torchrig.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model
from torchrig.visualization import Visualizer

__all__ = [
    "BaseInferencer",
    "ConfigType",
    "ImgType",
    "InferencerMeta",
    "InputType",
    "InputsType",
    "ModelType",
    "ResType",
]

InputType = str | np.ndarray | torch.Tensor
InputsType = InputType | Sequence[InputType]
ImgType = np.ndarray | Sequence[np.ndarray]
ResType = dict | list[dict]
ConfigType = Config | ConfigDict
ModelType = dict | ConfigType | str


class InferencerMeta(ABCMeta):
    """Checks that an inferencer's four ``*_kwargs`` are sets with no key in two of them."""

    def __init__(cls, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        groups = ("preprocess_kwargs", "forward_kwargs", "visualize_kwargs", "postprocess_kwargs")
        for group in groups:
            if not isinstance(getattr(cls, group), set):
                raise TypeError(
                    f"{cls.__name__}.{group} must be a set, got {getattr(cls, group)!r}"
                )
        seen: dict[str, str] = {}
        for group in groups:
            for key in getattr(cls, group):
                if key in seen:
                    raise AssertionError(
                        f"Class define error! {cls.__name__} should not have duplicated keys for "
                        f"`preprocess_kwargs`, `forward_kwargs`, `visualize_kwargs` and "
                        f"`postprocess_kwargs`: {key!r} is in both {seen[key]} and {group}"
                    )
                seen[key] = group


def _default_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


class BaseInferencer(metaclass=InferencerMeta):
    """The base of inferencers: model, pipeline, collate function and visualizer from a config.

    Args:
        model: A config file path, a config (``Config``/``ConfigDict``/dict), a model name
            from the scope's metafiles (``model-index.yml``), or None to read the config from
            the checkpoint ``weights`` (torchrig and MMEngine keep it in ``meta['cfg']``).
        weights: The checkpoint to load (a path or URL); None keeps random weights (warned).
        device: Where to run; the available accelerator, else CPU, when None.
        scope: The registry scope (``'mmdet'``); the current default scope when None.
        show_progress: Show a progress bar over the batches.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = set()
    postprocess_kwargs: set = set()

    def __init__(
        self,
        model: ModelType | None = None,
        weights: str | None = None,
        device: str | None = None,
        scope: str | None = None,
        show_progress: bool = True,
    ) -> None:
        if scope is None:
            current = DefaultScope.get_current_instance()
            if current is not None:
                scope = current.scope_name
        self.scope = scope
        cfg: ConfigType
        if isinstance(model, str):
            if osp.isfile(model):
                cfg = Config.fromfile(model)
            else:
                cfg, metafile_weights = self._load_model_from_metafile(model)
                weights = metafile_weights if weights is None else weights
        elif isinstance(model, (Config, ConfigDict)):
            cfg = copy.deepcopy(model)
        elif isinstance(model, dict):
            cfg = copy.deepcopy(ConfigDict(model))
        elif model is None:
            if weights is None:
                raise ValueError(
                    "If model is None, the weights must be specified since the config needs to "
                    "be loaded from the weights"
                )
            cfg = ConfigDict()
        else:
            raise TypeError(
                f"model must be a filepath or any ConfigType object, but got {type(model)}"
            )
        if device is None:
            device = _default_device()
        self.model = self._init_model(cfg, weights, device)
        self.pipeline = self._init_pipeline(cfg)
        self.collate_fn = self._init_collate(cfg)
        self.visualizer = self._init_visualizer(cfg)
        self.cfg = cfg
        self.show_progress = show_progress

    def __call__(
        self,
        inputs: InputsType,
        return_datasamples: bool = False,
        batch_size: int = 1,
        **kwargs: Any,
    ) -> dict:
        """Runs the four steps on ``inputs``.

        Args:
            inputs: One input (a file path, a directory of files, an array, a tensor) or a
                list of them.
            return_datasamples: Have ``postprocess`` return data samples instead of plain
                values.
            batch_size: Inputs per forward.
            **kwargs: Keyword arguments of the steps, each routed to the step whose
                ``*_kwargs`` set names it.

        Returns:
            What ``postprocess`` returns.
        """
        preprocess_kwargs, forward_kwargs, visualize_kwargs, postprocess_kwargs = (
            self._dispatch_kwargs(**kwargs)
        )
        ori_inputs = self._inputs_to_list(inputs)
        batches = self.preprocess(ori_inputs, batch_size=batch_size, **preprocess_kwargs)
        preds: list = []
        for data in self._progress(batches):
            preds.extend(self.forward(data, **forward_kwargs))
        visualization = self.visualize(ori_inputs, preds, **visualize_kwargs)
        return self.postprocess(preds, visualization, return_datasamples, **postprocess_kwargs)

    def _progress(self, batches: Iterable) -> Iterable:
        if not self.show_progress:
            return batches
        try:
            from rich.progress import track
        except ImportError:
            return batches
        return track(batches, description="Inference")

    def _inputs_to_list(self, inputs: InputsType) -> list:
        """One input, a list, or a directory (its files, sorted) -> a list of inputs."""
        if isinstance(inputs, str) and osp.isdir(inputs):
            names = sorted(n for n in os.listdir(inputs) if osp.isfile(osp.join(inputs, n)))
            inputs = [osp.join(inputs, name) for name in names]
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        return list(inputs)

    def preprocess(self, inputs: InputsType, batch_size: int = 1, **kwargs: Any) -> Iterator:
        """Each input through the pipeline, then ``batch_size`` of them through the collate function.

        Yields:
            The collated batches, lazily.
        """
        chunked = self._get_chunk_data(map(self.pipeline, inputs), batch_size)
        yield from map(self.collate_fn, chunked)

    @torch.no_grad()
    def forward(self, inputs: dict | tuple, **kwargs: Any) -> Any:
        """``model.test_step`` on one batch, without gradients."""
        return self.model.test_step(inputs)

    @abstractmethod
    def visualize(
        self, inputs: list, preds: Any, show: bool = False, **kwargs: Any
    ) -> list[np.ndarray]:
        """Draws the predictions on the inputs; returns the images (or None)."""

    @abstractmethod
    def postprocess(
        self,
        preds: Any,
        visualization: list[np.ndarray],
        return_datasample: bool = False,
        **kwargs: Any,
    ) -> dict:
        """Turns the predictions (and drawings) into the result dict."""

    @abstractmethod
    def _init_pipeline(self, cfg: ConfigType) -> Callable:
        """The function that turns one raw input into the model's input."""

    # -- building ----------------------------------------------------------------------------
    def _init_model(self, cfg: ConfigType, weights: str | None, device: str = "cpu") -> nn.Module:
        """Builds ``cfg.model`` (the checkpoint's config when ``cfg`` is empty), loads ``weights``."""
        checkpoint: dict | None = None
        if weights is not None:
            checkpoint = _load_checkpoint(weights, map_location="cpu")
        if not cfg:
            cfg.update(
                Config.fromstring(_config_text(checkpoint, weights), file_format=".py")._cfg_dict
            )
        if "model" not in cfg:
            raise KeyError("the inferencer's config has no `model` to build")
        if cfg.model.get("pretrained") is not None:  # the weights come next; skip downloading
            del cfg.model["pretrained"]
        with MODELS.switch_scope_and_registry(self.scope) as registry:
            model = registry.build(cfg.model)
        model.cfg = cfg
        self._load_weights_to_model(model, checkpoint, cfg)
        model.to(device)
        model.eval()
        return model

    def _load_weights_to_model(
        self, model: nn.Module, checkpoint: dict | None, cfg: ConfigType | None
    ) -> None:
        """Loads ``checkpoint``'s state dict into ``model``; warns when there is none."""
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
        else:
            warnings.warn(
                "Checkpoint is not loaded, and the inference result is calculated by the "
                "randomly initialized model!",
                stacklevel=2,
            )

    def _init_collate(self, cfg: ConfigType) -> Callable:
        """``cfg.test_dataloader.collate_fn`` from FUNCTIONS, else ``pseudo_collate``."""
        collate_cfg = (
            cfg.get("test_dataloader", {}).get("collate_fn") if "test_dataloader" in cfg else None
        )
        if collate_cfg is None:
            return pseudo_collate
        kwargs: dict = {}
        if isinstance(collate_cfg, dict):
            kwargs = {k: v for k, v in collate_cfg.items() if k != "type"}
            collate_cfg = collate_cfg["type"]
        if callable(collate_cfg):
            function = collate_cfg
        else:
            with FUNCTIONS.switch_scope_and_registry(self.scope) as registry:
                function = registry.get(collate_cfg)
        return functools.partial(function, **kwargs) if kwargs else function

    def _init_visualizer(self, cfg: ConfigType) -> Visualizer | None:
        """``cfg.visualizer`` built under a name no other visualizer has; None without one."""
        if "visualizer" not in cfg:
            return None
        timestamp = str(datetime.timestamp(datetime.now()))
        name = cfg.visualizer.get("name", timestamp)
        if Visualizer.check_instance_created(name):
            name = f"{name}-{timestamp}"
        cfg.visualizer.name = name
        return VISUALIZERS.build(cfg.visualizer)

    def _get_chunk_data(self, inputs: Iterable, chunk_size: int) -> Iterator[list]:
        """Lists of ``chunk_size`` items of ``inputs`` (the last one may be shorter)."""
        if chunk_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {chunk_size}")
        iterator = iter(inputs)
        while True:
            chunk = [item for _, item in zip(range(chunk_size), iterator)]
            if not chunk:
                return
            yield chunk

    def _dispatch_kwargs(self, **kwargs: Any) -> tuple[dict, dict, dict, dict]:
        """Splits ``kwargs`` by the step whose ``*_kwargs`` set names each key.

        Raises:
            ValueError: A key no step takes.
        """
        groups = (
            self.preprocess_kwargs,
            self.forward_kwargs,
            self.visualize_kwargs,
            self.postprocess_kwargs,
        )
        unknown = set(kwargs) - set().union(*groups)
        if unknown:
            raise ValueError(
                f"unknown argument {unknown} for `preprocess`, `forward`, `visualize` and `postprocess`"
            )
        split: tuple[dict, dict, dict, dict] = ({}, {}, {}, {})
        for key, value in kwargs.items():
            index = next(i for i, group in enumerate(groups) if key in group)
            split[index][key] = value
        return split

    # -- metafiles ---------------------------------------------------------------------------
    def _load_model_from_metafile(self, model: str) -> tuple[Config, str]:
        """The config and weights of the model named ``model`` (or an alias) in the scope's metafiles."""
        if self.scope is None:
            raise ValueError(
                f"{model!r} is no config file; to look it up as a model name, pass scope= (the "
                "package whose metafiles list it) or set a default scope"
            )
        name = model.lower()
        repo_dir = BaseInferencer._get_repo_or_mim_dir(self.scope)
        for model_cfg in BaseInferencer._get_models_from_metafile(repo_dir):
            aliases = model_cfg.get("Alias", [])
            aliases = [aliases] if isinstance(aliases, str) else aliases
            if name == model_cfg["Name"].lower() or name in (a.lower() for a in aliases):
                cfg = Config.fromfile(osp.join(repo_dir, model_cfg["Config"]))
                return cfg, model_cfg["Weights"]
        raise ValueError(f"Cannot find model: {model} in {self.scope}")

    @staticmethod
    def _get_repo_or_mim_dir(scope: str) -> str:
        """Where the scope's package keeps ``configs`` (its repository, or its ``.mim`` folder)."""
        try:
            module = importlib.import_module(scope)
        except ImportError as error:
            package = MODULE2PACKAGE.get(scope, scope)
            raise ImportError(
                f'Cannot import {scope} correctly, please try to install the {package} by "pip '
                f'install {package}"'
            ) from error
        package_path = module.__path__[0]
        if osp.exists(osp.join(osp.dirname(package_path), "configs")):
            return osp.dirname(package_path)
        mim_dir = osp.join(package_path, ".mim")
        if not osp.exists(osp.join(mim_dir, "configs")):
            raise FileNotFoundError(
                f"Cannot find `configs` directory in {package_path}!, please check the "
                f"completeness of the {scope}."
            )
        return mim_dir

    @staticmethod
    def _get_models_from_metafile(dir: str) -> Iterator[dict]:
        """Every model entry of the metafiles ``dir/model-index.yml`` imports."""
        index = load(osp.join(dir, "model-index.yml"))
        for meta_path in index["Import"]:
            yield from load(osp.join(dir, meta_path))["Models"]

    @staticmethod
    def list_models(scope: str | None = None, patterns: str = r".*") -> list[str]:
        """Names and aliases of the scope's models that match the regular expression ``patterns``.

        Args:
            scope: The package (``'mmdet'``); the current default scope when None.
            patterns: A regular expression matched at the start of each name.

        Returns:
            The matching names; they are also logged.
        """
        if scope is None:
            current = DefaultScope.get_current_instance()
            if current is None:
                raise ValueError("list_models: pass scope= or set a default scope")
            scope = current.scope_name
        matched = []
        for model_cfg in BaseInferencer._get_models_from_metafile(
            BaseInferencer._get_repo_or_mim_dir(scope)
        ):
            aliases = model_cfg.get("Alias", [])
            names = [model_cfg["Name"], *([aliases] if isinstance(aliases, str) else aliases)]
            matched.extend(name for name in names if re.match(patterns, name) is not None)
        print_log("".join(f"model_name: {name}\n" for name in matched), logger="current")
        return matched


def _config_text(checkpoint: dict | None, weights: str | None) -> str:
    if checkpoint is None:
        raise ValueError("model is None and no weights were given to read the config from")
    try:
        return checkpoint["message_hub"]["runtime_info"]["cfg"]
    except (KeyError, TypeError):
        pass
    meta = checkpoint.get("meta", {}) if isinstance(checkpoint, dict) else {}
    if "cfg" not in meta:
        raise ValueError(
            f"Cannot find the config in the checkpoint {weights!r} (neither meta['cfg'] nor "
            "message_hub's runtime_info['cfg']); pass the config as model="
        )
    return meta["cfg"]
