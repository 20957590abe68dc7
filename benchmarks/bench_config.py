"""Time ``Config.fromfile`` on a three-level inherited config (and MMEngine's, if installed).

Run with ``python benchmarks/bench_config.py [--repeat N]``. The fixture files are generated in a
temporary directory: ``child.py`` -> ``mid.py`` -> ``root.py``, with nested dicts, lists,
``_delete_``, a ``{{_base_.x}}`` reference and an inherited-field assignment.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT_CFG = """
default_scope = 'mmdet'
model = dict(
    type='ResNet',
    depth=50,
    norm_cfg=dict(type='BN', requires_grad=True),
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1),
)
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
"""

MID_CFG = """
_base_ = './root.py'
model = dict(depth=101, norm_cfg=dict(type='SyncBN'))
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    dataset=dict(type='CocoDataset', data_root='data/coco/', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(1333, 800), keep_ratio=True),
        dict(type='PackDetInputs'),
    ]),
)
"""

CHILD_CFG = """
_base_ = ['./mid.py']
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001))
train_cfg = dict(max_epochs=24)
depth = {{_base_.model.depth}}
_base_.visualizer.vis_backends = [dict(type='WandbVisBackend', init_kwargs=dict(project='x'))]
"""


def write_fixture(folder: Path) -> Path:
    """Write the three config files into ``folder`` and return the child's path."""
    (folder / "root.py").write_text(ROOT_CFG)
    (folder / "mid.py").write_text(MID_CFG)
    (folder / "child.py").write_text(CHILD_CFG)
    return folder / "child.py"


def time_loads(load: Callable[[str], object], path: Path, repeat: int) -> list[float]:
    """Seconds per call of ``load(path)``, after two warm-up calls."""
    for _ in range(2):
        load(str(path))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load(str(path))
        times.append(time.perf_counter() - start)
    return times


def report(name: str, times: list[float]) -> float:
    """Print and return the mean time in microseconds."""
    mean_us = statistics.mean(times) * 1e6
    stdev_us = statistics.stdev(times) * 1e6 if len(times) > 1 else 0.0
    print(f"{name:<28} mean {mean_us:10.1f} us/load  (stdev {stdev_us:.1f} us, n={len(times)})")
    return mean_us


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="timed loads per library")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from torchrig.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        path = write_fixture(Path(tmp))
        cfg = Config.fromfile(path)
        assert cfg.model.depth == 101 and cfg.depth == 101
        assert cfg.visualizer.vis_backends[0].type == "WandbVisBackend"
        print(f"Config.fromfile on a three-level inherited config ({path.name} -> mid -> root)")
        ours = report("torchrig.config.Config", time_loads(Config.fromfile, path, args.repeat))
        try:
            from mmengine.config import Config as MMConfig
        except ImportError:
            print(f"{'mmengine.config.Config':<28} mmengine not installed")
        else:
            theirs = report(
                "mmengine.config.Config", time_loads(MMConfig.fromfile, path, args.repeat)
            )
            print(f"torchrig / mmengine time ratio: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
