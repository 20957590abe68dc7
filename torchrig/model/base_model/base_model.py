"""``BaseModel``: the model interface the loops call (``train_step``, ``val_step``, ``test_step``)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from torchrig.model.base_model.data_preprocessor import BaseDataPreprocessor
from torchrig.model.base_module import BaseModule
from torchrig.registry import MODELS

__all__ = ["BaseModel"]


def _reduced_mean(value: torch.Tensor) -> torch.Tensor:
    """``value.mean()``; a floating-point scalar is its own mean, so it is returned as it is
    (no extra autograd node to run forward and backward every iteration)."""
    if value.ndim == 0 and value.is_floating_point():
        return value
    return value.mean()


class BaseModel(BaseModule):
    """Base of the models the Runner trains.

    A subclass implements ``forward(inputs, data_samples=None, mode='tensor')``, where ``mode``
    is ``'loss'`` (return a dict of losses), ``'predict'`` (return predictions) or ``'tensor'``
    (return raw outputs). The loops call ``train_step``, ``val_step`` and ``test_step``, which
    run the batch through ``data_preprocessor`` first.

    Args:
        data_preprocessor: A preprocessor module or its config (built from ``MODELS``);
            ``BaseDataPreprocessor`` (device move only) by default.
        init_cfg: Initializer config(s) (see ``BaseModule``).
    """

    def __init__(
        self,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if data_preprocessor is None:
            data_preprocessor = dict(type="BaseDataPreprocessor")
        if isinstance(data_preprocessor, nn.Module):
            self.data_preprocessor = data_preprocessor
        elif isinstance(data_preprocessor, dict):
            self.data_preprocessor = MODELS.build(data_preprocessor)
        else:
            raise TypeError(
                "data_preprocessor must be a dict (a config) or an nn.Module, got "
                f"{type(data_preprocessor).__name__}"
            )

    def train_step(self, data: dict | tuple | list, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """Preprocess, compute the losses, and update the parameters.

        Args:
            data: A batch from the dataloader.
            optim_wrapper: The ``OptimWrapper`` that updates the parameters.

        Returns:
            The log variables: ``'loss'`` (the total) and each entry of the losses, as
            detached tensors.
        """
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode="loss")
        parsed_losses, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed_losses)
        return log_vars

    def val_step(self, data: dict | tuple | list) -> Any:
        """Preprocess and predict (``mode='predict'``)."""
        data = self.data_preprocessor(data, False)
        return self._run_forward(data, mode="predict")

    def test_step(self, data: dict | tuple | list) -> Any:
        """Preprocess and predict (``mode='predict'``)."""
        data = self.data_preprocessor(data, False)
        return self._run_forward(data, mode="predict")

    def parse_losses(
        self, losses: dict[str, torch.Tensor | list[torch.Tensor]]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Reduce the output of ``forward(mode='loss')`` to the loss to back-propagate.

        Each value is a tensor (reduced by its mean) or a list of tensors (the sum of their
        means). The loss is the sum of the entries whose key contains ``'loss'``; the others
        (an accuracy, say) are only logged.

        Args:
            losses: The losses and other values to log, by name.

        Returns:
            ``(loss, log_vars)``: the loss, with its graph, and a dict of detached
            tensors, ``'loss'`` first, then each entry in order.
        """
        if len(losses) == 1:  # the common case (one loss tensor): no lists, one detach
            ((name, value),) = losses.items()
            if type(value) is torch.Tensor and "loss" in name:
                # _reduced_mean, inlined
                loss = value if value.ndim == 0 and value.is_floating_point() else value.mean()
                detached = loss.detach()
                return loss, {"loss": detached, name: detached}
        reduced: list[tuple[str, torch.Tensor]] = []
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                reduced.append((name, _reduced_mean(value)))
            elif (
                isinstance(value, (list, tuple))
                and value
                and all(isinstance(item, torch.Tensor) for item in value)
            ):
                reduced.append((name, sum(_reduced_mean(item) for item in value)))
            else:
                raise TypeError(
                    f"parse_losses: {name!r} is a {type(value).__name__}, not a tensor or a "
                    "list of tensors"
                )
        terms = [value for name, value in reduced if "loss" in name]
        if terms:
            loss = terms[0]
            for term in terms[1:]:
                loss = loss + term
        else:
            device = reduced[0][1].device if reduced else None
            loss = torch.zeros((), device=device)
        log_vars = {"loss": loss.detach()}
        log_vars.update((name, value.detach()) for name, value in reduced)
        return loss, log_vars

    def to(self, *args: Any, **kwargs: Any) -> BaseModel:
        """``nn.Module.to``, also moving where the data preprocessors put batches."""
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self._set_device(torch.device(device))
        return super().to(*args, **kwargs)

    def cuda(self, device: int | str | torch.device | None = None) -> BaseModel:
        """``nn.Module.cuda``, also moving where the data preprocessors put batches."""
        if device is None or isinstance(device, int):
            index = torch.cuda.current_device() if device is None else device
            device = torch.device("cuda", index)
        self._set_device(torch.device(device))
        return super().cuda(device)

    def cpu(self) -> BaseModel:
        """``nn.Module.cpu``, also moving where the data preprocessors put batches."""
        self._set_device(torch.device("cpu"))
        return super().cpu()

    def _set_device(self, device: torch.device) -> None:
        for module in self.modules():
            if isinstance(module, BaseDataPreprocessor):
                module._device = device

    @abstractmethod
    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: list | None = None,
        mode: str = "tensor",
    ) -> dict[str, torch.Tensor] | list | torch.Tensor | tuple:
        """Run the model.

        Args:
            inputs: The batch inputs, as the data preprocessor returns them.
            data_samples: The annotations of the batch.
            mode: ``'loss'`` (a dict of losses to ``parse_losses``), ``'predict'`` (a list of
                predictions, for the evaluator) or ``'tensor'`` (the raw output).
        """

    def _run_forward(self, data: dict | tuple | list, mode: str) -> Any:
        if isinstance(data, dict):
            return self(**data, mode=mode)
        if isinstance(data, (list, tuple)):
            return self(*data, mode=mode)
        raise TypeError(
            "the data_preprocessor must return a dict, list or tuple, but returned a "
            f"{type(data).__name__}"
        )
