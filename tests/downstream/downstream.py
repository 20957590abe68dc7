"""The downstream test's steps, run by ``tests/downstream/run.sh`` inside its environment.

1. every ``mmengine`` name that mmcv and mmpretrain import resolves (``missing_names.py``);
   ``import mmcv, mmcv.cnn, mmcv.transforms, mmpretrain.models, mmpretrain.datasets,
   mmpretrain.apis`` with ``TORCHRIG_MMENGINE_ALIAS=1`` and no real mmengine;
2. 32x32 images of 3 classes in class folders (``CustomDataset``'s layout);
3. mmpretrain's own ``tools/train.py`` (from the wheel's ``.mim``) trains its
   ``resnet/resnet18_8xb16_cifar10.py`` for 2 epochs on them through ``python -m
   torchrig.compat``, with W&B offline (a config of 15 lines inherits mmpretrain's and points its
   dataloaders at the folders; ``--cfg-options`` sets the rest);
4. ``tools/test.py`` evaluates the checkpoint.

Usage (inside the environment): ``python tests/downstream/downstream.py [WORK_DIR]``.
Prints ``DOWNSTREAM OK`` and the times of each step; exits non-zero at the first failure.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = "import mmcv, mmcv.cnn, mmcv.transforms, mmpretrain.models, mmpretrain.datasets, mmpretrain.apis"
CLASSES = ("red", "green", "blue")

CONFIG = """\
_base_ = [{base!r}]
_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
_test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CustomDataset', data_root={train!r}, pipeline=_train_pipeline))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CustomDataset', data_root={val!r}, pipeline=_test_pipeline))
test_dataloader = val_dataloader
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='WandbVisBackend', init_kwargs=dict(project='torchrig-downstream')),
])
"""

CFG_OPTIONS = [
    "train_cfg.max_epochs=2",
    "train_dataloader.batch_size=8",
    "train_dataloader.num_workers=0",
    "val_dataloader.batch_size=8",
    "val_dataloader.num_workers=0",
    "test_dataloader.batch_size=8",
    "test_dataloader.num_workers=0",
    f"model.head.num_classes={len(CLASSES)}",
    f"data_preprocessor.num_classes={len(CLASSES)}",
    "default_hooks.logger.interval=2",
    "randomness.seed=0",
]


def _make_images(root: Path, per_class: int, seed: int) -> None:
    """32x32 PNGs in ``root/<class>/``: each class a noisy tint of its colour."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            image = rng.integers(0, 96, size=(32, 32, 3), dtype=np.uint8)
            image[..., index] += 150
            Image.fromarray(image).save(folder / f"{n:03d}.png")


def _run(step: str, args: list[str], cwd: Path, times: dict[str, float]) -> str:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    times[step] = time.perf_counter() - start
    output = result.stdout + result.stderr
    (cwd / f"{step}.log").write_text(output)
    if result.returncode != 0:
        print(output[-6000:])
        raise SystemExit(f"downstream step {step!r} failed (exit {result.returncode})")
    return output


def main() -> None:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="downstream-"))
    work.mkdir(parents=True, exist_ok=True)
    if os.environ.get("TORCHRIG_MMENGINE_ALIAS") != "1":
        raise SystemExit("run through tests/downstream/run.sh (TORCHRIG_MMENGINE_ALIAS=1)")
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ["WANDB_DIR"] = str(work)
    times: dict[str, float] = {}

    missing = Path(__file__).with_name("missing_names.py")
    print(_run("names", [sys.executable, str(missing)], work, times).strip().splitlines()[-1])
    _run("imports", [sys.executable, "-c", "import torchrig; " + IMPORTS], work, times)

    importlib.import_module("torchrig")  # with TORCHRIG_MMENGINE_ALIAS=1: the alias is on
    import mmpretrain

    mim = Path(mmpretrain.__file__).parent / ".mim"
    _make_images(work / "data" / "train", per_class=16, seed=0)
    _make_images(work / "data" / "val", per_class=8, seed=1)
    config = work / "resnet18_downstream.py"
    config.write_text(
        CONFIG.format(
            base=str(mim / "configs" / "resnet" / "resnet18_8xb16_cifar10.py"),
            train=str(work / "data" / "train"),
            val=str(work / "data" / "val"),
        )
    )
    work_dir = work / "work_dir"
    compat = [sys.executable, "-m", "torchrig.compat"]
    train = _run(
        "train",
        [
            *compat,
            str(mim / "tools" / "train.py"),
            str(config),
            "--work-dir",
            str(work_dir),
            "--no-persistent-workers",
            "--cfg-options",
            *CFG_OPTIONS,
        ],
        work,
        times,
    )
    checkpoint = work_dir / "epoch_2.pth"
    assert checkpoint.is_file(), f"no {checkpoint}"
    assert re.search(r"Epoch\(val\)\s*\[2\]", train), "no validation after epoch 2 in the log"
    assert list(work_dir.glob("*/vis_data/wandb/offline-run-*")), (
        f"no offline W&B run in {work_dir}"
    )

    test = _run(
        "test",
        [
            *compat,
            str(mim / "tools" / "test.py"),
            str(config),
            str(checkpoint),
            "--work-dir",
            str(work / "test_dir"),
            "--cfg-options",
            *CFG_OPTIONS,
        ],
        work,
        times,
    )
    match = re.search(r"accuracy/top1:\s*([0-9.]+)", test)
    assert match, "tools/test.py printed no accuracy/top1"
    print(f"top-1 accuracy of the checkpoint: {match.group(1)}")
    print("times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    print("DOWNSTREAM OK")


if __name__ == "__main__":
    main()
