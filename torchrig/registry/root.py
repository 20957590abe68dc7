"""torchrig's root registries, all in one place (MMEngine's ``registry/root.py`` names).

Downstream libraries make child registries with these as parents. Each root registry names
the torchrig package whose modules register into it, imported on the first lookup.
"""

from __future__ import annotations

from torchrig.registry.build_functions import (
    build_model_from_cfg,
    build_runner_from_cfg,
    build_scheduler_from_cfg,
)
from torchrig.registry.registry import Registry

__all__ = [
    "DATASETS",
    "DATA_SAMPLERS",
    "EVALUATOR",
    "FUNCTIONS",
    "HOOKS",
    "INFERENCERS",
    "LOG_PROCESSORS",
    "LOOPS",
    "METRICS",
    "MODELS",
    "MODEL_WRAPPERS",
    "OPTIMIZERS",
    "OPTIM_WRAPPERS",
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "PARAM_SCHEDULERS",
    "RUNNERS",
    "RUNNER_CONSTRUCTORS",
    "STRATEGIES",
    "TASK_UTILS",
    "TRANSFORMS",
    "VISBACKENDS",
    "VISUALIZERS",
    "WEIGHT_INITIALIZERS",
]


def _root(name: str, label: str, location: str | None, **kwargs) -> Registry:
    registry = Registry(name, scope="torchrig", locations=[location] if location else [], **kwargs)
    registry._label = label
    return registry


RUNNERS = _root("runner", "RUNNERS", "torchrig.runner", build_func=build_runner_from_cfg)
RUNNER_CONSTRUCTORS = _root("runner constructor", "RUNNER_CONSTRUCTORS", "torchrig.runner")
LOOPS = _root("loop", "LOOPS", "torchrig.runner")
HOOKS = _root("hook", "HOOKS", "torchrig.hooks")
STRATEGIES = _root("strategy", "STRATEGIES", "torchrig._strategy")
DATASETS = _root("dataset", "DATASETS", "torchrig.dataset")
DATA_SAMPLERS = _root("data sampler", "DATA_SAMPLERS", "torchrig.dataset")
TRANSFORMS = _root("transform", "TRANSFORMS", "torchrig.dataset")
MODELS = _root("model", "MODELS", "torchrig.model", build_func=build_model_from_cfg)
MODEL_WRAPPERS = _root("model_wrapper", "MODEL_WRAPPERS", "torchrig.model")
WEIGHT_INITIALIZERS = _root("weight initializer", "WEIGHT_INITIALIZERS", "torchrig.model")
OPTIMIZERS = _root("optimizer", "OPTIMIZERS", "torchrig.optim")
OPTIM_WRAPPERS = _root("optim_wrapper", "OPTIM_WRAPPERS", "torchrig.optim")
OPTIM_WRAPPER_CONSTRUCTORS = _root(
    "optimizer wrapper constructor", "OPTIM_WRAPPER_CONSTRUCTORS", "torchrig.optim"
)
PARAM_SCHEDULERS = _root(
    "parameter scheduler", "PARAM_SCHEDULERS", "torchrig.optim", build_func=build_scheduler_from_cfg
)
METRICS = _root("metric", "METRICS", "torchrig.evaluator")
EVALUATOR = _root("evaluator", "EVALUATOR", "torchrig.evaluator")
TASK_UTILS = _root("task util", "TASK_UTILS", None)
VISUALIZERS = _root("visualizer", "VISUALIZERS", "torchrig.visualization")
VISBACKENDS = _root("vis_backend", "VISBACKENDS", "torchrig.visualization")
LOG_PROCESSORS = _root("log_processor", "LOG_PROCESSORS", "torchrig.runner")
INFERENCERS = _root("inferencer", "INFERENCERS", None)
FUNCTIONS = _root("function", "FUNCTIONS", "torchrig.dataset")
