"""BaseInferencer with the digits classifier: a checkpoint trained here, inference on raw digits."""

from __future__ import annotations

import os.path as osp

import numpy as np
import pytest
import torch

from torchrig.config import Config
from torchrig.infer import BaseInferencer
from torchrig.infer.infer import InferencerMeta, ModelType
from torchrig.visualization import Visualizer

pytest.importorskip("sklearn")

CONFIG = osp.join(osp.dirname(__file__), "..", "..", "configs", "digits", "digits_mlp.py")


class DigitsInferencer(BaseInferencer):
    """What an OpenMMLab inferencer looks like, for 8x8 digits."""

    visualize_kwargs = {"show", "return_vis"}
    postprocess_kwargs = {"top1_only"}

    def _init_pipeline(self, cfg):
        from torchrig.testing.digits import PackDigitsInputs

        pack = PackDigitsInputs()
        return lambda image: pack(
            {"img": np.asarray(image, np.float32).reshape(64), "gt_label": -1}
        )

    def visualize(self, inputs, preds, show=False, return_vis=False, **kwargs):
        if not return_vis:
            return None
        drawer = Visualizer(name=f"digits-vis-{id(self)}")
        images = []
        for image, pred in zip(inputs, preds):
            gray = (
                (np.asarray(image).reshape(8, 8) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
            )
            drawer.set_image(gray)
            drawer.draw_texts(str(int(pred["pred_label"])), np.array([[1, 1]]), colors="r")
            images.append(drawer.get_image())
        return images

    def postprocess(self, preds, visualization, return_datasample=False, top1_only=True):
        if return_datasample:
            return {"predictions": preds, "visualization": visualization}
        return {
            "predictions": [int(p["pred_label"]) for p in preds],
            "visualization": visualization,
        }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from torchrig.runner import Runner

    work_dir = tmp_path_factory.mktemp("digits_infer")
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = 3
    cfg.train_cfg.val_interval = 10
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=3)
    cfg.default_hooks.progress = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()
    checkpoint = osp.join(work_dir, "epoch_3.pth")
    assert osp.isfile(checkpoint)
    return cfg, checkpoint


def _val_digits():
    from torchrig.testing.digits import DigitsDataset

    dataset = DigitsDataset(split="val")
    records = [dataset.get_data_info(i) for i in range(60)]
    return [r["img"] for r in records], [r["gt_label"] for r in records]


def test_config_file_and_checkpoint_predict_the_digits(trained):
    _, checkpoint = trained
    inferencer = DigitsInferencer(CONFIG, weights=checkpoint, device="cpu", show_progress=False)
    assert not inferencer.model.training and inferencer.collate_fn is not None
    images, labels = _val_digits()
    result = inferencer(images, batch_size=16)
    accuracy = np.mean(np.array(result["predictions"]) == np.array(labels))
    assert len(result["predictions"]) == 60 and accuracy > 0.8
    assert result["visualization"] is None
    # One input alone, batch sizes that do not divide the inputs: the same predictions.
    assert inferencer(images[0])["predictions"] == result["predictions"][:1]
    assert inferencer(images[:7], batch_size=3)["predictions"] == result["predictions"][:7]


def test_config_read_from_the_checkpoint_and_kwargs_routed_to_their_step(trained):
    _, checkpoint = trained
    inferencer = DigitsInferencer(None, weights=checkpoint, device="cpu", show_progress=False)
    assert inferencer.cfg.model.type == "DigitsClassifier"
    images, _ = _val_digits()
    result = inferencer(images[:2], return_vis=True, top1_only=True)
    assert [im.shape for im in result["visualization"]] == [(32, 32, 3), (32, 32, 3)]
    samples = inferencer(images[:2], return_datasamples=True)["predictions"]
    assert isinstance(samples[0]["pred_label"], torch.Tensor)
    with pytest.raises(ValueError, match="unknown argument"):
        inferencer(images[:1], colour="red")


def test_a_config_dict_without_weights_warns_of_random_weights(trained):
    cfg, _ = trained
    with pytest.warns(UserWarning, match="randomly initialized"):
        inferencer = DigitsInferencer(dict(cfg), device="cpu", show_progress=False)
    assert isinstance(inferencer.model, torch.nn.Module)
    with pytest.raises(ValueError, match="weights must be specified"):
        DigitsInferencer(None)
    with pytest.raises(TypeError, match="model must be a filepath"):
        DigitsInferencer(3)


def test_chunking_and_dispatch():
    inferencer = DigitsInferencer.__new__(DigitsInferencer)
    assert list(inferencer._get_chunk_data(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert inferencer._dispatch_kwargs(show=True, top1_only=False) == (
        {}, {}, {"show": True}, {"top1_only": False},
    )  # fmt: skip
    assert ModelType is not None


def test_duplicate_kwargs_across_steps_are_a_class_definition_error():
    with pytest.raises(AssertionError, match="duplicated keys"):

        class Broken(BaseInferencer):  # noqa: F841
            preprocess_kwargs = {"show"}
            visualize_kwargs = {"show"}

    assert isinstance(DigitsInferencer, InferencerMeta)


def test_models_from_a_packages_metafiles(trained, tmp_path, monkeypatch):
    _, checkpoint = trained
    package = tmp_path / "digitzoo"
    (package / ".mim" / "configs" / "digits").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / ".mim" / "configs" / "digits" / "digits_mlp.py").write_text(open(CONFIG).read())
    base = package / ".mim" / "configs" / "_base_"
    base.mkdir()
    base_src = osp.join(osp.dirname(CONFIG), "..", "_base_", "default_runtime.py")
    (base / "default_runtime.py").write_text(open(base_src).read())
    (package / ".mim" / "model-index.yml").write_text("Import:\n  - configs/digits/metafile.yml\n")
    (package / ".mim" / "configs" / "digits" / "metafile.yml").write_text(
        "Models:\n"
        "  - Name: digits-mlp_1xb32\n"
        "    Alias: digits-mlp\n"
        "    Config: configs/digits/digits_mlp.py\n"
        f"    Weights: {checkpoint}\n"
        "  - Name: digits-cnn_1xb32\n"
        "    Config: configs/digits/digits_mlp.py\n"
        f"    Weights: {checkpoint}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert BaseInferencer.list_models("digitzoo") == [
        "digits-mlp_1xb32",
        "digits-mlp",
        "digits-cnn_1xb32",
    ]
    assert BaseInferencer.list_models("digitzoo", patterns="digits-mlp") == [
        "digits-mlp_1xb32",
        "digits-mlp",
    ]
    inferencer = DigitsInferencer("DIGITS-MLP", scope="digitzoo", device="cpu", show_progress=False)
    images, labels = _val_digits()
    predictions = inferencer(images, batch_size=60)["predictions"]
    assert np.mean(np.array(predictions) == np.array(labels)) > 0.8
    with pytest.raises(ValueError, match="Cannot find model"):
        DigitsInferencer("resnet", scope="digitzoo")
    with pytest.raises(ImportError, match="pip install mmsegmentation"):
        BaseInferencer.list_models("mmseg")
