"""WandbTableHook: the validation-set table once and a prediction table at each validation, in a
real offline W&B run read back, equal to what the model predicts; JSON lines for the rest."""

from __future__ import annotations

import glob
import json
import os.path as osp

import pytest
import torch

from tests.test_visualization import conftest as _vis_fixtures
from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from tests.test_visualization._small_configs import small_digits_config
from torchrig.hooks.wandb_table_hook import WandbTableHook
from torchrig.structures import BaseDataElement, LabelData

wandb_offline = _vis_fixtures.wandb_offline  # W&B offline under tmp_path (a fixture)


def _runner(tmp_path, backends: str, max_epochs: int = 2):
    from torchrig.config import Config
    from torchrig.runner import Runner

    cfg = Config.fromfile(small_digits_config(tmp_path, backends))
    cfg.train_cfg.max_epochs = max_epochs
    cfg.custom_hooks = [dict(type="WandbTableHook", num_samples=8, input_shape=(8, 8))]
    cfg.work_dir = str(tmp_path / "work")
    return Runner.from_cfg(cfg)


def _predict(runner, index: int) -> tuple[int, float, int]:
    """What the model predicts for validation sample ``index``: (label, score, truth)."""
    item = runner.val_loop.dataloader.dataset[index]
    runner.model.eval()
    with torch.no_grad():
        (out,) = runner.model(item["inputs"][None], item["data_samples"][None], mode="predict")
    label = int(out["pred_label"])
    return label, float(out["pred_score"][label]), int(item["data_samples"])


def test_tables_in_the_wandb_run_equal_the_model_outputs(wandb_offline):
    runner = _runner(wandb_offline, "dict(type='WandbVisBackend')")
    runner.train()
    backend = runner.visualizer.get_backend("WandbVisBackend")
    run_id, run_dir = backend.experiment.id, backend.experiment.dir
    runner.visualizer.close()
    (path,) = wandb_run_files(osp.join(runner.log_dir, "vis_data"), run_id)
    run = read_finished_wandb_run(path)

    samples = [r for r in run.history if "val/samples/_type" in r]
    predictions = [r for r in run.history if "val/predictions/_type" in r]
    assert len(samples) == 1  # the validation set, once
    assert [r["iter"] for r in predictions] == [8, 16]  # each validation, at its iteration
    assert all(r["val/predictions/nrows"] == 8 for r in predictions)

    with open(osp.join(run_dir, samples[0]["val/samples/path"]), encoding="utf-8") as f:
        sample_table = json.load(f)
    assert sample_table["columns"] == ["index", "input", "label", "class"]
    with open(osp.join(run_dir, predictions[-1]["val/predictions/path"]), encoding="utf-8") as f:
        table = json.load(f)
    assert table["columns"] == ["index", "input", "ground_truth", "prediction", "score"]
    assert [row[0] for row in table["data"]] == [row[0] for row in sample_table["data"]]
    # The last validation ran on the final weights: its rows are the model's own outputs.
    for index, _, truth, prediction, score in table["data"]:
        label, expected_score, expected_truth = _predict(runner, index)
        assert (prediction, truth) == (str(label), str(expected_truth))  # class names
        assert score == pytest.approx(expected_score, rel=1e-5)

    kinds = {(a["name"], a["type"]) for a in run.artifacts}
    assert (f"val-samples-{run_id}", "dataset") in kinds
    aliases = {a for art in run.artifacts if art["type"] == "predictions" for a in art["aliases"]}
    assert {"iter_8", "iter_16", "latest"} <= aliases
    # Each predictions artifact: the table, and it joined to the samples table by index.
    for art in run.artifact_details:
        if art["type"] == "predictions":
            assert {"predictions.table.json", "joined.joined-table.json"} <= set(art["files"])

    # Every backend gets the same rows as JSON lines.
    vis_data = osp.join(runner.log_dir, "vis_data")
    with open(osp.join(vis_data, "val_predictions.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert [line["step"] for line in lines] == [8] * 8 + [16] * 8
    last = [[r["index"], r["ground_truth"], r["prediction"], r["score"]] for r in lines[8:]]
    assert last == [[row[0], row[2], row[3], row[4]] for row in table["data"]]


def test_without_wandb_the_rows_go_to_files_and_the_grid_to_the_visualizer(tmp_path):
    runner = _runner(tmp_path, "dict(type='LocalVisBackend', name='local2')", max_epochs=1)
    runner.train()
    runner.visualizer.close()
    vis_data = osp.join(runner.log_dir, "vis_data")
    with open(osp.join(vis_data, "val_samples.jsonl"), encoding="utf-8") as f:
        samples = [json.loads(line) for line in f]
    assert len(samples) == 8 and samples[0]["input"] == {"image": [8, 8]}
    assert {s["class"] for s in samples} <= {str(i) for i in range(10)}
    assert glob.glob(osp.join(vis_data, "val_predictions_iter_8.png"))
    assert glob.glob(osp.join(vis_data, "vis_image", "val", "predictions_8.png")) or glob.glob(
        osp.join(vis_data, "**", "*predictions*8*.png"), recursive=True
    )


def test_rows_from_openmmlab_data_samples():
    hook = WandbTableHook(num_samples=1)
    sample = BaseDataElement(
        gt_label=LabelData(label=torch.tensor([2])),
        pred_label=LabelData(label=torch.tensor([1])),
        pred_score=torch.tensor([0.1, 0.7, 0.2]),
        img_path="a.png",
        difficulty=torch.tensor(3),
        metainfo=dict(sample_idx=5),
    )
    row = hook._row(5, torch.zeros(3, 4, 4, dtype=torch.uint8), sample)
    assert row["ground_truth"] == 2 and row["prediction"] == 1
    assert row["score"] == pytest.approx(0.7)
    assert row["img_path"] == "a.png" and row["difficulty"] == 3
    assert row["input"].shape == (4, 4, 3)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        WandbTableHook(num_samples=0)


def test_boxes_from_detection_data_samples_go_on_the_wandb_image():
    import wandb

    from torchrig.hooks.wandb_table_hook import _wandb_boxes
    from torchrig.structures import InstanceData

    pred = InstanceData(
        bboxes=torch.tensor([[1.0, 2.0, 5.0, 6.0]]),
        labels=torch.tensor([1]),
        scores=torch.tensor([0.9]),
    )
    gt = InstanceData(bboxes=torch.tensor([[2.0, 4.0, 10.0, 12.0]]), labels=torch.tensor([0]))
    sample = BaseDataElement(
        pred_instances=pred, gt_instances=gt, metainfo=dict(scale_factor=(2.0, 2.0))
    )
    row = WandbTableHook()._row(0, torch.zeros(3, 8, 8, dtype=torch.uint8), sample)
    assert row["boxes"] == {
        "predictions": [{"box": [1.0, 2.0, 5.0, 6.0], "label": 1, "score": pytest.approx(0.9)}],
        "ground_truth": [{"box": [1.0, 2.0, 5.0, 6.0], "label": 0, "score": None}],  # rescaled
    }
    assert row["pred_instances"] == 1 and row["gt_instances"] == 1
    boxes = _wandb_boxes(row["boxes"], ["cat", "dog"])
    assert boxes["predictions"]["class_labels"] == {1: "dog"}
    wandb.Image(row["input"], boxes=boxes)  # W&B checks the boxes' format (raises if bad)
