from __future__ import annotations

import io
from pathlib import Path

import pytest

from torchrig.fileio import BaseFileHandler, dump, file_handlers, load, register_handler

DATA = {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None, "e": True}}


@pytest.mark.parametrize("ext", ["json", "yaml", "yml", "pkl", "pickle"])
def test_round_trip_through_str_and_path(tmp_path, ext):
    as_path = tmp_path / f"data.{ext}"
    dump(DATA, as_path)
    assert load(as_path) == DATA
    as_str = str(tmp_path / f"other.{ext}")
    dump(DATA, as_str)
    assert load(as_str) == DATA


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_text_file_objects_and_strings(fmt):
    buffer = io.StringIO()
    dump(DATA, buffer, file_format=fmt)
    buffer.seek(0)
    assert load(buffer, file_format=fmt) == DATA
    text = dump(DATA, file_format=fmt)
    assert isinstance(text, str)
    assert load(io.StringIO(text), file_format=fmt) == DATA


def test_pickle_binary_file_objects_and_bytes():
    buffer = io.BytesIO()
    dump(DATA, buffer, file_format="pickle")
    buffer.seek(0)
    assert load(buffer, file_format="pkl") == DATA
    data = dump(DATA, file_format="pkl")
    assert isinstance(data, bytes)
    with pytest.raises(TypeError, match="binary"):
        dump(DATA, io.StringIO(), file_format="pickle")


def test_yaml_keeps_tuples_and_order_and_loads_safely(tmp_path):
    data = {"z": (1, 2), "a": [(3,)], "m": {"t": ()}}
    text = dump(data, file_format="yaml")
    assert text.index("z:") < text.index("a:")
    assert load(io.StringIO(text), file_format="yaml") == data
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(Exception, match="could not determine a constructor"):
        load(unsafe)


def test_json_writes_tuples_and_sets_as_lists():
    assert load(io.StringIO(dump({"t": (1, 2)}, file_format="json")), file_format="json") == {
        "t": [1, 2]
    }
    assert dump({1, 2}, file_format="json") in ("[1, 2]", "[2, 1]")
    with pytest.raises(TypeError, match="object"):
        dump(object(), file_format="json")


def test_helpful_errors(tmp_path):
    with pytest.raises(TypeError, match=r"Unsupported file format 'toml'.*json"):
        dump(DATA, tmp_path / "x.toml")
    with pytest.raises(TypeError, match="no extension"):
        dump(DATA, tmp_path / "noext")
    with pytest.raises(TypeError, match="file_format must be given"):
        dump(DATA)
    with pytest.raises(TypeError, match="file_format"):
        load(io.StringIO("{}"))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="Unsupported"):
        load(io.StringIO("{}"), file_format="xml")


def test_register_handler(tmp_path):
    @register_handler("txtlines")
    class LinesHandler(BaseFileHandler):
        def load_from_fileobj(self, file, **kwargs):
            return file.read().splitlines()

        def dump_to_fileobj(self, obj, file, **kwargs):
            file.write(self.dump_to_str(obj))

        def dump_to_str(self, obj, **kwargs):
            return "\n".join(obj) + "\n"

    try:
        path = tmp_path / "a.txtlines"
        dump(["x", "y"], path)
        assert Path(path).read_text() == "x\ny\n"
        assert load(path) == ["x", "y"]
    finally:
        file_handlers.pop("txtlines")


def test_backend_args_and_file_client_args_pick_the_storage(tmp_path):
    path = tmp_path / "a.json"
    with pytest.warns(DeprecationWarning, match="FileClient"):
        dump(DATA, path, backend_args=None, file_client_args={"backend": "disk"})
    assert load(path, backend_args={"backend": "local"}) == DATA
    with pytest.raises(ImportError, match="petrel_client"):
        load(path, backend_args={"backend": "petrel"})
    with pytest.raises(ValueError, match="cannot be set at the same time"):
        load(path, backend_args={"backend": "local"}, file_client_args={"backend": "disk"})
