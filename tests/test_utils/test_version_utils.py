"""Version helpers, and torchrig.version.parse_version_info."""

from __future__ import annotations

import re

import pytest

from torchrig.utils import digit_version, get_git_hash
from torchrig.version import parse_version_info


def test_versions(tmp_path, monkeypatch):
    assert digit_version("1.2.3rc1") < digit_version("1.2.3") < digit_version("1.2.3.post1")
    assert digit_version("2.13.0+cpu") == (2, 13, 0, 0, 0, 0)
    assert parse_version_info("1.3.0rc0") == (1, 3, 0, "rc0")
    assert parse_version_info("0.10.7") == (0, 10, 7)
    monkeypatch.chdir(tmp_path)
    assert get_git_hash(fallback="none") == "none"  # not a repository
    with pytest.raises(TypeError, match="digits"):
        get_git_hash(digits="7")


def test_git_hash_of_this_repository():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        sha = get_git_hash(digits=7)
    finally:
        os.chdir(cwd)
    assert re.fullmatch(r"[0-9a-f]{7}", sha)
