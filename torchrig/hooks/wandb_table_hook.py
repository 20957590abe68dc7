"""WandbTableHook: at each validation, a table of fixed samples with the model's predictions."""

from __future__ import annotations

import json
import os
import os.path as osp
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.hooks.naive_visualization_hook import _meta, _to_image
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    import numpy as np

    from torchrig.runner import Runner

__all__ = ["WandbTableHook"]

# The fields of an MMEngine data sample that make the table's fixed columns.
_FIXED = ("gt_label", "pred_label", "pred_score")


def _pairs(data_batch: DATA_BATCH, outputs: Sequence[Any]) -> list[tuple[Any, Any]]:
    """``(inputs, output)`` per sample of a dict batch (``{'inputs': ...}``) or a list of
    per-sample dicts."""
    if isinstance(data_batch, dict):
        inputs = data_batch.get("inputs")
        if inputs is None:
            inputs = [None] * len(outputs)
        return list(zip(inputs, outputs))
    return [(item.get("inputs"), out) for item, out in zip(data_batch or [], outputs)]


def _plain_label(value: Any) -> Any:
    """A label (``LabelData``, tensor, array, number) as an int or a list of ints."""
    if value is None:
        return None
    value = getattr(value, "label", value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        value = tolist()
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _score(score: Any, label: Any) -> float | None:
    """The predicted label's score (or the largest) from ``pred_score``."""
    if score is None:
        return None
    score = getattr(score, "score", score)
    tolist = getattr(score, "tolist", None)
    values = tolist() if callable(tolist) else score
    if isinstance(values, (int, float)):
        return float(values)
    if isinstance(label, int) and 0 <= label < len(values):
        return float(values[label])
    return float(max(values)) if values else None


def _extras(output: Any) -> dict[str, Any]:
    """The scalar per-sample fields an output carries besides the fixed ones (``str``,
    numbers, one-element tensors), and the count of instances (boxes, masks)."""
    if isinstance(output, dict):
        items = output.items()
    else:
        keys = getattr(output, "keys", None)
        items = [(k, getattr(output, k)) for k in keys()] if callable(keys) else []
    extras: dict[str, Any] = {}
    for key, value in items:
        if key in _FIXED or key.startswith("_"):
            continue
        if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) < 200):
            extras[key] = value
        elif callable(getattr(value, "numel", None)) and value.numel() == 1:
            extras[key] = value.item()
        elif callable(getattr(value, "__len__", None)) and hasattr(value, "bboxes"):
            extras[key] = len(value)  # InstanceData: how many boxes / masks
    return extras


