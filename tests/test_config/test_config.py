from __future__ import annotations

import copy
import pickle
import sys
from pathlib import Path

import pytest

from torchrig.config import Config, ConfigDict, ConfigKeyError

DATA = Path(__file__).resolve().parents[1] / "data" / "config"


def test_config_from_dict_has_attribute_and_item_access():
    cfg = Config(dict(a=1, b=dict(b1=[0, 1])))
    assert cfg.a == 1
    assert cfg["b"]["b1"] == [0, 1]
    assert cfg.b.b1 == [0, 1]
    assert isinstance(cfg.b, ConfigDict)
    assert cfg.filename is None and cfg.text == ""
    assert set(cfg) == {"a", "b"} and len(cfg) == 2 and "a" in cfg
    assert cfg.get("missing", 3) == 3
    cfg.c = dict(d=1)
    cfg["e"] = 2
    assert isinstance(cfg.c, ConfigDict) and cfg.e == 2
    with pytest.raises(AttributeError, match="nope"):
        _ = cfg.nope


def test_config_rejects_non_dict_and_reserved_keys():
    with pytest.raises(TypeError):
        Config([1, 2])  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="filename"):
        Config(dict(filename="x"))


@pytest.mark.parametrize("name", ["inherit/root.json", "inherit/mid.yaml", "inherit/data.yml"])
def test_fromfile_reads_each_format(name):
    cfg = Config.fromfile(DATA / name)
    assert cfg.filename == str(DATA / name)
    assert str(DATA / name) in cfg.text
    assert len(cfg) > 0


def test_fromfile_python_and_text_includes_bases():
    cfg = Config.fromfile(str(DATA / "inherit" / "child.py"))
    assert cfg.model.depth == 101
    text = cfg.text
    for name in ("root.json", "mid.yaml", "data.yml", "child.py"):
        assert str(DATA / "inherit" / name) in text
    assert text.index("root.json") < text.index("mid.yaml") < text.index("child.py")


def test_to_dict_deepcopy_and_pickle_keep_everything():
    cfg = Config.fromfile(DATA / "inherit" / "child.py")
    plain = cfg.to_dict()
    assert type(plain) is dict and type(plain["model"]) is dict
    assert plain["train_dataloader"]["dataset"]["pipeline"][1]["scale"] == (224, 224)
    deep = copy.deepcopy(cfg)
    assert deep == cfg and deep.filename == cfg.filename and deep.text == cfg.text
    deep.model.depth = 1
    assert cfg.model.depth == 101
    loaded = pickle.loads(pickle.dumps(cfg))
    assert loaded.to_dict() == plain
    assert loaded.filename == cfg.filename and loaded.text == cfg.text
    assert isinstance(loaded.model, ConfigDict)
    shallow = copy.copy(cfg)
    assert shallow.to_dict() == plain


def test_merge_from_dict_with_dotted_keys_and_list_indices():
    cfg = Config(
        dict(model=dict(backbone=dict(depth=50), layers=[dict(channels=8), dict(channels=16)]))
    )
    cfg.merge_from_dict(
        {"model.backbone.depth": 101, "model.layers.1.channels": 32, "model.new": [1, 2]}
    )
    assert cfg.model.backbone.depth == 101
    assert [layer.channels for layer in cfg.model.layers] == [8, 32]
    assert cfg.model.new == [1, 2]
    cfg.merge_from_dict({"model.layers.0": dict(channels=4, _delete_=True)})
    assert cfg.model.layers[0].to_dict() == {"channels": 4}


def test_merge_from_dict_bad_keys_name_the_file_and_key(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("model = dict(layers=[dict(ch=1)], depth=50)\n")
    cfg = Config.fromfile(path)
    with pytest.raises(ConfigKeyError, match=r"model\.layers\.3.*out of range") as info:
        cfg.merge_from_dict({"model.layers.3.ch": 2})
    assert str(path) in str(info.value)
    with pytest.raises(ConfigKeyError, match=r"model\.depth") as info:
        cfg.merge_from_dict({"model.depth.x": 2})
    assert str(path) in str(info.value)
    with pytest.raises(ConfigKeyError, match=r"model\.layers\.x"):
        cfg.merge_from_dict({"model.layers.x": 2})
    with pytest.raises(ConfigKeyError, match="empty"):
        cfg.merge_from_dict({"model..x": 2})
    assert cfg.model.depth == 50


def test_custom_imports(tmp_path, monkeypatch):
    (tmp_path / "my_custom_mod.py").write_text("import sys\nsys.modules[__name__].LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_custom_mod", raising=False)
    path = tmp_path / "cfg.py"
    path.write_text(
        "custom_imports = dict(imports=['my_custom_mod'], allow_failed_imports=False)\n"
    )
    Config.fromfile(path)
    assert sys.modules["my_custom_mod"].LOADED is True

    bad = tmp_path / "bad.py"
    bad.write_text("custom_imports = dict(imports=['no_such_module_xyz'])\n")
    with pytest.raises(ImportError, match="no_such_module_xyz") as info:
        Config.fromfile(bad)
    assert str(bad) in str(info.value)
    allowed = tmp_path / "allowed.py"
    allowed.write_text(
        "custom_imports = dict(imports=['no_such_module_xyz'], allow_failed_imports=True)\n"
    )
    with pytest.warns(UserWarning, match="no_such_module_xyz"):
        Config.fromfile(allowed)
    assert Config.fromfile(bad, import_custom_modules=False).custom_imports.imports


def test_predefined_variables_in_python_and_yaml():
    cfg = Config.fromfile(DATA / "predefined.py")
    assert cfg.dirname == str(DATA)
    assert cfg.basename == "predefined.py"
    assert cfg.stem == "predefined"
    assert cfg.ext == ".py"
    assert cfg.work_dir == "./work_dirs/predefined"
    yaml_cfg = Config.fromfile(DATA / "predefined.yaml")
    assert (yaml_cfg.stem, yaml_cfg.ext) == ("predefined", ".yaml")
    raw = Config.fromfile(DATA / "predefined.py", use_predefined_variables=False)
    assert raw.stem == "{{fileBasenameNoExtension}}"


def test_predefined_variables_are_those_of_the_base_file():
    cfg = Config.fromfile(DATA / "inherit" / "child.py")
    assert cfg.work_dir == "./work_dirs/root"


def test_environment_variables(tmp_path, monkeypatch):
    path = tmp_path / "cfg.py"
    path.write_text("a = '{{$TORCHRIG_TEST_VAR:fallback}}'\nb = {{$TORCHRIG_TEST_NUM:3}}\n")
    monkeypatch.delenv("TORCHRIG_TEST_VAR", raising=False)
    monkeypatch.setenv("TORCHRIG_TEST_NUM", "7")
    cfg = Config.fromfile(path)
    assert (cfg.a, cfg.b) == ("fallback", 7)
    assert cfg.env_variables == {"TORCHRIG_TEST_VAR": "fallback", "TORCHRIG_TEST_NUM": "7"}


def test_fromstring_each_format():
    assert Config.fromstring("a = dict(b=1)\n", ".py").a.b == 1
    assert Config.fromstring('{"a": {"b": 1}}', ".json").a.b == 1
    assert Config.fromstring("a:\n  b: 1\n", "yaml").a.b == 1
    with pytest.raises(OSError):
        Config.fromstring("a=1", ".toml")


def test_repr_names_the_file():
    cfg = Config.fromfile(DATA / "predefined.yaml")
    assert str(DATA / "predefined.yaml") in repr(cfg)
