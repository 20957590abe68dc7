"""W&B artifacts for checkpoints and datasets: what a checkpoint artifact records, reading a
``wandb-artifact://`` reference back as a local file, and dataset artifacts for lineage.

Everything goes through W&B's public API (``wandb.Artifact``, ``Run.log_artifact``,
``Run.use_artifact``, ``wandb.Api().artifact(...).download()``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import os.path as osp
import sys
from typing import Any

__all__ = [
    "SCHEME",
    "checkpoint_metadata",
    "config_hash",
    "dataset_roots",
    "download_checkpoint",
    "use_dataset_artifacts",
]

#: The prefix of a W&B artifact reference in ``load_from`` / ``resume`` / ``--resume``.
SCHEME = "wandb-artifact://"
# Keys of the message hub that are not metrics.
_NOT_METRICS = ("time", "data_time", "lr")
# References already downloaded in this process (the Runner reads a checkpoint twice).
_DOWNLOADED: dict[str, str] = {}


def config_hash(cfg: Any) -> str | None:
    """The first 16 hex digits of the SHA-256 of the config's keys and values (sorted), the
    same for equal configs; None without a config."""
    if cfg is None:
        return None
    values = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_metadata(runner: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint artifact records: ``step`` (the iteration), ``epoch``, ``metrics``
    (the latest value of every validation metric and training loss in the message hub) and
    ``config_hash``, beside ``meta`` (the CheckpointHook's own: epoch, iter, a best score)."""
    metrics: dict[str, float] = {}
    for key, buffer in runner.message_hub.log_scalars.items():
        mode, _, name = key.partition("/")
        if mode == "val" or (mode == "train" and "loss" in name):
            if name and name.rsplit("/", 1)[-1] not in _NOT_METRICS:
                metrics[key] = float(buffer.current())
    return {
        **meta,
        "step": int(meta.get("iter", runner.iter)),
        "epoch": int(meta.get("epoch", runner.epoch)),
        "metrics": metrics,
        "config_hash": config_hash(getattr(runner, "cfg", None)),
    }


def _offline(wandb: Any) -> bool:
    mode = os.environ.get("WANDB_MODE", "").lower()
    run = getattr(wandb, "run", None)
    return mode in ("offline", "dryrun", "disabled") or bool(getattr(run, "offline", False))


def download_checkpoint(reference: str) -> str:
    """The local checkpoint file of ``wandb-artifact://ENTITY/PROJECT/NAME:ALIAS``, downloaded
    with W&B's public API (``wandb.Api().artifact(...).download()``) once per process; the
    active W&B run, if any, records that it used the artifact.

    Raises:
        ValueError: The reference is not ``ENTITY/PROJECT/NAME:ALIAS``.
        RuntimeError: W&B is offline (artifacts need a W&B server), or the server could not
            give the artifact; the message says what to do instead.
        ImportError: wandb is not installed.
    """
    if reference in _DOWNLOADED:
        return _DOWNLOADED[reference]
    path = reference[len(SCHEME) :]
    parts = path.split("/")
    if len(parts) != 3 or not all(parts) or ":" not in parts[2]:
        raise ValueError(
            f"checkpoint reference {reference!r}: expected {SCHEME}ENTITY/PROJECT/NAME:ALIAS "
            f"(e.g. {SCHEME}my-team/digits/model-abc123:best)"
        )
    from torchrig.visualization.base_vis_backend import import_tracker

    wandb = import_tracker("wandb", "wandb", f"checkpoint reference {reference!r}")
    if _offline(wandb):
        raise RuntimeError(
            f"checkpoint {reference!r} is a W&B artifact, and artifacts are downloaded from a "
            "W&B server, which W&B's offline mode (WANDB_MODE=offline) does not reach: go "
            "online (`wandb login`, WANDB_MODE=online), or give the checkpoint's local path "
            "(an offline run keeps it in the work dir)"
        )
    try:
        artifact = wandb.Api().artifact(path)
        root = artifact.download()
    except Exception as err:  # noqa: BLE001 - the server's errors vary; say what failed
        raise RuntimeError(
            f"checkpoint {reference!r}: W&B could not give the artifact {path!r}: "
            f"{type(err).__name__}: {err}"
        ) from err
    files = sorted(
        f
        for ext in ("pth", "pt", "ckpt")
        for f in glob.glob(osp.join(root, "**", f"*.{ext}"), recursive=True)
    )
    if len(files) != 1:
        raise RuntimeError(
            f"checkpoint {reference!r}: the artifact holds {len(files)} checkpoint files "
            f"({', '.join(osp.basename(f) for f in files) or 'none'}); expected one"
        )
    run = getattr(sys.modules.get("wandb"), "run", None)
    if run is not None:
        run.use_artifact(artifact)
    _DOWNLOADED[reference] = files[0]
    return files[0]


def dataset_roots(config: dict) -> dict[str, str]:
    """``{dataloader key: data_root}`` for each ``*_dataloader.dataset.data_root`` of a config
    (a plain dict) that is a local directory."""
    roots: dict[str, str] = {}
    for key, loader in config.items():
        if not key.endswith("_dataloader") or not isinstance(loader, dict):
            continue
        dataset = loader.get("dataset")
        root = dataset.get("data_root") if isinstance(dataset, dict) else None
        if isinstance(root, str) and osp.isdir(root):
            roots[key] = osp.abspath(root)
    return roots


def use_dataset_artifacts(run: Any, wandb: Any, config: dict) -> list[str]:
    """Log each local ``data_root`` the config's dataloaders name as a ``dataset`` artifact
    holding a reference (``file://``: nothing is copied, W&B records the files' checksums)
    and mark it used by ``run``, so W&B's lineage graph shows data -> run -> model.

    W&B's offline mode cannot mark an artifact used (``use_artifact`` needs its server): an
    offline run logs the artifact instead (``wandb sync`` uploads it) and says so once.

    Returns:
        The artifact names logged.
    """
    offline = _offline(wandb)
    names = []
    for root in sorted(set(dataset_roots(config).values())):
        name = "dataset-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in root)[-100:]
        name = name.replace("--", "-").strip("-.")
        artifact = wandb.Artifact(name, type="dataset", metadata={"data_root": root})
        artifact.add_reference(f"file://{root}")
        if offline:
            run.log_artifact(artifact)
        else:
            run.use_artifact(artifact)
        names.append(name)
    if offline and names:
        from torchrig.visualization._writer import report

        report(
            "WandbVisBackend(log_dataset=True): W&B is offline, so the dataset artifacts "
            f"{names} are logged by the run, not marked as its input (lineage needs a server)"
        )
    return names
