from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from torchrig.dataset import BaseDataset, Compose, force_full_init
from torchrig.registry import DATASETS, TRANSFORMS


def _write_ann(path: Path, num: int = 4, metainfo: dict | None = None) -> Path:
    data_list = [dict(img_path=f"img_{i}.jpg", label=i % 3, size=[i, i + 1]) for i in range(num)]
    path.write_text(json.dumps(dict(metainfo=metainfo or dict(task="cls"), data_list=data_list)))
    return path


class ToyDataset(BaseDataset):
    METAINFO = dict(classes=("a", "b", "c"), version=1)


@pytest.fixture
def ann_file(tmp_path: Path) -> Path:
    return _write_ann(tmp_path / "ann.json", metainfo=dict(classes=["x"], task="cls", version=0))


# ---------------------------------------------------------------------- metainfo and paths
def test_metainfo_merges_class_argument_and_annotation_file(ann_file: Path):
    dataset = ToyDataset(ann_file=str(ann_file), metainfo=dict(version=2, extra=[1]))
    # The argument overrides METAINFO; the file's metainfo only fills missing keys.
    assert dataset.metainfo == dict(classes=("a", "b", "c"), version=2, extra=[1], task="cls")
    assert ToyDataset.METAINFO == dict(classes=("a", "b", "c"), version=1)
    # A deep copy: mutating it changes nothing.
    dataset.metainfo["extra"].append(2)
    assert dataset.metainfo["extra"] == [1]
    from torchrig.config import Config

    from_config = ToyDataset(ann_file=str(ann_file), metainfo=Config(dict(version=3)))
    assert from_config.metainfo["version"] == 3
    with pytest.raises(TypeError, match="Mapping"):
        ToyDataset(ann_file=str(ann_file), metainfo=["classes"])


def test_metainfo_string_naming_a_file_is_read_as_lines(ann_file: Path, tmp_path: Path):
    classes_file = tmp_path / "classes.txt"
    classes_file.write_text("cat\ndog\n")
    dataset = BaseDataset(
        ann_file=str(ann_file), metainfo=dict(classes=str(classes_file), name="plain")
    )
    assert dataset.metainfo["classes"] == ["cat", "dog"]
    assert dataset.metainfo["name"] == "plain"


def test_data_root_and_prefix_are_joined(tmp_path: Path):
    _write_ann(tmp_path / "ann.json")
    dataset = BaseDataset(
        ann_file="ann.json",
        data_root=str(tmp_path),
        data_prefix=dict(img_path="images"),
        serialize_data=False,
    )
    assert dataset.ann_file == os.path.join(str(tmp_path), "ann.json")
    assert dataset.data_prefix == dict(img_path=os.path.join(str(tmp_path), "images"))
    assert dataset.get_data_info(1)["img_path"] == os.path.join(
        str(tmp_path), "images", "img_1.jpg"
    )

    absolute = BaseDataset(
        ann_file=str(tmp_path / "ann.json"),
        data_root="/elsewhere",
        data_prefix=dict(img_path="/data/imgs"),
    )
    assert absolute.ann_file == str(tmp_path / "ann.json")
    assert absolute.get_data_info(0)["img_path"] == "/data/imgs/img_0.jpg"

    with pytest.raises(KeyError, match="prefix key 'seg_path'"):
        BaseDataset(ann_file=str(tmp_path / "ann.json"), data_prefix=dict(seg_path="seg"))
    with pytest.raises(TypeError, match="should be a string"):
        BaseDataset(ann_file="x.json", data_prefix=dict(img_path=1), lazy_init=True)


def test_bad_annotation_files_are_explained(tmp_path: Path):
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match="should be a dict"):
        BaseDataset(ann_file=str(tmp_path / "list.json"))
    (tmp_path / "nometa.json").write_text(json.dumps(dict(data_list=[])))
    with pytest.raises(ValueError, match="data_list and metainfo"):
        BaseDataset(ann_file=str(tmp_path / "nometa.json"))


def test_parse_data_info_may_return_several_items(ann_file: Path):
    class Frames(BaseDataset):
        def parse_data_info(self, raw_data_info: dict) -> list[dict]:
            return [dict(raw_data_info, frame=0), dict(raw_data_info, frame=1)]

    dataset = Frames(ann_file=str(ann_file))
    assert len(dataset) == 8
    assert [dataset.get_data_info(i)["frame"] for i in range(4)] == [0, 1, 0, 1]

    class Broken(BaseDataset):
        def parse_data_info(self, raw_data_info: dict) -> str:
            return "nope"

    with pytest.raises(TypeError, match="dict or list of dict"):
        Broken(ann_file=str(ann_file))


