"""Building the run's Visualizer (a local-files one when none is given)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.visualization import Visualizer

__all__ = ["build_visualizer"]


def build_visualizer(visualizer: Any, name: str, save_dir: str) -> Visualizer:
    """Builds the visualizer every scalar, image and config of the run goes through.

    Args:
        visualizer: A built ``Visualizer`` (used as is), its config (built through
            VISUALIZERS with ``name`` and ``save_dir`` as defaults), or None for
            ``Visualizer(name, vis_backends=[LocalVisBackend], save_dir)``.
        name: The instance name to use (the experiment name).
        save_dir: Where backends write (the run's log directory).
    """
    from torchrig.registry import VISUALIZERS
    from torchrig.visualization import Visualizer

    if isinstance(visualizer, Visualizer):
        return visualizer
    if visualizer is None:
        return Visualizer.get_instance(
            name=name, vis_backends=[dict(type="LocalVisBackend")], save_dir=save_dir
        )
    if not isinstance(visualizer, dict):
        raise TypeError(
            f"visualizer must be a Visualizer or a dict, got {type(visualizer).__name__}"
        )
    cfg = copy.deepcopy(dict(visualizer))
    cfg.setdefault("type", "Visualizer")
    cfg.setdefault("name", name)
    cfg.setdefault("save_dir", save_dir)
    visualizer_cls = cfg["type"]
    if isinstance(visualizer_cls, str):  # looked up in the default scope, as build() does
        with VISUALIZERS.switch_scope_and_registry(None) as registry:
            visualizer_cls = registry.get(visualizer_cls)
    if visualizer_cls.check_instance_created(cfg["name"]):
        # A config describes this run's visualizer: another runner in the process that used
        # the same name (OpenMMLab's base configs all say 'visualizer') must not share it,
        # or this run would write into the other run's directory and tracker.
        cfg["name"] = f"{cfg['name']}_{name}"
    return VISUALIZERS.build(cfg)
