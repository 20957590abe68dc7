"""scikit-learn's 8x8 digits as torchrig components: a dataset, a classifier, a GAN, a metric.

Nothing is downloaded: the data ships with scikit-learn (``pip install scikit-learn``). The
example configs under ``configs/digits`` import this module through ``custom_imports``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchrig.dataset import BaseDataset
from torchrig.evaluator import BaseMetric
from torchrig.hooks import Hook
from torchrig.model import BaseModel
from torchrig.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS

__all__ = [
    "Accuracy",
    "DigitsClassifier",
    "DigitsDataset",
    "DigitsGAN",
    "GeneratedDigitsHook",
    "PackDigitsInputs",
    "digits_grid",
]


@TRANSFORMS.register_module()
class PackDigitsInputs:
    """Turns a digits record into ``dict(inputs=<64 floats>, data_samples=<label>)``."""

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        return {
            "inputs": torch.from_numpy(np.asarray(results["img"], dtype=np.float32)),
            "data_samples": torch.tensor(results["gt_label"], dtype=torch.long),
        }


@DATASETS.register_module()
class DigitsDataset(BaseDataset):
    """The 1,797 8x8 digits of ``sklearn.datasets.load_digits``, scaled to [0, 1].

    Args:
        split: ``'train'``, ``'val'`` or ``'all'``.
        val_fraction: The share of the shuffled data held out as ``'val'``.
        split_seed: The seed of the shuffle that splits train from val.
        **kwargs: ``BaseDataset`` arguments (pipeline, indices, serialize_data, ...); the
            pipeline defaults to ``[PackDigitsInputs]``.
    """

    METAINFO = {"classes": tuple(str(i) for i in range(10))}

    def __init__(
        self,
        split: str = "train",
        val_fraction: float = 0.2,
        split_seed: int = 0,
        pipeline: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"DigitsDataset split must be 'train', 'val' or 'all', got {split!r}")
        self.split = split
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        if pipeline is None:
            pipeline = [dict(type="PackDigitsInputs")]
        super().__init__(pipeline=pipeline, **kwargs)

    def load_data_list(self) -> list[dict[str, Any]]:
        """Loads the digits from scikit-learn and keeps this split."""
        try:
            from sklearn.datasets import load_digits
        except ImportError as err:
            raise ImportError("DigitsDataset needs scikit-learn: pip install scikit-learn") from err
        digits = load_digits()
        images = (digits.data / 16.0).astype(np.float32)
        order = np.random.default_rng(self.split_seed).permutation(len(images))
        num_val = int(round(len(images) * self.val_fraction))
        if self.split == "val":
            order = order[:num_val]
        elif self.split == "train":
            order = order[num_val:]
        return [{"img": images[i], "gt_label": int(digits.target[i])} for i in order]


@MODELS.register_module()
class DigitsClassifier(BaseModel):
    """A multilayer perceptron over the 64 pixels of a digit.

    Args:
        hidden_dims: Widths of the hidden layers.
        num_classes: Number of classes.
        in_features: Pixels per image.
        dropout: Dropout after each hidden layer.
        data_preprocessor: See ``BaseModel``.
        init_cfg: See ``BaseModule``.
    """

    def __init__(
        self,
        hidden_dims: Sequence[int] = (128,),
        num_classes: int = 10,
        in_features: int = 64,
        dropout: float = 0.0,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(
        self, inputs: torch.Tensor, data_samples: torch.Tensor | None = None, mode: str = "tensor"
    ) -> Any:
        logits = self.net(inputs)
        if mode == "loss":
            return {"loss": F.cross_entropy(logits, data_samples)}
        if mode == "predict":
            scores = logits.softmax(dim=1)
            predictions = scores.argmax(dim=1)
            return [
                {"pred_label": pred, "pred_score": score, "gt_label": gt}
                for pred, score, gt in zip(predictions, scores, data_samples)
            ]
        return logits


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-1 accuracy in percent, reported as ``accuracy/top1``.

    Args:
        collect_device: Where results are gathered across processes.
        prefix: The key prefix; defaults to ``'accuracy'``.
    """

    default_prefix = "accuracy"

    def process(self, data_batch: Any, data_samples: Sequence[dict[str, Any]]) -> None:
        """Keeps (prediction, truth) pairs of one batch."""
        for sample in data_samples:
            self.results.append((int(sample["pred_label"]), int(sample["gt_label"])))

    def compute_metrics(self, results: list[tuple[int, int]]) -> dict[str, float]:
        """Top-1 accuracy over every kept pair."""
        correct = sum(pred == gt for pred, gt in results)
        return {"top1": 100.0 * correct / max(len(results), 1)}