# ---------------------------------------------------------------------- init, filter, subsets
def test_filter_data_and_indices(ann_file: Path):
    class OnlyLabelZero(BaseDataset):
        def filter_data(self) -> list[dict]:
            return [info for info in self.data_list if info["label"] == 0]

    assert len(OnlyLabelZero(ann_file=str(ann_file))) == 2

    assert [d["img_path"] for d in _infos(BaseDataset(ann_file=str(ann_file), indices=2))] == [
        "img_0.jpg",
        "img_1.jpg",
    ]
    assert [d["img_path"] for d in _infos(BaseDataset(ann_file=str(ann_file), indices=-1))] == [
        "img_3.jpg"
    ]
    assert [
        d["img_path"] for d in _infos(BaseDataset(ann_file=str(ann_file), indices=[3, 0, -2]))
    ] == ["img_3.jpg", "img_0.jpg", "img_2.jpg"]


def _infos(dataset: BaseDataset) -> list[dict]:
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_lazy_init_defers_loading(ann_file: Path):
    dataset = BaseDataset(ann_file=str(ann_file), lazy_init=True)
    assert not dataset._fully_initialized and dataset.data_list == []
    assert len(dataset) == 4  # force_full_init
    assert dataset._fully_initialized
    lazy = BaseDataset(ann_file=str(ann_file), lazy_init=True)
    assert lazy[1]["img_path"] == "img_1.jpg"


def test_serialized_storage_is_packed(ann_file: Path):
    dataset = BaseDataset(ann_file=str(ann_file))
    assert dataset.data_list == []
    assert dataset.data_bytes.dtype == np.uint8 and dataset.data_bytes.ndim == 1
    assert dataset.data_address.dtype == np.int64
    assert dataset.data_address[-1] == dataset.data_bytes.size
    plain = BaseDataset(ann_file=str(ann_file), serialize_data=False)
    for idx in (0, 3, -1):
        assert dataset.get_data_info(idx) == plain.get_data_info(idx)
    assert dataset.get_data_info(-1)["sample_idx"] == 3
    # Each call returns a fresh copy.
    info = plain.get_data_info(0)
    info["size"].append(99)
    assert plain.get_data_info(0)["size"] == [0, 1]


def test_out_of_range_and_empty_datasets(ann_file: Path):
    dataset = BaseDataset(ann_file=str(ann_file))
    with pytest.raises(IndexError):
        dataset.get_data_info(4)
    with pytest.raises(IndexError):
        dataset.get_data_info(-5)

    class Empty(BaseDataset):
        def load_data_list(self) -> list[dict]:
            return []

    empty = Empty()
    assert len(empty) == 0 and empty.data_bytes.size == 0
    assert len(empty.get_subset([])) == 0


@pytest.mark.parametrize("serialize", [True, False])
@pytest.mark.parametrize(
    ("indices", "expected"),
    [
        (2, [0, 1]),
        (0, []),
        (4, [0, 1, 2, 3]),
        (-3, [1, 2, 3]),
        (-4, [0, 1, 2, 3]),
        ([3, -4, 1], [3, 0, 1]),
        ([], []),
    ],
)
def test_get_subset(ann_file: Path, serialize: bool, indices, expected: list[int]):
    dataset = BaseDataset(ann_file=str(ann_file), serialize_data=serialize)
    subset = dataset.get_subset(indices)
    assert len(dataset) == 4
    assert type(subset) is BaseDataset and len(subset) == len(expected)
    assert [d["img_path"] for d in _infos(subset)] == [f"img_{i}.jpg" for i in expected]
    assert subset.metainfo == dataset.metainfo

    dataset.get_subset_(indices)
    assert [d["img_path"] for d in _infos(dataset)] == [f"img_{i}.jpg" for i in expected]


def test_get_subset_refuses_bad_indices(ann_file: Path):
    dataset = BaseDataset(ann_file=str(ann_file))
    with pytest.raises(ValueError, match="out of dataset length"):
        dataset.get_subset(5)
    with pytest.raises(IndexError):
        dataset.get_subset([4])
    with pytest.raises(TypeError, match="int or sequence"):
        dataset.get_subset(1.5)


# ---------------------------------------------------------------------- pipeline and refetch
def test_compose_of_callables_and_registered_transforms():
    @TRANSFORMS.register_module(name="_TestAddOne", force=True)
    class AddOne:
        def __call__(self, results: dict) -> dict:
            results["value"] += 1
            return results

    pipeline = Compose([dict(type="_TestAddOne"), lambda d: {**d, "value": d["value"] * 10}])
    assert pipeline(dict(value=1)) == dict(value=20)
    assert Compose(None)(dict(value=1)) == dict(value=1)
    assert repr(pipeline).startswith("Compose(\n    <")

    calls = []
    dropping = Compose([lambda d: None, lambda d: calls.append(d)])
    assert dropping(dict(value=1)) is None and calls == []
    with pytest.raises(TypeError, match="callable object or dict"):
        Compose([1])


