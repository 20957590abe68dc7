"""Seeded, rank-aware and resumable samplers: ``DefaultSampler`` and ``InfiniteSampler``.

Both split one global order among ranks (rank ``r`` of ``w`` takes positions ``r, r + w, ...``),
and both can ``skip`` ahead so that a resumed run continues where it stopped without reading
the data it already trained on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import Sampler

from torchrig.dist import get_dist_info, sync_random_seed
from torchrig.registry import DATA_SAMPLERS

__all__ = ["DefaultSampler", "InfiniteSampler"]


def _check_skip(num_samples: int) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise ValueError(f"skip expects a non-negative int number of samples, got {num_samples!r}")
    return num_samples


@DATA_SAMPLERS.register_module()
class DefaultSampler(Sampler[int]):
    """Shuffles (or not) the dataset once per epoch and gives each rank its share.

    The order of epoch ``e`` is a permutation drawn from ``seed + e``, so every rank computes
    the same one; with ``round_up`` it is padded by repeating from its start until every rank
    gets ``ceil(len(dataset) / world_size)`` indices, otherwise the last ranks get one fewer.

    Args:
        dataset: The dataset to sample from.
        shuffle: Shuffle the order each epoch.
        seed: Seed of the shuffle; None draws one shared by all ranks (``sync_random_seed``).
        round_up: Pad so that every rank gets the same number of indices.
    """

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool = True,
        seed: int | None = None,
        round_up: bool = True,
    ) -> None:
        rank, world_size = get_dist_info()
        self.rank = rank
        self.world_size = world_size
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        self._skip = 0
        if self.round_up:
            self.num_samples = math.ceil(len(self.dataset) / world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = max(math.ceil((len(self.dataset) - rank) / world_size), 0)
            self.total_size = len(self.dataset)

    def _rank_indices(self) -> list[int]:
        """This rank's indices for the current epoch, before any skip."""
        size = len(self.dataset)
        if size == 0:
            return []
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(size, generator=generator).tolist()
        else:
            indices = list(range(size))
        if self.round_up and self.total_size > size:
            indices = (indices * (self.total_size // size + 1))[: self.total_size]
        return indices[self.rank : self.total_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        indices = self._rank_indices()
        if self._skip:
            indices = indices[self._skip :]
            self._skip = 0
        return iter(indices)

    def __len__(self) -> int:
        """The number of indices of this rank in a full epoch (a pending skip not deducted)."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which changes the shuffle (all ranks must set the same one)."""
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Makes the next pass start after the first ``num_samples`` indices of this rank.

        Only the next ``__iter__`` is shortened; later passes are whole again. Used on resume
        to continue an epoch without re-reading the data already trained on.

        Args:
            num_samples: How many of this rank's indices to leave out (``iters * batch_size``);
                more than the epoch holds leaves it empty.
        """
        self._skip = min(_check_skip(num_samples), self.num_samples)

    def state_dict(self) -> dict[str, Any]:
        """Plain values that restore this sampler's order: epoch, seed and pending skip."""
        return dict(
            epoch=self.epoch,
            seed=self.seed,
            shuffle=self.shuffle,
            round_up=self.round_up,
            world_size=self.world_size,
            skip=self._skip,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the epoch, seed and pending skip saved by ``state_dict``."""
        self.epoch = int(state_dict["epoch"])
        self.seed = int(state_dict["seed"])
        self._skip = 0
        if state_dict.get("skip"):
            self.skip(int(state_dict["skip"]))


@DATA_SAMPLERS.register_module()
class InfiniteSampler(Sampler[int]):
    """An endless stream of indices for iteration-based training, split among ranks.

    The global stream is permutation 0, then 1, 2, ... of the dataset; permutation ``k`` is
    drawn from ``seed + k`` (or is ``0..n-1`` without shuffle). Rank ``r`` of ``w`` takes
    positions ``r, r + w, ...``. One stream is shared by every ``iter()`` of the sampler, so a
    restarted DataLoader continues it. ``set_epoch`` does nothing, as in MMEngine.

    Args:
        dataset: The dataset to sample from.
        shuffle: Shuffle each pass over the dataset.
        seed: Seed of the shuffle; None draws one shared by all ranks (``sync_random_seed``).
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None) -> None:
        rank, world_size = get_dist_info()
        self.rank = rank
        self.world_size = world_size
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.size = len(dataset)
        self._start = 0
        self.indices = self._indices_of_rank()

    def _permutation(self, number: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator()
        generator.manual_seed(self.seed + number)
        return torch.randperm(self.size, generator=generator).tolist()

    def _infinite_indices(self, start: int = 0) -> Iterator[int]:
        """The global stream from its position ``start`` on."""
        if self.size == 0:
            return
        number, offset = divmod(start, self.size)
        while True:
            yield from self._permutation(number)[offset:]
            number, offset = number + 1, 0

    def _indices_of_rank(self) -> Iterator[int]:
        """This rank's stream, from this rank's position ``self._start`` on."""
        start = self.rank + self._start * self.world_size
        yield from itertools.islice(self._infinite_indices(start), 0, None, self.world_size)

    def __iter__(self) -> Iterator[int]:
        # The stream itself, not a generator around it: closing a dropped DataLoader iterator
        # must not close the stream that the next one continues.
        return self.indices

    def __len__(self) -> int:
        """The dataset's length (the stream itself is endless)."""
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Records the epoch; the stream does not depend on it (MMEngine's behaviour)."""
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Restarts this rank's stream at its position ``num_samples``.

        The next indices are those an uninterrupted stream yields after its first
        ``num_samples`` (``iters * batch_size`` on resume); nothing before them is generated
        index by index.
        """
        self._start = _check_skip(num_samples)
        self.indices = self._indices_of_rank()

    def state_dict(self) -> dict[str, Any]:
        """Plain values that restore the stream: epoch, seed and its start."""
        return dict(
            epoch=self.epoch,
            seed=self.seed,
            shuffle=self.shuffle,
            world_size=self.world_size,
            skip=self._start,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the seed and the stream's start saved by ``state_dict``."""
        self.epoch = int(state_dict.get("epoch", 0))
        self.seed = int(state_dict["seed"])
        self.skip(int(state_dict.get("skip", 0)))
