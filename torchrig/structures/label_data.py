"""``LabelData``: label-level annotations or predictions (class labels, scores)."""

from __future__ import annotations

import torch

from torchrig.structures.base_data_element import BaseDataElement

__all__ = ["LabelData"]


class LabelData(BaseDataElement):
    """Label fields of one sample, with conversions between labels and one-hot vectors."""

    @staticmethod
    def onehot_to_label(onehot: torch.Tensor) -> torch.Tensor:
        """The indices of the ones in a 1-D one-hot (or multi-hot) tensor.

        Args:
            onehot: A 1-D tensor of zeros and ones.

        Returns:
            A 1-D long tensor of the positions holding a one.

        Raises:
            ValueError: When ``onehot`` is not a 1-D tensor of values in [0, 1].
        """
        if not isinstance(onehot, torch.Tensor):
            raise AssertionError(f"onehot should be a torch.Tensor, got {type(onehot).__name__}")
        if onehot.ndim == 1 and onehot.max().item() <= 1 and onehot.min().item() >= 0:
            return onehot.nonzero().squeeze(-1)
        raise ValueError("input is not one-hot and can not convert to label")

    @staticmethod
    def label_to_onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
        """A one-hot tensor of length ``num_classes`` with ones at ``label``.

        Args:
            label: A tensor of class indices.
            num_classes: The number of classes.

        Returns:
            A 1-D tensor of ``label``'s dtype.
        """
        if not isinstance(label, torch.Tensor):
            raise AssertionError(f"label should be a torch.Tensor, got {type(label).__name__}")
        onehot = label.new_zeros((num_classes,))
        if label.numel() > 0 and int(label.max().item()) >= num_classes:
            raise AssertionError(
                f"label {int(label.max().item())} is out of range for num_classes={num_classes}"
            )
        onehot[label] = 1
        return onehot