def test_getitem_refetches_when_the_pipeline_drops(ann_file: Path):
    def drop_label_zero(results: dict) -> dict | None:
        return None if results["label"] == 0 else results

    dataset = BaseDataset(ann_file=str(ann_file), pipeline=[drop_label_zero])
    np.random.seed(0)
    for _ in range(10):
        assert dataset[0]["label"] != 0
    assert dataset[1]["sample_idx"] == 1

    with pytest.raises(Exception, match="should not get `None`"):
        BaseDataset(ann_file=str(ann_file), pipeline=[drop_label_zero], test_mode=True)[0]
    always_none = BaseDataset(ann_file=str(ann_file), pipeline=[lambda d: None], max_refetch=3)
    with pytest.raises(Exception, match="Cannot find valid image after 3"):
        always_none[0]


def test_force_full_init_requires_full_init():
    class NoInit:
        @force_full_init
        def method(self) -> int:
            return 1

    with pytest.raises(AttributeError, match="full_init"):
        NoInit().method()


@TRANSFORMS.register_module(name="_TestLoadLabel", force=True)
class LoadLabel:
    def __call__(self, results: dict) -> dict:
        return dict(label=results["label"], path=results["img_path"])


@TRANSFORMS.register_module(name="_TestScale", force=True)
class Scale:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, results: dict) -> dict:
        results["label"] *= self.factor
        return results


@DATASETS.register_module(name="_TestToyDataset", force=True)
class RegisteredToyDataset(BaseDataset):
    METAINFO = dict(classes=("a", "b", "c"))


def test_dataset_built_from_config_with_pipeline(tmp_path: Path):
    _write_ann(tmp_path / "ann.json", num=6)
    cfg = dict(
        type="_TestToyDataset",
        data_root=str(tmp_path),
        ann_file="ann.json",
        data_prefix=dict(img_path="imgs"),
        indices=[5, 4],
        pipeline=[dict(type="_TestLoadLabel"), dict(type="_TestScale", factor=10)],
    )
    dataset = DATASETS.build(cfg)
    assert isinstance(dataset, RegisteredToyDataset)
    assert dataset.metainfo == dict(classes=("a", "b", "c"), task="cls")
    assert dataset[0] == dict(label=20, path=os.path.join(str(tmp_path), "imgs", "img_5.jpg"))
    assert dataset[1]["label"] == 10
    assert len(dataset) == 2


# ---------------------------------------------------------------------- worker memory
class HundredThousandItems(BaseDataset):
    def load_data_list(self) -> list[dict]:
        return [
            dict(img_path=f"images/{i:08d}.jpg", label=i % 10, bbox=[float(i), 1.0, 2.0, 3.0])
            for i in range(100_000)
        ]


def _take_label(results: dict) -> int:
    return results["label"]


def _private_kib(pid: int) -> int:
    """USS of a process: the pages only it holds (copied-on-write ones included)."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as file:
        for line in file:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields["Private_Clean"] + fields["Private_Dirty"]


def _worker_private_growth(serialize: bool) -> tuple[list[int], list[int]]:
    """Each worker's private memory after its first batches and after the whole epoch."""
    from torch.utils.data import DataLoader

    from torchrig.dataset import pseudo_collate

    dataset = HundredThousandItems(serialize_data=serialize, pipeline=[_take_label])
    loader = DataLoader(
        dataset,
        batch_size=500,
        num_workers=2,
        collate_fn=pseudo_collate,
        persistent_workers=True,
        multiprocessing_context="fork",
    )
    iterator = iter(loader)
    labels = list(next(iterator))
    pids = [worker.pid for worker in iterator._workers]
    first = [_private_kib(pid) for pid in pids]
    for batch in iterator:
        labels.extend(batch)
    last = [_private_kib(pid) for pid in pids]
    iterator._shutdown_workers()
    assert labels == [i % 10 for i in range(100_000)]
    return first, last


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="needs Linux smaps")
def test_serialized_data_keeps_worker_memory_flat():
    import gc

    # A full garbage collection in a worker would write to every inherited object (torch's,
    # pytest's) whatever the dataset; freezing them keeps the measurement to the dataset.
    gc.freeze()
    try:
        serialized_first, serialized_last = _worker_private_growth(serialize=True)
        plain_first, plain_last = _worker_private_growth(serialize=False)
    finally:
        gc.unfreeze()
    serialized_growth = max(b - a for a, b in zip(serialized_first, serialized_last))
    plain_growth = min(b - a for a, b in zip(plain_first, plain_last))
    # Reading half of 100k Python dicts copies their pages into each worker (about 14 MiB
    # here); reading from the packed buffer copies nothing.
    assert plain_growth > 5 * 1024, (plain_first, plain_last)
    assert serialized_growth < 2 * 1024, (serialized_first, serialized_last)
    assert max(serialized_last) < min(plain_last) - 4 * 1024


