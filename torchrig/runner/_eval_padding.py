"""The samples a distributed sampler repeats so that every rank gets as many, found and left
out of evaluation so that N processes compute the metrics of one.

``DefaultSampler(round_up=True)`` (and torch's ``DistributedSampler``) pad the global order by
repeating its first indices until it divides among the ranks; rank ``r`` of ``w`` takes positions
``r, r + w, ...``, so each rank repeats at most one sample, its last. The batch holding it is
rebuilt from the rank's real indices with the dataloader's own ``collate_fn`` (whatever structure
it makes); a batch of padding alone still runs through the model, so that every rank makes the
same collective calls (FSDP), and its outputs are dropped.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader, DistributedSampler

from torchrig.dataset.sampler import DefaultSampler

__all__ = ["PaddingFilter"]


def _padded_count(sampler: Any, dataset: Any) -> int:
    """How many of this rank's indices are padding (0 or 1), for the samplers that pad."""
    if isinstance(sampler, DefaultSampler) and sampler.round_up:
        rank, world_size = sampler.rank, sampler.world_size
    elif isinstance(sampler, DistributedSampler) and not sampler.drop_last:
        rank, world_size = sampler.rank, sampler.num_replicas
    else:
        return 0
    return len(sampler) - len(range(rank, len(dataset), world_size))


class PaddingFilter:
    """Finds this rank's padded batch of an evaluation dataloader and takes the padding out.

    Args:
        dataloader: The evaluation dataloader (its sampler decides the padding).
    """

    def __init__(self, dataloader: DataLoader) -> None:
        self.batch_index: int | None = None  # the batch that holds the padding, if any
        self.real_indices: list[int] = []  # that batch's dataset indices, without the padding
        self._dataloader = dataloader
        batch_sampler = dataloader.batch_sampler
        sampler = getattr(batch_sampler, "sampler", None)
        batch_size = getattr(batch_sampler, "batch_size", None)
        if sampler is None or not batch_size:
            return  # a custom batch sampler: collect_results' cut at the dataset size remains
        padded = _padded_count(sampler, dataloader.dataset)
        if padded <= 0:
            return
        indices = list(sampler)
        real = len(indices) - padded
        if getattr(batch_sampler, "drop_last", False) and len(indices) % batch_size:
            return  # the padding is in the incomplete last batch, which is dropped anyway
        self.batch_index = (len(indices) - 1) // batch_size
        self.real_indices = indices[self.batch_index * batch_size : real]

    def filter(self, batch_index: int, data_batch: Any) -> tuple[Any, bool]:
        """The batch without padding, and whether anything real is left to evaluate.

        Args:
            batch_index: The batch's position in the dataloader.
            data_batch: The batch as the dataloader made it.

        Returns:
            ``(data_batch, True)`` for a batch without padding; the batch rebuilt from its real
            samples and True; or the batch unchanged and False when it holds padding alone.
        """
        if batch_index != self.batch_index:
            return data_batch, True
        if not self.real_indices:
            return data_batch, False
        dataset = self._dataloader.dataset
        samples = [dataset[index] for index in self.real_indices]
        return self._dataloader.collate_fn(samples), True  # type: ignore[misc]
