"""Path helpers, against real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchrig.utils import (
    check_file_exist,
    fopen,
    is_abs,
    is_filepath,
    mkdir_or_exist,
    scandir,
    symlink,
)
from torchrig.utils.path import find_vcs_root


def test_is_filepath_fopen_and_check_file_exist(tmp_path):
    file = tmp_path / "a.txt"
    file.write_text("hello")
    assert is_filepath(str(file)) and is_filepath(file) and not is_filepath(1)
    with fopen(str(file)) as f:
        assert f.read() == "hello"
    with fopen(file) as f:
        assert f.read() == "hello"
    with pytest.raises(ValueError, match="string or a Path"):
        fopen(1)
    check_file_exist(file)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        check_file_exist(tmp_path / "missing.txt")


def test_mkdir_symlink_and_scandir(tmp_path):
    mkdir_or_exist(tmp_path / "d" / "sub")
    mkdir_or_exist(tmp_path / "d" / "sub")  # again: fine
    for name in ("a.py", "b.TXT", ".hidden.py", "sub/c.py"):
        (tmp_path / "d" / name).write_text("x")
    root = tmp_path / "d"
    assert sorted(scandir(root)) == ["a.py", "b.TXT"]
    assert sorted(scandir(str(root), ".py", recursive=True)) == [
        "a.py",
        os.path.join("sub", "c.py"),
    ]
    assert sorted(scandir(root, (".txt",), case_sensitive=False)) == ["b.TXT"]
    with pytest.raises(TypeError, match="suffix"):
        list(scandir(root, 1))
    symlink(root / "a.py", tmp_path / "link.py")
    symlink(root / "b.TXT", tmp_path / "link.py")  # overwrite=True replaces it
    assert os.path.realpath(tmp_path / "link.py") == str((root / "b.TXT").resolve())


def test_is_abs_and_find_vcs_root(tmp_path):
    assert is_abs("/x") and is_abs("s3://b/k") and is_abs("https://h/p") and not is_abs("x/y")
    assert is_abs(["/a", "s3://b"]) and not is_abs(["/a", "b"])
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "pkg").mkdir()
    (tmp_path / "repo" / "pkg" / "m.py").write_text("")
    assert find_vcs_root(tmp_path / "repo" / "pkg" / "m.py") == str(tmp_path / "repo")
    assert find_vcs_root(Path("/"), markers=(".no-such-marker",)) is None
