from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.data import DataLoader

from torchrig.dataset import sampler as sampler_module
from torchrig.dataset.sampler import DefaultSampler, InfiniteSampler
from torchrig.registry import DATA_SAMPLERS


def _on_rank(monkeypatch: pytest.MonkeyPatch, rank: int, world_size: int) -> None:
    monkeypatch.setattr(sampler_module, "get_dist_info", lambda: (rank, world_size))


def _default(monkeypatch, rank=0, world_size=1, size=10, **kwargs) -> DefaultSampler:
    _on_rank(monkeypatch, rank, world_size)
    return DefaultSampler(list(range(size)), **kwargs)


def _infinite(monkeypatch, rank=0, world_size=1, size=10, **kwargs) -> InfiniteSampler:
    _on_rank(monkeypatch, rank, world_size)
    return InfiniteSampler(list(range(size)), **kwargs)


# ---------------------------------------------------------------------- DefaultSampler
@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("shuffle", [True, False])
def test_ranks_share_the_data_without_overlap(monkeypatch, world_size: int, shuffle: bool):
    size = 10
    parts = [
        list(_default(monkeypatch, r, world_size, size, shuffle=shuffle, seed=7, round_up=False))
        for r in range(world_size)
    ]
    merged = list(itertools.chain(*parts))
    assert sorted(merged) == list(range(size))  # full coverage, no overlap
    assert [len(p) for p in parts] == [
        len(_default(monkeypatch, r, world_size, size, seed=7, round_up=False))
        for r in range(world_size)
    ]

    rounded = [
        _default(monkeypatch, r, world_size, size, shuffle=shuffle, seed=7)
        for r in range(world_size)
    ]
    rounded_parts = [list(s) for s in rounded]
    per_rank = -(-size // world_size)
    assert all(len(p) == per_rank == len(s) for p, s in zip(rounded_parts, rounded))
    # Padding repeats the order's head, so each index appears once or twice overall.
    merged = list(itertools.chain(*rounded_parts))
    assert set(merged) == set(range(size))
    assert len(merged) - len(set(merged)) == per_rank * world_size - size


def test_rank_takes_every_world_size_th_index_of_the_order(monkeypatch):
    order = list(_default(monkeypatch, 0, 1, 11, seed=3))
    padded = order + order[:1]
    for rank in range(3):
        assert list(_default(monkeypatch, rank, 3, 11, seed=3)) == padded[rank::3]


def test_seed_and_epoch_decide_the_order(monkeypatch):
    first = _default(monkeypatch, size=50, seed=1)
    again = _default(monkeypatch, size=50, seed=1)
    other_seed = _default(monkeypatch, size=50, seed=2)
    epoch0 = list(first)
    assert epoch0 == list(again) == list(first)
    assert epoch0 != list(other_seed)
    assert sorted(epoch0) == list(range(50)) and epoch0 != list(range(50))
    first.set_epoch(1)
    assert list(first) != epoch0 and sorted(first) == list(range(50))
    again.set_epoch(1)
    assert list(first) == list(again)
    unshuffled = _default(monkeypatch, size=5, shuffle=False, seed=1)
    unshuffled.set_epoch(4)
    assert list(unshuffled) == [0, 1, 2, 3, 4]


def test_seed_none_uses_the_synced_seed(monkeypatch):
    monkeypatch.setattr(sampler_module, "sync_random_seed", lambda: 1234)
    assert _default(monkeypatch, size=20).seed == 1234
    assert list(_default(monkeypatch, size=20)) == list(_default(monkeypatch, size=20, seed=1234))
    assert _infinite(monkeypatch, size=20).seed == 1234


@pytest.mark.parametrize("world_size", [1, 3])
def test_skip_yields_the_tail_of_the_uninterrupted_order_once(monkeypatch, world_size: int):
    for rank in range(world_size):
        full = list(_default(monkeypatch, rank, world_size, 23, seed=5))
        resumed = _default(monkeypatch, rank, world_size, 23, seed=5)
        resumed.skip(4)
        assert list(resumed) == full[4:]
        assert list(resumed) == full  # only the next pass is shortened
        assert len(resumed) == len(full)
    sampler = _default(monkeypatch, size=5, seed=5)
    sampler.skip(50)
    assert list(sampler) == []
    with pytest.raises(ValueError, match="non-negative"):
        sampler.skip(-1)


def test_skip_in_a_dataloader_resumes_mid_epoch(monkeypatch):
    sampler = _default(monkeypatch, size=40, seed=9)
    sampler.set_epoch(2)
    full = [batch.tolist() for batch in DataLoader(list(range(40)), batch_size=4, sampler=sampler)]
    sampler.skip(3 * 4)
    resumed = [
        batch.tolist() for batch in DataLoader(list(range(40)), batch_size=4, sampler=sampler)
    ]
    assert resumed == full[3:]


def test_default_sampler_state_dict_restores_the_order(monkeypatch):
    sampler = _default(monkeypatch, size=30, seed=11)
    sampler.set_epoch(3)
    sampler.skip(7)
    state = sampler.state_dict()
    assert state == dict(epoch=3, seed=11, shuffle=True, round_up=True, world_size=1, skip=7)
    assert all(type(v) in (int, bool) for v in state.values())
    restored = _default(monkeypatch, size=30, seed=99)
    restored.load_state_dict(state)
    assert list(restored) == list(sampler)


def test_samplers_are_built_from_config(monkeypatch):
    _on_rank(monkeypatch, 0, 1)
    dataset = list(range(8))
    sampler = DATA_SAMPLERS.build(
        dict(type="DefaultSampler", shuffle=False, seed=0), default_args=dict(dataset=dataset)
    )
    assert isinstance(sampler, DefaultSampler) and list(sampler) == list(range(8))
    infinite = DATA_SAMPLERS.build(
        dict(type="InfiniteSampler", seed=0), default_args=dict(dataset=dataset)
    )
    assert isinstance(infinite, InfiniteSampler) and len(infinite) == 8


def test_empty_dataset(monkeypatch):
    assert list(_default(monkeypatch, size=0, seed=0)) == []
    assert list(_infinite(monkeypatch, size=0, seed=0)) == []


# ---------------------------------------------------------------------- InfiniteSampler
def _take(iterator, count: int) -> list[int]:
    return list(itertools.islice(iterator, count))


def test_infinite_stream_is_successive_seeded_permutations(monkeypatch):
    sampler = _infinite(monkeypatch, size=7, seed=4)
    stream = _take(iter(sampler), 21)
    for k in range(3):
        assert sorted(stream[7 * k : 7 * k + 7]) == list(range(7))
    assert stream[:7] != stream[7:14]
    assert stream == _take(iter(_infinite(monkeypatch, size=7, seed=4)), 21)
    assert stream != _take(iter(_infinite(monkeypatch, size=7, seed=5)), 21)
    assert _take(iter(_infinite(monkeypatch, size=3, shuffle=False, seed=4)), 7) == [
        0,
        1,
        2,
        0,
        1,
        2,
        0,
    ]
    assert len(sampler) == 7


def test_infinite_iterations_continue_one_stream(monkeypatch):
    sampler = _infinite(monkeypatch, size=7, seed=4)
    reference = _take(iter(_infinite(monkeypatch, size=7, seed=4)), 12)
    assert _take(iter(sampler), 5) + _take(iter(sampler), 7) == reference
    sampler.set_epoch(3)  # does not change the stream (MMEngine's behaviour)
    assert _take(iter(sampler), 3) == _take(iter(_infinite(monkeypatch, size=7, seed=4)), 15)[12:]


@pytest.mark.parametrize("world_size", [2, 3])
def test_infinite_ranks_interleave_into_the_global_stream(monkeypatch, world_size: int):
    size = 7
    global_stream = _take(iter(_infinite(monkeypatch, size=size, seed=2)), 6 * size)
    per_rank = [
        _take(iter(_infinite(monkeypatch, r, world_size, size, seed=2)), 6 * size // world_size)
        for r in range(world_size)
    ]
    interleaved = [per_rank[i % world_size][i // world_size] for i in range(6 * size)]
    assert interleaved == global_stream
    # So the first `size` positions (a permutation) are split across ranks without overlap.
    first_pass = list(itertools.chain(*(p[: -(-size // world_size)] for p in per_rank)))
    assert set(first_pass) == set(range(size))


@pytest.mark.parametrize(("world_size", "skip"), [(1, 0), (1, 9), (1, 21), (2, 5), (3, 17)])
def test_infinite_skip_starts_the_stream_at_the_offset(monkeypatch, world_size: int, skip: int):
    for rank in range(world_size):
        full = _take(iter(_infinite(monkeypatch, rank, world_size, 7, seed=8)), skip + 20)
        resumed = _infinite(monkeypatch, rank, world_size, 7, seed=8)
        resumed.skip(skip)
        assert _take(iter(resumed), 20) == full[skip:]


def test_infinite_state_dict_restores_seed_and_position(monkeypatch):
    sampler = _infinite(monkeypatch, size=9, seed=6)
    sampler.skip(13)
    state = sampler.state_dict()
    assert state["seed"] == 6 and state["skip"] == 13 and state["epoch"] == 0
    restored = _infinite(monkeypatch, size=9, seed=1)
    restored.load_state_dict(state)
    expected = _take(iter(_infinite(monkeypatch, size=9, seed=6)), 23)[13:]
    assert _take(iter(restored), 10) == expected
    assert isinstance(torch.tensor(list(state.values()), dtype=torch.int64), torch.Tensor)