@HOOKS.register_module()
class WandbTableHook(Hook):
    """Logs, at each validation, a table of ``num_samples`` fixed validation samples: the input
    (image, or text), the ground truth, the prediction, its score and the per-sample fields the
    model's outputs carry; and once, the samples themselves (index, input, ground truth, class
    names from ``dataset_meta['classes']``) as the validation-set table.

    It reads what MMEngine models return from ``val_step``: ``BaseDataElement`` s (or dicts)
    with ``gt_label``, ``pred_label``, ``pred_score``; so OpenMMLab models work unchanged. The
    samples are the same dataset indices at every validation (evenly spread over the
    validation order), so rows compare across epochs; ``index`` joins the two tables.

    With a :class:`~torchrig.visualization.WandbVisBackend`, both are ``wandb.Table`` s in the
    run (``val/samples`` once, also as a ``dataset`` artifact; ``val/predictions`` at the
    iteration of each validation). Every backend gets the same rows as JSON lines
    (``<log_dir>/vis_data/val_samples.jsonl``, ``val_predictions.jsonl``); image inputs also
    as a grid PNG per validation beside them (sent to the visualizer when there is no W&B).

    Config: ``custom_hooks = [dict(type='WandbTableHook', num_samples=16)]``.

    Args:
        num_samples: How many samples the tables hold.
        input_shape: Reshape each input to this before reading it as an image (e.g.
            ``(8, 8)`` for flat pixel vectors); None keeps it (CHW or HW tensors are images,
            strings are text).
        key: The prediction table's name (the samples table is ``<prefix>/samples``).
        backend: The name of the W&B backend in the visualizer.
        joined_artifact: Also log, at each validation, a ``predictions`` artifact (aliases
            ``latest``, ``iter_<N>``) holding the table and a ``wandb.JoinedTable`` of it with
            the samples table by ``index`` (about 0.1 s per validation).
    """

    priority = "BELOW_NORMAL"

    def __init__(
        self,
        num_samples: int = 16,
        input_shape: Sequence[int] | None = None,
        key: str = "val/predictions",
        backend: str = "WandbVisBackend",
        joined_artifact: bool = True,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"WandbTableHook: num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.key = key
        self.samples_key = key.rsplit("/", 1)[0] + "/samples" if "/" in key else "samples"
        self.backend = backend
        self.joined_artifact = joined_artifact
        self.last_cost = 0.0  # seconds this hook took in the last validation
        self._wanted: set[int] | None = None
        self._order: list[int] = []
        self._position = 0
        self._rows: dict[int, dict[str, Any]] = {}
        self._samples_logged = False
        self._samples_table: Any = None

    # -- collecting ------------------------------------------------------------------------
    def before_val_epoch(self, runner: Runner) -> None:
        start = time.perf_counter()
        self._rows, self._position = {}, 0
        sampler = getattr(runner.val_loop.dataloader, "sampler", None)
        try:
            self._order = [int(i) for i in sampler] if sampler is not None else []
        except TypeError:
            self._order = []
        if self._wanted is None:
            count = len(self._order) or len(runner.val_loop.dataloader.dataset)
            step = max(count / self.num_samples, 1.0)
            positions = sorted({min(int(i * step), count - 1) for i in range(self.num_samples)})
            self._wanted = {self._order[p] if self._order else p for p in positions}
        self.last_cost = time.perf_counter() - start

    def after_val_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Sequence[Any] | None = None,
    ) -> None:
        if not outputs or self._wanted is None:
            return
        start = time.perf_counter()
        for inputs, output in _pairs(data_batch, outputs):
            position = self._position
            self._position += 1
            index = _meta(output, "sample_idx")
            if index is None:
                index = self._order[position] if position < len(self._order) else position
            if int(index) in self._wanted:
                self._rows[int(index)] = self._row(int(index), inputs, output)
        self.last_cost += time.perf_counter() - start

    def _row(self, index: int, inputs: Any, output: Any) -> dict[str, Any]:
        pred = _plain_label(_meta(output, "pred_label"))
        row = {
            "index": index,
            "input": self._input(inputs, output),
            "ground_truth": _plain_label(_meta(output, "gt_label")),
            "prediction": pred,
            "score": _score(_meta(output, "pred_score"), pred),
            **_extras(output),
        }
        boxes = _boxes(output)
        if boxes:
            row["boxes"] = boxes
        return row

    def _input(self, inputs: Any, output: Any) -> Any:
        """An image (HWC/HW uint8 array), text, or the plain values of ``inputs``."""
        if inputs is None or isinstance(inputs, str):
            return inputs
        if hasattr(inputs, "detach"):
            inputs = inputs.detach().cpu()
            if self.input_shape is not None:
                inputs = inputs.reshape(self.input_shape)
            if inputs.dim() == 2 or (inputs.dim() == 3 and inputs.shape[0] in (1, 3)):
                from torchrig.visualization._values import to_image

                if inputs.dim() == 2:
                    return to_image(inputs)
                return _to_image(inputs, output)
            return inputs.tolist()
        return inputs

    # -- logging ---------------------------------------------------------------------------
    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        from torchrig.dist import is_main_process

        if not self._rows or not is_main_process():
            return
        start = time.perf_counter()
        rows = [self._rows[i] for i in sorted(self._rows)]
        step, epoch = runner.iter, runner.epoch
        classes = _classes(runner)
        out_dir = osp.join(runner.log_dir, "vis_data")
        os.makedirs(out_dir, exist_ok=True)
        grid = _grid([r["input"] for r in rows])
        if not self._samples_logged:
            samples = [_sample_row(r, classes) for r in rows]
            _write_jsonl(osp.join(out_dir, "val_samples.jsonl"), samples, {})
        predictions = [_named(r, classes) for r in rows]
        where = {"step": step, "epoch": epoch}
        _write_jsonl(osp.join(out_dir, "val_predictions.jsonl"), predictions, where)
        wandb_backend = self._wandb_backend(runner)
        if grid is not None:
            from torchrig.visualization._values import encode_png

            with open(osp.join(out_dir, f"val_predictions_iter_{step}.png"), "wb") as f:
                f.write(encode_png(grid))
            if wandb_backend is None:
                runner.visualizer.add_image(self.key, grid, step=step)
        if wandb_backend is not None:
            self._log_wandb(runner, wandb_backend, rows, classes, step)
        self._samples_logged = True
        self.last_cost += time.perf_counter() - start

    def _wandb_backend(self, runner: Runner) -> Any:
        from torchrig.visualization import WandbVisBackend

        backend = runner.visualizer.get_backend(self.backend)
        return backend if isinstance(backend, WandbVisBackend) else None

    def _log_wandb(
        self, runner: Runner, backend: Any, rows: list[dict], classes: Sequence | None, step: int
    ) -> None:
        try:
            import wandb

            def media(value: Any, row: dict | None = None) -> Any:
                if not _is_image(value):
                    return value
                boxes = (row or {}).get("boxes")
                if boxes:
                    return wandb.Image(value, boxes=_wandb_boxes(boxes, classes))
                return wandb.Image(value)

            run = backend.experiment
            values: dict[str, Any] = {}
            if self._samples_table is None:
                samples = [_sample_row(r, classes) for r in rows]
                table = wandb.Table(columns=list(samples[0]))
                for row in samples:
                    table.add_data(*(media(v) for v in row.values()))
                values[self.samples_key] = table
                artifact = wandb.Artifact(
                    f"val-samples-{run.id}",
                    type="dataset",
                    metadata={"num_samples": len(rows), "classes": list(classes or [])},
                )
                artifact.add(table, "val_samples")
                run.log_artifact(artifact)
                self._samples_table = table
            predictions = [_named(r, classes) for r in rows]
            columns = sorted({k for row in predictions for k in row} - {"boxes"}, key=_column_order)
            table = wandb.Table(columns=columns)
            for row in predictions:  # boxes are drawn on the input image
                table.add_data(*(media(row.get(c), row) for c in columns))
            values[self.key] = table
            if not self.joined_artifact:
                backend.log_media(values, step)
                return
            # The predictions joined, by index, to the samples table of the artifact above
            # (referenced, not copied), as W&B's guide to comparing predictions does.
            artifact = wandb.Artifact(
                f"val-predictions-{run.id}",
                type="predictions",
                metadata={"step": step, "epoch": runner.epoch},
            )
            artifact.add(table, "predictions")
            artifact.add(wandb.JoinedTable(self._samples_table, table, "index"), "joined")
            run.log_artifact(artifact, aliases=["latest", f"iter_{step}"])
            backend.log_media(values, step)
        except Exception as err:  # noqa: BLE001 - a tracker must never stop training
            from torchrig.visualization._writer import report

            report(f"WandbTableHook: the tables were not sent to W&B: {err!r}")