def digits_grid(images: torch.Tensor, rows: int = 4, scale: int = 4) -> np.ndarray:
    """Lays 8x8 images (N x 64 in [0, 1]) out as one HWC uint8 RGB picture, each pixel scaled up."""
    images = images.detach().float().clamp(0, 1).reshape(-1, 8, 8).cpu()
    count = images.shape[0]
    cols = -(-count // rows)
    canvas = torch.zeros(rows * 9 + 1, cols * 9 + 1)
    for index in range(count):
        row, col = divmod(index, cols)
        canvas[1 + row * 9 : 1 + row * 9 + 8, 1 + col * 9 : 1 + col * 9 + 8] = images[index]
    canvas = canvas.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    gray = (canvas.numpy() * 255).round().astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


@MODELS.register_module()
class DigitsGAN(BaseModel):
    """A small GAN on digits, trained by its own ``train_step`` with an ``OptimWrapperDict``
    holding one wrapper per sub-network (``generator`` and ``discriminator``).

    Args:
        noise_size: Length of the generator's input noise.
        hidden: Width of both networks' hidden layer.
        data_preprocessor: See ``BaseModel``.
    """

    def __init__(
        self, noise_size: int = 16, hidden: int = 128, data_preprocessor: dict | None = None
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.noise_size = noise_size
        self.generator = nn.Sequential(
            nn.Linear(noise_size, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.Sigmoid()
        )
        self.discriminator = nn.Sequential(
            nn.Linear(64, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)
        )

    def forward(
        self, inputs: torch.Tensor | None = None, data_samples: Any = None, mode: str = "tensor"
    ) -> Any:
        count = 16 if inputs is None else inputs.shape[0]
        return self.generator(torch.randn(count, self.noise_size))

    def train_step(self, data: dict[str, Any], optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """One discriminator step then one generator step."""
        real = self.data_preprocessor(data, True)["inputs"]
        noise = torch.randn(real.shape[0], self.noise_size)
        fake = self.generator(noise)
        with optim_wrapper["discriminator"].optim_context(self.discriminator):
            logits_real = self.discriminator(real)
            logits_fake = self.discriminator(fake.detach())
            loss_dis = F.binary_cross_entropy_with_logits(
                logits_real, torch.ones_like(logits_real)
            ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
            optim_wrapper["discriminator"].update_params(loss_dis)
        with optim_wrapper["generator"].optim_context(self.generator):
            logits = self.discriminator(fake)
            loss_gen = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            optim_wrapper["generator"].update_params(loss_gen)
        return {"loss_dis": loss_dis.detach(), "loss_gen": loss_gen.detach()}


@HOOKS.register_module()
class GeneratedDigitsHook(Hook):
    """Logs a grid of generated digits as an image after each training epoch.

    Args:
        num_images: How many digits the grid shows.
    """

    priority = "LOW"

    def __init__(self, num_images: int = 16) -> None:
        self.num_images = num_images

    def after_train_epoch(self, runner: Any) -> None:
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        with torch.no_grad():
            images = model.generator(torch.randn(self.num_images, model.noise_size))
        runner.visualizer.add_image("generated_digits", digits_grid(images), step=runner.iter)
