from __future__ import annotations

import random
from collections import namedtuple

import numpy as np
import pytest
import torch

from torchrig.dataset import COLLATE_FUNCTIONS, default_collate, pseudo_collate, worker_init_fn
from torchrig.registry import FUNCTIONS
from torchrig.structures import BaseDataElement, LabelData

Point = namedtuple("Point", ["x", "y"])


def _batch() -> list[dict]:
    return [
        dict(
            inputs=torch.full((3, 2), float(i)),
            data_samples=LabelData(label=torch.tensor([i])),
            array=np.array([i, i]),
            meta=dict(name=f"img{i}", scale=[i, 2 * i]),
            point=Point(i, -i),
        )
        for i in range(2)
    ]


def test_pseudo_collate_transposes_without_stacking():
    batch = _batch()
    out = pseudo_collate(batch)
    assert isinstance(out, dict)
    assert isinstance(out["inputs"], list) and len(out["inputs"]) == 2
    assert out["inputs"][1] is batch[1]["inputs"]
    assert out["data_samples"] == [batch[0]["data_samples"], batch[1]["data_samples"]]
    assert out["array"][0] is batch[0]["array"]
    assert out["meta"] == dict(name=["img0", "img1"], scale=[(0, 1), (0, 2)])
    assert out["point"] == Point((0, 1), (0, -1))
    assert pseudo_collate([(1, "a"), (2, "b")]) == [(1, 2), ("a", "b")]
    assert pseudo_collate([[1, "a"], [2, "b"]]) == [(1, 2), ("a", "b")]


def test_default_collate_stacks_tensors_and_keeps_data_elements():
    batch = _batch()
    out = default_collate(batch)
    assert torch.equal(out["inputs"], torch.stack([b["inputs"] for b in batch]))
    assert out["data_samples"] == [batch[0]["data_samples"], batch[1]["data_samples"]]
    assert isinstance(out["data_samples"][0], BaseDataElement)
    assert isinstance(out["array"], torch.Tensor) and out["array"].tolist() == [[0, 0], [1, 1]]
    assert out["meta"]["name"] == ["img0", "img1"]
    assert [t.tolist() for t in out["meta"]["scale"]] == [[0, 1], [0, 2]]
    assert isinstance(out["point"], Point) and out["point"].x.tolist() == [0, 1]
    assert default_collate([1, 2]).tolist() == [1, 2]


@pytest.mark.parametrize("collate", [pseudo_collate, default_collate])
def test_sequences_of_unequal_length_are_refused(collate):
    with pytest.raises(RuntimeError, match="equal size"):
        collate([[1, 2], [3]])


def test_collate_functions_are_registered():
    assert COLLATE_FUNCTIONS is FUNCTIONS
    assert FUNCTIONS.get("pseudo_collate") is pseudo_collate
    assert FUNCTIONS.get("default_collate") is default_collate


def test_worker_init_fn_seeds_every_library_per_worker_and_rank():
    def draws() -> tuple:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        worker_init_fn(1, num_workers=2, rank=1, seed=10)
        first = draws()
        worker_init_fn(1, num_workers=2, rank=1, seed=10)
        assert draws() == first
        worker_init_fn(0, num_workers=2, rank=1, seed=10)
        assert draws() != first
        worker_init_fn(1, num_workers=2, rank=0, seed=12)  # 2*0+1+12 == 2*1+1+10
        assert draws() == first
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
