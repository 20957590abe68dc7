"""BaseDataset against a plain list-backed torch Dataset through a 2-worker DataLoader (issue 7).

Both datasets hold the same 100k annotation dicts and apply the same 3 transforms; the
BaseDataset keeps them serialized (``serialize_data=True``: one numpy byte buffer), the plain
one as a Python list. Each pass iterates a DataLoader with 2 workers (fork) and
``default_collate`` over all items; passes alternate between the two, so drifts of the machine
hit both alike. While a pass runs, every worker's private memory (USS, pages it does not
share with the main process) and PSS are sampled from ``/proc/<pid>/smaps_rollup``.

Targets: time at most 1.1x the plain dataset's; lower peak worker memory.
Run: ``python benchmarks/bench_dataset.py`` (``--items``, ``--rounds``, ``--batch-size``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from torchrig.dataset import BaseDataset, Compose, default_collate  # noqa: E402


def _annotations(num_items: int) -> list[dict]:
    return [
        dict(
            img_path=f"images/train/{i:08d}.jpg",
            height=480,
            width=640,
            instances=[
                dict(bbox=[float(i % 600), 10.0, 40.0 + (i % 7), 60.0], bbox_label=i % 80),
                dict(bbox=[5.0, float(i % 400), 25.0, 90.0], bbox_label=(i + 3) % 80),
            ],
        )
        for i in range(num_items)
    ]


class LoadBoxes:
    """Gathers the instances' boxes and labels into arrays."""

    def __call__(self, results: dict) -> dict:
        instances = results["instances"]
        results["gt_bboxes"] = np.array([ins["bbox"] for ins in instances], dtype=np.float32)
        results["gt_labels"] = np.array([ins["bbox_label"] for ins in instances], dtype=np.int64)
        return results


class FlipBoxes:
    """Flips the boxes horizontally."""

    def __call__(self, results: dict) -> dict:
        boxes = results["gt_bboxes"]
        flipped = boxes.copy()
        flipped[:, 0] = results["width"] - boxes[:, 2]
        flipped[:, 2] = results["width"] - boxes[:, 0]
        results["gt_bboxes"] = flipped
        return results


class PackBoxes:
    """Packs the sample as tensors."""

    def __call__(self, results: dict) -> dict:
        return dict(
            bboxes=torch.from_numpy(results["gt_bboxes"]),
            labels=torch.from_numpy(results["gt_labels"]),
            shape=torch.tensor([results["height"], results["width"]]),
        )


def _pipeline() -> list:
    return [LoadBoxes(), FlipBoxes(), PackBoxes()]


class AnnotationDataset(BaseDataset):
    """The annotations as a BaseDataset (packed into numpy buffers by ``serialize_data``)."""

    def __init__(self, num_items: int, **kwargs: Any) -> None:
        self.num_items = num_items
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        return _annotations(self.num_items)


class PlainDataset(Dataset):
    """The same annotations as a Python list, the way a plain torch Dataset holds them."""

    def __init__(self, num_items: int) -> None:
        self.data_list = _annotations(num_items)
        self.pipeline = Compose(_pipeline())

    def __len__(self) -> int:
        return len(self.data_list)

    def __getitem__(self, idx: int) -> dict:
        return self.pipeline(dict(self.data_list[idx]))