def _boxes(output: Any) -> dict[str, list[dict[str, Any]]]:
    """Boxes of ``pred_instances`` / ``gt_instances`` (MMDetection's data samples) in the
    original image's pixels: ``{'predictions': [{'box': [x1, y1, x2, y2], 'label': ...,
    'score': ...}], 'ground_truth': [...]}`` (ground truth is scaled back by the sample's
    ``scale_factor``, predictions are already at the original size)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for key, name in (("pred_instances", "predictions"), ("gt_instances", "ground_truth")):
        instances = _meta(output, key)
        bboxes = getattr(instances, "bboxes", None)
        if bboxes is None:
            continue
        bboxes = bboxes.detach().cpu().float()
        if key == "gt_instances" and _meta(output, "scale_factor") is not None:
            w_scale, h_scale = (float(v) for v in _meta(output, "scale_factor")[:2])
            bboxes = bboxes / bboxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
        labels = getattr(instances, "labels", None)
        scores = getattr(instances, "scores", None)
        found[name] = [
            {
                "box": [round(float(v), 2) for v in box],
                "label": int(labels[i]) if labels is not None else 0,
                "score": float(scores[i]) if scores is not None else None,
            }
            for i, box in enumerate(bboxes.tolist())
        ]
    return found


def _wandb_boxes(boxes: dict[str, list[dict]], classes: Sequence | None) -> dict[str, Any]:
    """``wandb.Image``'s ``boxes`` argument (pixel positions, class ids and names, scores)."""
    out = {}
    for name, items in boxes.items():
        ids = {item["label"] for item in items}
        box_data = []
        for item in items:
            x1, y1, x2, y2 = item["box"]
            entry = {
                "position": {"minX": x1, "minY": y1, "maxX": x2, "maxY": y2},
                "domain": "pixel",
                "class_id": item["label"],
                "box_caption": str(_class_name(item["label"], classes)),
            }
            if item["score"] is not None:
                entry["scores"] = {"score": item["score"]}
            box_data.append(entry)
        labels = {i: str(_class_name(i, classes)) for i in ids}
        out[name] = {"box_data": box_data, "class_labels": labels}
    return out


