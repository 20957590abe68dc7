from __future__ import annotations

import ast
from pathlib import Path

import pytest

from torchrig.config import Config

DATA = Path(__file__).resolve().parents[1] / "data" / "config"


def _rich_config() -> Config:
    return Config(
        dict(
            model=dict(
                type="ResNet",
                depth=50,
                layers=[dict(ch=i, name=f"layer{i}") for i in range(8)],
                norm=None,
                frozen=True,
                scale=(224, 224),
                single=(1,),
                empty=dict(),
                empty_list=[],
                lr=1e-4,
                inf=float("inf"),
            ),
            str_keys={"a-b": 1, "1x": [1, 2], "ok": "quote ' and \" inside"},
            work_dir="./work_dirs/x",
        )
    )


def test_pretty_text_is_valid_readable_python():
    cfg = _rich_config()
    text = cfg.pretty_text
    ast.parse(text)
    assert text.startswith("model = dict(\n")
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "scale=(224, 224)" in text and "single=(1,)" in text
    assert "{'a-b': 1" in text


@pytest.mark.parametrize("ext", [".py", ".yaml", ".yml"])
def test_dump_round_trips_to_an_equal_config(tmp_path, ext):
    cfg = _rich_config()
    cfg.dump(tmp_path / f"out{ext}")
    loaded = Config.fromfile(tmp_path / f"out{ext}")
    assert loaded.to_dict() == cfg.to_dict()
    assert loaded == cfg


def test_dump_json_round_trips_json_types(tmp_path):
    cfg = Config.fromfile(DATA / "inherit" / "ref_child.json")
    cfg.dump(tmp_path / "out.json")
    assert Config.fromfile(tmp_path / "out.json") == cfg
    # JSON has no tuples: they come back as lists, everything else equal
    tupled = Config(dict(a=(1, 2), b=dict(c=1.5)))
    tupled.dump(str(tmp_path / "tupled.json"))
    assert Config.fromfile(tmp_path / "tupled.json").to_dict() == {"a": [1, 2], "b": {"c": 1.5}}


@pytest.mark.parametrize("ext", [".py", ".json", ".yaml"])
def test_inherited_config_dump_round_trip(tmp_path, ext):
    cfg = Config.fromfile(DATA / "seed_example" / "wandb_runtime.py")
    cfg.dump(tmp_path / f"full{ext}")
    assert Config.fromfile(tmp_path / f"full{ext}") == cfg


def test_dump_without_file_returns_text_in_the_source_format():
    py_cfg = Config.fromfile(DATA / "predefined.py")
    assert py_cfg.dump() == py_cfg.pretty_text
    yaml_cfg = Config.fromfile(DATA / "predefined.yaml")
    assert yaml_cfg.dump().startswith("stem: predefined")
    json_cfg = Config.fromfile(DATA / "inherit" / "root.json")
    assert json_cfg.dump().lstrip().startswith("{")
    assert Config(dict(a=1)).dump() == "a = 1\n"


def test_pretty_text_writes_classes_as_imports():
    from torchrig.fileio import JsonHandler

    cfg = Config(dict(handler=dict(type=JsonHandler), fn=len))
    text = cfg.pretty_text
    assert "from torchrig.fileio.handlers.json_handler import JsonHandler" in text
    assert "fn=len" in text or "fn = len" in text
    namespace: dict = {}
    exec(text, namespace)
    assert namespace["handler"]["type"] is JsonHandler


def test_dump_unsupported_extension(tmp_path):
    with pytest.raises(OSError):
        Config(dict(a=1)).dump(tmp_path / "x.toml")
