"""MMEngine's ``mmengine.visualization.vis_backend`` path: every backend, one module each."""

from __future__ import annotations

from torchrig.visualization.aim_vis_backend import AimVisBackend
from torchrig.visualization.base_vis_backend import BaseVisBackend, NullVisBackend, force_init_env
from torchrig.visualization.clearml_vis_backend import ClearMLVisBackend
from torchrig.visualization.dvclive_vis_backend import DVCLiveVisBackend
from torchrig.visualization.local_vis_backend import LocalVisBackend
from torchrig.visualization.mlflow_vis_backend import MLflowVisBackend
from torchrig.visualization.neptune_vis_backend import NeptuneVisBackend
from torchrig.visualization.tensorboard_vis_backend import TensorboardVisBackend
from torchrig.visualization.wandb_vis_backend import WandbVisBackend

__all__ = [
    "AimVisBackend",
    "BaseVisBackend",
    "ClearMLVisBackend",
    "DVCLiveVisBackend",
    "LocalVisBackend",
    "MLflowVisBackend",
    "NeptuneVisBackend",
    "NullVisBackend",
    "TensorboardVisBackend",
    "WandbVisBackend",
    "force_init_env",
]
