"""list_from_file and dict_from_file on real files."""

from __future__ import annotations

import pytest

from torchrig.fileio import dict_from_file, list_from_file


def test_parse_list_and_dict_from_file(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a\nb\r\nc\nd\n")
    assert list_from_file(path) == ["a", "b", "c", "d"]
    assert list_from_file(path, prefix="x/", offset=1, max_num=2) == ["x/b", "x/c"]
    mapping = tmp_path / "map.txt"
    mapping.write_text("1 cat\n2 dog puppy\n\n")
    assert dict_from_file(mapping, key_type=int) == {1: "cat", 2: ["dog", "puppy"]}
    mapping.write_text("3\n")
    with pytest.raises(ValueError, match="line 1"):
        dict_from_file(mapping)