def _smaps(pid: int) -> tuple[int, int]:
    """(USS, PSS) of a process in KiB."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    fields[parts[0].rstrip(":")] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    return fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0), fields.get("Pss", 0)


class _WorkerMemory:
    """Samples the workers' USS and PSS in a thread; keeps each worker's peak."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.pids: list[int] = []
        self.peak_uss: dict[int, int] = {}
        self.peak_pss: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def start(self, pids: list[int]) -> None:
        self.pids = pids
        self._thread.start()

    def _sample(self) -> None:
        for pid in self.pids:
            uss, pss = _smaps(pid)
            self.peak_uss[pid] = max(self.peak_uss.get(pid, 0), uss)
            self.peak_pss[pid] = max(self.peak_pss.get(pid, 0), pss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_pass(dataset: Dataset, batch_size: int, num_workers: int) -> tuple[float, float, int, int]:
    """Wall seconds for a full pass, CPU seconds (workers + main), and the sum over workers of
    peak USS and peak PSS (KiB)."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=default_collate,
        multiprocessing_context="fork",
        persistent_workers=True,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    iterator = iter(loader)
    monitor = _WorkerMemory()
    monitor.start([worker.pid for worker in iterator._workers])
    count = 0
    for batch in iterator:
        count += len(batch["labels"])
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start + sum(_cpu_seconds(w.pid) for w in iterator._workers)
    monitor.stop()
    iterator._shutdown_workers()
    assert count == len(dataset), (count, len(dataset))
    return elapsed, cpu, sum(monitor.peak_uss.values()), sum(monitor.peak_pss.values())


def _rss_kib() -> int:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes of each")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    rss = _rss_kib()
    plain = PlainDataset(args.items)
    plain_kib, rss = _rss_kib() - rss, _rss_kib()
    based = AnnotationDataset(args.items, pipeline=_pipeline())
    based_kib = _rss_kib() - rss
    for idx in (0, args.items // 2, args.items - 1):  # the same samples from both
        ours, theirs = based[idx], plain[idx]
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs)

    times: dict[str, list[float]] = {"plain": [], "BaseDataset": []}
    cpus: dict[str, list[float]] = {"plain": [], "BaseDataset": []}
    uss: dict[str, list[int]] = {"plain": [], "BaseDataset": []}
    pss: dict[str, list[int]] = {"plain": [], "BaseDataset": []}
    for _ in range(args.rounds):
        for name, dataset in (("plain", plain), ("BaseDataset", based)):
            elapsed, cpu, peak_uss, peak_pss = _one_pass(dataset, args.batch_size, args.workers)
            times[name].append(elapsed)
            cpus[name].append(cpu)
            uss[name].append(peak_uss)
            pss[name].append(peak_pss)

    print(
        f"{args.items} items, 3 transforms, DataLoader(num_workers={args.workers}, "
        f"batch_size={args.batch_size}), {args.rounds} interleaved passes each, "
        f"torch {torch.__version__}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'dataset':<12} {'median s':>9} {'min s':>7} {'CPU s (median)':>15} "
        f"{'peak USS (MiB)':>15} {'peak PSS':>9}"
    )
    for name in times:
        print(
            f"{name:<12} {statistics.median(times[name]):9.3f} {min(times[name]):7.3f} "
            f"{statistics.median(cpus[name]):15.3f} {max(uss[name]) / 1024:15.1f} "
            f"{max(pss[name]) / 1024:9.1f}"
        )
    for label, pick in (("median", statistics.median), ("min", min)):
        ratio = pick(times["BaseDataset"]) / pick(times["plain"])
        print(f"time ratio BaseDataset/plain ({label}): {ratio:.3f}  (target <= 1.10)")
    cpu_ratio = statistics.median(cpus["BaseDataset"]) / statistics.median(cpus["plain"])
    print(f"CPU-time ratio BaseDataset/plain (median, workers + main): {cpu_ratio:.3f}")
    print(
        "peak worker memory, summed over workers: USS "
        f"{max(uss['BaseDataset']) / 1024:.1f} vs {max(uss['plain']) / 1024:.1f} MiB "
        "(target: lower for BaseDataset)"
    )
    packed = (based.data_bytes.nbytes + based.data_address.nbytes) / 2**20
    print(
        f"main process memory for the data: BaseDataset {based_kib / 1024:.1f} MiB "
        f"(of which the packed buffers {packed:.1f} MiB; the rest is the list freed after "
        f"packing, kept by Python's allocator), plain list {plain_kib / 1024:.1f} MiB "
        "(RSS growth while building)"
    )


if __name__ == "__main__":
    main()
