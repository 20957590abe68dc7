"""PrepareTTAHook: wraps the model in its test-time-augmentation model before testing."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import Hook
from torchrig.registry import HOOKS, MODELS, RUNNERS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["PrepareTTAHook", "build_runner_with_tta"]


@HOOKS.register_module()
class PrepareTTAHook(Hook):
    """Before testing, replaces the runner's model by ``MODELS.build(dict(**tta_cfg, module=model))``.

    A wrapped model (DDP) keeps its wrapper; the model inside it is the one wrapped.

    Args:
        tta_cfg: The test-time-augmentation model's config (``dict(type='MyTTAModel', ...)``,
            a :class:`~torchrig.model.BaseTTAModel` subclass); ``module`` is filled in.
    """

    def __init__(self, tta_cfg: dict) -> None:
        if not isinstance(tta_cfg, dict):
            raise TypeError(f"PrepareTTAHook: tta_cfg must be a dict, got {type(tta_cfg).__name__}")
        self.tta_cfg = tta_cfg

    def before_test(self, runner: Runner) -> None:
        from torchrig.model import is_model_wrapper

        if is_model_wrapper(runner.model):
            runner.model.module = MODELS.build(dict(**self.tta_cfg, module=runner.model.module))
        else:
            runner.model = MODELS.build(dict(**self.tta_cfg, module=runner.model))


def build_runner_with_tta(cfg: Any) -> Runner:
    """Builds a runner whose test runs with test-time augmentation.

    The config needs ``tta_model`` (the TTA model's config) and ``tta_pipeline`` (the test
    dataset's pipeline under augmentation, replacing ``test_dataloader.dataset.pipeline``).
    ``runner_type`` picks the runner class as in :data:`~torchrig.registry.RUNNERS`.

    Args:
        cfg: The whole config (a :class:`~torchrig.config.Config` or dict).

    Returns:
        The runner, with a :class:`PrepareTTAHook` registered.
    """
    for key in ("tta_model", "tta_pipeline"):
        if key not in cfg:
            raise KeyError(
                f"build_runner_with_tta: the config has no {key!r}; set `{key}` to use "
                "test-time augmentation"
            )
    cfg = copy.deepcopy(cfg)
    try:
        cfg["test_dataloader"]["dataset"]["pipeline"] = cfg["tta_pipeline"]
    except (KeyError, TypeError) as error:
        raise KeyError(
            "build_runner_with_tta: the config needs test_dataloader.dataset (a dataset config) "
            "to set its pipeline to tta_pipeline"
        ) from error
    if "runner_type" in cfg:
        runner = RUNNERS.build(cfg)
    else:
        from torchrig.runner import Runner

        runner = Runner.from_cfg(cfg)
    runner.register_hook(PrepareTTAHook(tta_cfg=cfg["tta_model"]))
    return runner
