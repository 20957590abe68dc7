from __future__ import annotations

from pathlib import Path

import pytest

from torchrig.config import Config, ConfigDict, ConfigKeyError
from torchrig.config.inheritance import merge_a_into_b

DATA = Path(__file__).resolve().parents[1] / "data" / "config"


def test_seed_third_example_replaces_one_field_of_the_inherited_visualizer():
    base = Config.fromfile(DATA / "_base_" / "default_runtime.py")
    cfg = Config.fromfile(DATA / "seed_example" / "wandb_runtime.py")
    expected_visualizer = base.visualizer.to_dict()
    expected_visualizer["vis_backends"] = [
        {"type": "WandbVisBackend", "init_kwargs": {"project": "mmdet", "entity": "someone"}}
    ]
    assert cfg.visualizer.to_dict() == expected_visualizer
    assert cfg.visualizer.type == "DetLocalVisualizer" and cfg.visualizer.name == "visualizer"
    # every other inherited key is there, unchanged
    rest = {k: v for k, v in cfg.to_dict().items() if k != "visualizer"}
    assert rest == {k: v for k, v in base.to_dict().items() if k != "visualizer"}
    assert "_base_" not in cfg


def test_three_levels_mixed_formats_merge_delete_and_lists():
    cfg = Config.fromfile(DATA / "inherit" / "child.py")
    assert cfg.model.to_dict() == {
        "type": "ResNet",
        "depth": 101,  # mid.yaml overrides root.json
        "norm_cfg": {"type": "SyncBN", "requires_grad": True},  # child merges into root's dict
        "out_indices": [3],  # lists are replaced, not merged
    }
    assert cfg.optimizer.to_dict() == {"type": "AdamW", "lr": 0.001}  # _delete_ replaced it
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.dataset.type == "ToyDataset"  # from the second base
    assert cfg.max_epochs == 24  # `_base_.schedule_len * 2`
    assert "_delete_" not in str(cfg.to_dict())


def test_base_references_in_every_format():
    child = Config.fromfile(DATA / "inherit" / "child.py")
    assert child.depth_ref == 101 and child.depth_copy == 101
    assert child.name_in_string == "resnet101_12e"
    json_cfg = Config.fromfile(DATA / "inherit" / "ref_child.json")
    assert json_cfg.backbone_depth == 50
    assert json_cfg.norm.to_dict() == {"type": "BN", "requires_grad": True}
    assert isinstance(json_cfg.norm, ConfigDict)
    assert json_cfg.first_index == 0
    yaml_cfg = Config.fromfile(DATA / "inherit" / "ref_child.yaml")
    assert (yaml_cfg.backbone_depth, yaml_cfg.lr) == (50, 0.02)


def test_same_key_in_two_bases_allowed_when_equal():
    cfg = Config.fromfile(DATA / "inherit" / "dup_equal.py")
    assert cfg.to_dict() == {"default_scope": "mmdet", "a": 1, "b": 2}


def test_same_key_in_two_bases_with_different_values_names_both_files_and_key():
    with pytest.raises(ConfigKeyError) as info:
        Config.fromfile(DATA / "inherit" / "dup_conflict.py")
    message = str(info.value)
    assert "'default_scope'" in message
    assert str(DATA / "inherit" / "dup_a.py") in message
    assert str(DATA / "inherit" / "dup_c.py") in message


def test_base_as_single_string_and_absolute_path(tmp_path):
    base = tmp_path / "sub" / "base.py"
    base.parent.mkdir()
    base.write_text("a = dict(x=1, y=2)\n")
    child = tmp_path / "child.py"
    child.write_text(f"_base_ = {str(base)!r}\na = dict(y=3)\n")
    assert Config.fromfile(child).a.to_dict() == {"x": 1, "y": 3}
    rel = tmp_path / "rel.yaml"
    rel.write_text("_base_: sub/base.py\nb: 1\n")
    assert Config.fromfile(rel).to_dict() == {"a": {"x": 1, "y": 2}, "b": 1}


def test_base_mutation_does_not_leak_between_loads():
    first = Config.fromfile(DATA / "seed_example" / "wandb_runtime.py")
    base = Config.fromfile(DATA / "_base_" / "default_runtime.py")
    assert base.visualizer.vis_backends == [{"type": "LocalVisBackend"}]
    assert first.visualizer.vis_backends[0].type == "WandbVisBackend"


def test_merge_a_into_b_rules():
    b = ConfigDict(a=dict(x=1, y=dict(z=1)), l=[1, 2], s="keep")
    merged = merge_a_into_b(dict(a=dict(y=dict(w=2)), l=[3]), b)
    assert merged.to_dict() == {"a": {"x": 1, "y": {"z": 1, "w": 2}}, "l": [3], "s": "keep"}
    assert b.a.y.to_dict() == {"z": 1}  # b is not modified
    replaced = merge_a_into_b(dict(a=dict(_delete_=True, q=1)), b)
    assert replaced.a.to_dict() == {"q": 1}
    with pytest.raises(TypeError, match=r"s=.*_delete_=True"):
        merge_a_into_b(dict(s=dict(x=1)), b, filename="cfg.py")