def _column_order(column: str) -> tuple[int, str]:
    fixed = ("index", "input", "ground_truth", "prediction", "score")
    return (fixed.index(column), "") if column in fixed else (len(fixed), column)


def _classes(runner: Runner) -> Sequence | None:
    meta = runner.visualizer.dataset_meta or {}
    if not meta.get("classes"):
        dataset = getattr(runner.val_loop.dataloader, "dataset", None)
        meta = getattr(dataset, "metainfo", None) or {}
    classes = meta.get("classes")
    return list(classes) if classes else None


def _class_name(label: Any, classes: Sequence | None) -> Any:
    if classes is not None and isinstance(label, int) and 0 <= label < len(classes):
        return classes[label]
    return label


def _named(row: dict[str, Any], classes: Sequence | None) -> dict[str, Any]:
    """A prediction row with labels shown as class names (when there are class names)."""
    named = dict(row)
    named["ground_truth"] = _class_name(row["ground_truth"], classes)
    named["prediction"] = _class_name(row["prediction"], classes)
    return named


def _sample_row(row: dict[str, Any], classes: Sequence | None) -> dict[str, Any]:
    return {
        "index": row["index"],
        "input": row["input"],
        "label": row["ground_truth"],
        "class": _class_name(row["ground_truth"], classes),
    }


def _is_image(value: Any) -> bool:
    return getattr(value, "ndim", 0) in (2, 3) and getattr(value, "dtype", None) is not None


def _write_jsonl(path: str, rows: list[dict[str, Any]], where: dict[str, Any]) -> None:
    """Append ``rows`` (each with ``where``); an image input is written as its shape (the
    pixels are in the grid PNG)."""
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            record = {**where, **row}
            if _is_image(row.get("input")):
                record["input"] = {"image": list(row["input"].shape)}
            f.write(json.dumps(record, default=str) + "\n")


def _grid(images: list[Any], tile: int = 64) -> np.ndarray | None:
    """The image inputs side by side (8 to a row, each scaled up to ``tile`` pixels), or None
    when the inputs are not images."""
    if not images or not all(_is_image(image) for image in images):
        return None
    import numpy as np

    tiles = []
    for image in images:
        rgb = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
        scale = max(1, tile // max(rgb.shape[:2]))
        tiles.append(rgb.repeat(scale, axis=0).repeat(scale, axis=1))
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    columns = min(8, len(tiles))
    rows = (len(tiles) + columns - 1) // columns
    grid = np.zeros((rows * (height + 2), columns * (width + 2), 3), dtype=np.uint8)
    for n, t in enumerate(tiles):
        top, left = (n // columns) * (height + 2), (n % columns) * (width + 2)
        grid[top : top + t.shape[0], left : left + t.shape[1]] = t
    return grid
