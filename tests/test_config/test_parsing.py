from __future__ import annotations

from pathlib import Path

import pytest

from torchrig.config import Config, ConfigKeyError, ConfigParsingError

DATA = Path(__file__).resolve().parents[1] / "data" / "config"
ERRORS = DATA / "errors"


def test_missing_file_names_the_file():
    with pytest.raises(FileNotFoundError, match="no_such_config.py"):
        Config.fromfile(DATA / "no_such_config.py")


def test_missing_base_names_the_base_and_the_child():
    with pytest.raises(FileNotFoundError) as info:
        Config.fromfile(ERRORS / "missing_base.py")
    message = str(info.value)
    assert "does_not_exist.py" in message and str(ERRORS / "missing_base.py") in message


def test_syntax_error_names_file_and_line(tmp_path):
    # written here rather than kept in tests/data, where it would break the repository's lint
    path = tmp_path / "syntax_error.py"
    path.write_text("a = 1\nb = dict(c=2\nc = 3\n")
    with pytest.raises(SyntaxError) as info:
        Config.fromfile(path)
    assert str(path) in str(info.value)
    assert "line 2" in str(info.value)
    assert info.value.filename == str(path)


def test_invalid_json_and_yaml_name_file_and_line(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(ConfigParsingError, match=r"bad\.json, line 4"):
        Config.fromfile(bad_json)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigParsingError, match=r"bad\.yaml"):
        Config.fromfile(bad_yaml)


def test_circular_inheritance_names_the_chain():
    with pytest.raises(ConfigParsingError, match="Circular") as info:
        Config.fromfile(ERRORS / "cycle_a.py")
    assert "cycle_a.py -> " in str(info.value) and "cycle_b.py" in str(info.value)


def test_self_inheritance_is_circular(tmp_path):
    path = tmp_path / "self.yaml"
    path.write_text("_base_: ./self.yaml\n")
    with pytest.raises(ConfigParsingError, match="Circular"):
        Config.fromfile(path)


def test_missing_base_attribute_names_file_line_and_key():
    with pytest.raises(ConfigKeyError) as info:
        Config.fromfile(ERRORS / "bad_base_attr.py")
    message = str(info.value)
    assert str(ERRORS / "bad_base_attr.py") in message
    assert "line 2" in message and "no_such_key" in message


def test_missing_base_reference_names_file_and_key():
    with pytest.raises(ConfigKeyError) as info:
        Config.fromfile(ERRORS / "bad_base_ref.json")
    message = str(info.value)
    assert str(ERRORS / "bad_base_ref.json") in message
    assert "_base_.visualizer.missing" in message


def test_runtime_error_in_config_names_file_and_line(tmp_path):
    path = tmp_path / "boom.py"
    path.write_text("a = 1\nb = 1 / 0\n")
    with pytest.raises(ConfigParsingError, match=r"boom\.py, line 2.*ZeroDivisionError"):
        Config.fromfile(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_text("a = 1\n")
    with pytest.raises(OSError, match=r"\.toml"):
        Config.fromfile(path)


def test_bad_base_value(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("_base_ = 3\n")
    with pytest.raises(ConfigParsingError, match="_base_"):
        Config.fromfile(path)


def test_python_config_drops_modules_and_functions(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text(
        "import os.path as osp\n"
        "def helper(x):\n    return x * 2\n"
        "value = helper(2)\n"
        "name = osp.join('a', 'b')\n"
    )
    assert Config.fromfile(path).to_dict() == {"value": 4, "name": "a/b"}
