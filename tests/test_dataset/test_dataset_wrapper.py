from __future__ import annotations

import numpy as np
import pytest

from torchrig.dataset import BaseDataset, ClassBalancedDataset, ConcatDataset, RepeatDataset
from torchrig.registry import DATASETS


@DATASETS.register_module(name="_TestListDataset", force=True)
class ListDataset(BaseDataset):
    """Items given directly; ``cat_ids`` per item for ClassBalancedDataset."""

    def __init__(self, items: list, cat_ids: list | None = None, **kwargs) -> None:
        self.items = items
        self.cat_ids = cat_ids
        self.loads = 0
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        self.loads += 1
        return [dict(value=item) for item in self.items]

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.cat_ids[idx]


def _list(items, **kwargs) -> ListDataset:
    return ListDataset(items, pipeline=[lambda d: d["value"]], **kwargs)


def test_concat_dataset_indexes_across_datasets():
    concat = ConcatDataset(
        [_list([0, 1], metainfo=dict(a=1)), _list([2, 3, 4], metainfo=dict(a=1))]
    )
    assert len(concat) == 5
    assert [concat[i] for i in range(5)] == [0, 1, 2, 3, 4]
    assert concat[-1] == 4 and concat[-5] == 0
    assert concat.get_data_info(3) == dict(value=3, sample_idx=1)
    assert concat.metainfo == dict(a=1)
    with pytest.raises(ValueError, match="should not exceed"):
        concat[-6]
    with pytest.raises(NotImplementedError, match="get_subset"):
        concat.get_subset(1)
    with pytest.raises(NotImplementedError):
        concat.get_subset_(1)


def test_concat_dataset_checks_metainfo():
    with pytest.raises(ValueError, match="does not in the meta information of the 2-th"):
        ConcatDataset([_list([0], metainfo=dict(a=1)), _list([1])])
    with pytest.raises(TypeError, match="does not match the type"):
        ConcatDataset([_list([0], metainfo=dict(a=1)), _list([1], metainfo=dict(a="1"))])
    with pytest.raises(ValueError, match="does not match meta information"):
        ConcatDataset([_list([0], metainfo=dict(a=1)), _list([1], metainfo=dict(a=2))])
    with pytest.raises(ValueError, match="does not match meta information"):
        ConcatDataset(
            [_list([0], metainfo=dict(m=np.zeros(2))), _list([1], metainfo=dict(m=np.ones(2)))]
        )
    ConcatDataset(
        [_list([0], metainfo=dict(m=np.zeros(2))), _list([1], metainfo=dict(m=np.zeros(2)))]
    )
    concat = ConcatDataset(
        [_list([0], metainfo=dict(a=1, b=1)), _list([1], metainfo=dict(a=2))],
        ignore_keys=["a", "b"],
    )
    assert concat.metainfo == dict(a=1, b=1)
    assert ConcatDataset([_list([0], metainfo=dict(a=1)), _list([1])], ignore_keys="a").metainfo
    with pytest.raises(TypeError, match="ignore_keys"):
        ConcatDataset([_list([0])], ignore_keys=1)
    with pytest.raises(TypeError, match="BaseDataset"):
        ConcatDataset([[0, 1]])


def test_wrappers_build_from_configs_and_init_lazily():
    cfg = dict(type="_TestListDataset", items=[5, 6], lazy_init=True, pipeline=[])
    concat = ConcatDataset([cfg, cfg], lazy_init=True)
    assert not concat._fully_initialized
    assert all(d.loads == 0 for d in concat.datasets)
    assert len(concat) == 4  # force_full_init
    assert all(d.loads == 1 for d in concat.datasets)

    repeat = DATASETS.build(dict(type="RepeatDataset", dataset=cfg, times=3, lazy_init=True))
    assert isinstance(repeat, RepeatDataset) and repeat.dataset.loads == 0
    assert repeat[5]["value"] == 6 and repeat.dataset.loads == 1
    assert len(repeat) == 6


def test_repeat_dataset():
    repeat = RepeatDataset(_list([0, 1, 2], metainfo=dict(a=1)), times=2)
    assert len(repeat) == 6
    assert [repeat[i] for i in range(6)] == [0, 1, 2, 0, 1, 2]
    assert repeat.get_data_info(4) == dict(value=1, sample_idx=1)
    assert repeat.metainfo == dict(a=1)
    with pytest.raises(NotImplementedError):
        repeat.get_subset([0])
    with pytest.raises(TypeError):
        RepeatDataset([0], times=2)


def test_class_balanced_dataset_repeats_rare_categories():
    # Category 0 is in 3 of 4 items (f=0.75), category 1 in 1 of 4 (f=0.25).
    cat_ids = [[0], [0], [0, 1], []]
    dataset = _list([10, 11, 12, 13], cat_ids=cat_ids)
    balanced = ClassBalancedDataset(dataset, oversample_thr=1.0)
    # r(0) = sqrt(1/0.75) = 1.15 -> 2 copies; r(1) = sqrt(1/0.25) = 2; no category -> 1 copy.
    assert balanced.repeat_indices == [0, 0, 1, 1, 2, 2, 3]
    assert [balanced[i] for i in range(len(balanced))] == [10, 10, 11, 11, 12, 12, 13]
    assert balanced.get_cat_ids(4) == [0, 1]
    assert balanced.get_data_info(6) == dict(value=13, sample_idx=3)

    thresholded = ClassBalancedDataset(_list([10, 11, 12, 13], cat_ids=cat_ids), 0.25)
    assert thresholded.repeat_indices == [0, 1, 2, 3]
    with pytest.raises(NotImplementedError):
        thresholded.get_subset_([0])
    lazy = ClassBalancedDataset(_list([1], cat_ids=[[0]], lazy_init=True), 0.5, lazy_init=True)
    assert not lazy._fully_initialized and len(lazy) == 1