# ---------------------------------------------------------------------- digits, end to end
class DigitsDataset(BaseDataset):
    """scikit-learn's bundled 8x8 digits, one data information dict per image."""

    METAINFO = dict(classes=tuple(str(i) for i in range(10)))

    def load_data_list(self) -> list[dict]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        return [
            dict(img=image.astype(np.uint8), gt_label=int(label))
            for image, label in zip(digits.images, digits.target)
        ]


@TRANSFORMS.register_module(name="_TestDigitsToTensor", force=True)
class DigitsToTensor:
    def __call__(self, results: dict) -> dict:
        import torch

        results["img"] = torch.from_numpy(results["img"]).float().div_(16.0).unsqueeze(0)
        return results


@TRANSFORMS.register_module(name="_TestDigitsFlip", force=True)
class DigitsFlip:
    def __call__(self, results: dict) -> dict:
        results["img"] = results["img"].flip(-1)
        return results


@TRANSFORMS.register_module(name="_TestPackDigits", force=True)
class PackDigits:
    def __call__(self, results: dict) -> dict:
        import torch

        from torchrig.structures import LabelData

        sample = LabelData(
            metainfo=dict(sample_idx=results["sample_idx"]),
            label=torch.tensor([results["gt_label"]]),
        )
        return dict(inputs=results["img"], data_samples=sample)


def _digits_loader(dataset: DigitsDataset, collate: str, epoch: int, num_workers: int):
    import functools

    from torch.utils.data import DataLoader

    from torchrig.dataset import DefaultSampler, worker_init_fn
    from torchrig.registry import FUNCTIONS

    sampler = DefaultSampler(dataset, shuffle=True, seed=0)
    sampler.set_epoch(epoch)
    init_fn = functools.partial(worker_init_fn, num_workers=num_workers, rank=0, seed=0)
    return DataLoader(
        dataset,
        batch_size=64,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=FUNCTIONS.get(collate),
        worker_init_fn=init_fn if num_workers else None,
    )


def test_digits_through_a_dataloader_with_default_sampler_and_pseudo_collate():
    import torch

    from torchrig.structures import LabelData

    dataset = DigitsDataset(
        pipeline=[
            dict(type="_TestDigitsToTensor"),
            dict(type="_TestDigitsFlip"),
            dict(type="_TestPackDigits"),
        ]
    )
    assert len(dataset) == 1797 and dataset.metainfo["classes"][9] == "9"
    loader = _digits_loader(dataset, "pseudo_collate", epoch=0, num_workers=2)
    seen: list[int] = []
    for batch in loader:
        assert set(batch) == {"inputs", "data_samples"}
        assert isinstance(batch["inputs"], list) and isinstance(batch["data_samples"], list)
        assert len(batch["inputs"]) == len(batch["data_samples"]) <= 64
        assert batch["inputs"][0].shape == (1, 8, 8) and batch["inputs"][0].max() <= 1
        assert isinstance(batch["data_samples"][0], LabelData)
        seen.extend(sample.sample_idx for sample in batch["data_samples"])
    assert len(loader) == 29
    assert sorted(seen) == list(range(1797))  # every image once per epoch
    assert seen != sorted(seen)

    # The same seed and epoch give the same order; another epoch another one.
    again = [
        s.sample_idx
        for b in _digits_loader(dataset, "pseudo_collate", 0, 0)
        for s in b["data_samples"]
    ]
    assert again == seen
    next_epoch = next(iter(_digits_loader(dataset, "pseudo_collate", 1, 0)))
    assert [s.sample_idx for s in next_epoch["data_samples"]] != seen[:64]

    stacked = next(iter(_digits_loader(dataset, "default_collate", 0, 0)))
    assert isinstance(stacked["inputs"], torch.Tensor) and stacked["inputs"].shape == (64, 1, 8, 8)
    assert [s.sample_idx for s in stacked["data_samples"]] == seen[:64]
    labels = torch.cat([s.label for s in stacked["data_samples"]])
    assert labels.min() >= 0 and labels.max() <= 9
