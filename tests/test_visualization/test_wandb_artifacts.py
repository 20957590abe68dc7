"""Checkpoints as W&B model artifacts (aliases, metadata), the dataset as a referenced artifact
the run uses, and ``wandb-artifact://`` references in load_from (offline: a clear error).
Real wandb offline, the run file read back."""

from __future__ import annotations

import os.path as osp

import pytest

from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from tests.test_visualization._small_configs import small_digits_config
from torchrig.cli.main import main
from torchrig.visualization._wandb_artifacts import config_hash, download_checkpoint


@pytest.mark.filterwarnings("ignore:WandbVisBackend\\(log_dataset=True\\)")
def test_checkpoints_and_dataset_artifacts_in_the_run(wandb_offline):
    from torchrig.config import Config
    from torchrig.runner import Runner

    data_root = wandb_offline / "digits_data"
    data_root.mkdir()
    (data_root / "README").write_text("the 8x8 digits come with scikit-learn\n")
    cfg = Config.fromfile(
        small_digits_config(
            wandb_offline, "dict(type='WandbVisBackend', log_checkpoint=True, log_dataset=True)"
        )
    )
    cfg.train_cfg.max_epochs = 2
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.work_dir = str(wandb_offline / "work")
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()
    run_id = runner.visualizer.get_backend("WandbVisBackend").state_dict()["run_id"]
    (path,) = wandb_run_files(osp.join(runner.log_dir, "vis_data"), run_id)
    run = read_finished_wandb_run(path)

    models = [a for a in run.artifact_details if a["type"] == "model"]
    by_alias = {alias: a for a in models for alias in a["aliases"]}
    assert {"latest", "epoch_1", "epoch_2", "best"} <= set(by_alias)
    assert all(a["name"] == f"model-{run_id}" for a in models)
    second = by_alias["epoch_2"]
    assert "latest" in second["aliases"]
    assert list(second["files"]) == ["epoch_2.pth"]
    meta = second["metadata"]
    assert (meta["step"], meta["epoch"]) == (16, 2)
    assert meta["config_hash"] == config_hash(runner.cfg)
    assert "val/accuracy/top1" in meta["metrics"] and "train/loss" in meta["metrics"]
    best = by_alias["best"]["metadata"]
    assert best["accuracy/top1"] == best["metrics"]["val/accuracy/top1"]

    # Offline, W&B cannot mark it used (online: use_artifact, lineage data -> run -> model).
    (dataset,) = [a for a in run.artifact_details if a["type"] == "dataset"]
    assert dataset["metadata"] == {"data_root": str(data_root)}
    assert dataset["files"] == {"README": f"file://{data_root}/README"}  # referenced, not copied


def test_artifact_reference_offline_is_a_clear_error(wandb_offline, capsys):
    reference = "wandb-artifact://team/digits/model-abc:best"
    with pytest.raises(RuntimeError, match="offline mode .* does not reach"):
        download_checkpoint(reference)
    with pytest.raises(ValueError, match="expected wandb-artifact://ENTITY/PROJECT/NAME:ALIAS"):
        download_checkpoint("wandb-artifact://model-abc")
    config = small_digits_config(wandb_offline, "dict(type='LocalVisBackend', name='l')")
    work_dir = str(wandb_offline / "w")
    assert main(["train", config, "--work-dir", work_dir, f"load_from={reference}"]) == 2
    err = capsys.readouterr().err
    assert "is a W&B artifact" in err and "WANDB_MODE=offline" in err
    assert main(["train", config, "--work-dir", work_dir, "--resume", reference]) == 2
    assert "is a W&B artifact" in capsys.readouterr().err


def test_online_the_dataset_is_used_and_a_reference_downloaded(tmp_path, monkeypatch):
    """Unit test (no W&B server here): the public calls made when online."""
    from unittest.mock import MagicMock

    import wandb

    from torchrig.visualization import _wandb_artifacts

    monkeypatch.setenv("WANDB_MODE", "online")
    data_root = tmp_path / "data"
    data_root.mkdir()
    run = MagicMock(offline=False)
    config = {"train_dataloader": {"dataset": {"data_root": str(data_root)}}}
    assert _wandb_artifacts.use_dataset_artifacts(run, wandb, config) == [
        "dataset-" + str(data_root).replace("/", "-").strip("-")
    ]
    (artifact,), _ = run.use_artifact.call_args
    assert artifact.type == "dataset"

    download = tmp_path / "artifact"
    download.mkdir()
    (download / "epoch_2.pth").write_bytes(b"weights")
    api = MagicMock()
    api.return_value.artifact.return_value.download.return_value = str(download)
    monkeypatch.setattr(wandb, "Api", api)
    reference = "wandb-artifact://team/digits/model-abc:best"
    assert download_checkpoint(reference) == str(download / "epoch_2.pth")
    api.return_value.artifact.assert_called_once_with("team/digits/model-abc:best")
    monkeypatch.delitem(_wandb_artifacts._DOWNLOADED, reference)
