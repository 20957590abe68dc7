"""Visualization: the Visualizer (drawing + sending) and the tracking backends.

Importing this package imports no tracker library and not matplotlib: each backend imports its
library when first used, and drawing imports matplotlib when something is drawn.
"""

from __future__ import annotations

from torchrig.visualization._wandb_sweep import apply_wandb_config
from torchrig.visualization.aim_vis_backend import AimVisBackend
from torchrig.visualization.base_vis_backend import BaseVisBackend, NullVisBackend
from torchrig.visualization.clearml_vis_backend import ClearMLVisBackend
from torchrig.visualization.drawing import ImageDrawer, color_val_matplotlib, tensor2ndarray
from torchrig.visualization.dvclive_vis_backend import DVCLiveVisBackend
from torchrig.visualization.local_vis_backend import LocalVisBackend
from torchrig.visualization.mlflow_vis_backend import MLflowVisBackend
from torchrig.visualization.neptune_vis_backend import NeptuneVisBackend
from torchrig.visualization.tensorboard_vis_backend import TensorboardVisBackend
from torchrig.visualization.visualizer import Visualizer
from torchrig.visualization.wandb_vis_backend import WandbVisBackend

__all__ = [
    "AimVisBackend",
    "BaseVisBackend",
    "ClearMLVisBackend",
    "DVCLiveVisBackend",
    "ImageDrawer",
    "LocalVisBackend",
    "MLflowVisBackend",
    "NeptuneVisBackend",
    "NullVisBackend",
    "TensorboardVisBackend",
    "Visualizer",
    "WandbVisBackend",
    "apply_wandb_config",
    "color_val_matplotlib",
    "tensor2ndarray",
]
