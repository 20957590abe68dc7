"""``BaseTTAModel``: test-time augmentation, merging the predictions on augmented copies."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from torchrig.model.base_model import BaseModel
from torchrig.registry import MODELS

__all__ = ["BaseTTAModel"]


@MODELS.register_module()
class BaseTTAModel(BaseModel):
    """Run a model on each augmentation of a batch and merge the predictions.

    A test-time-augmented batch (as ``TestTimeAug`` plus ``pseudo_collate`` give it) holds, for
    each field, one entry per augmentation: ``dict(inputs=[batch_aug1, batch_aug2],
    data_samples=[samples_aug1, samples_aug2])`` (or a tuple of such lists). ``test_step``
    runs the wrapped model's ``test_step`` on each augmentation and hands ``merge_preds`` a
    list with, for each sample of the batch, the list of its predictions (one per
    augmentation). Subclasses implement ``merge_preds``.

    Args:
        module: The model, or its config (built from ``MODELS``).
        data_preprocessor: The preprocessor for a model built from a config that names none.
    """

    def __init__(
        self, module: dict | nn.Module, data_preprocessor: dict | nn.Module | None = None
    ) -> None:
        super().__init__()
        if isinstance(module, nn.Module):
            self.module = module
        elif isinstance(module, dict):
            module = dict(module)
            if data_preprocessor is not None:
                module.setdefault("data_preprocessor", data_preprocessor)
            self.module = MODELS.build(module)
        else:
            raise TypeError(f"module must be an nn.Module or a config dict, got {module!r}")
        if not hasattr(self.module, "test_step"):
            raise TypeError(
                f"{type(self.module).__name__} has no test_step; BaseTTAModel wraps a BaseModel"
            )

    @abstractmethod
    def merge_preds(self, data_samples_list: list[list[Any]]) -> list[Any]:
        """Merge the predictions of each sample over its augmentations.

        Args:
            data_samples_list: For each sample of the batch, its predictions (one per
                augmentation).

        Returns:
            One merged prediction per sample.
        """

    def test_step(self, data: dict | tuple | list) -> list[Any]:
        """Predict on every augmentation of ``data`` and merge the predictions."""
        if isinstance(data, dict):
            num_augs = len(next(iter(data.values())))
            per_aug: list[Any] = [
                {key: value[index] for key, value in data.items()} for index in range(num_augs)
            ]
        elif isinstance(data, (tuple, list)):
            num_augs = len(data[0])
            per_aug = [[field[index] for field in data] for index in range(num_augs)]
        else:
            raise TypeError(
                f"a test-time-augmented batch must be a dict, tuple or list, got {type(data)}"
            )
        predictions = [self.module.test_step(batch) for batch in per_aug]
        return self.merge_preds([list(sample) for sample in zip(*predictions)])

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: list | None = None,
        mode: str = "tensor",
    ) -> Any:
        """Not used: a TTA model is only run through ``test_step``."""
        raise NotImplementedError("BaseTTAModel.forward is not called; use test_step")
