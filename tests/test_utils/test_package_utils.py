"""Installed-package helpers, against packages really installed here."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

import pytest

from torchrig.utils import call_command, get_installed_path, install_package, is_installed
from torchrig.utils.package_utils import package2module


def test_is_installed_and_paths():
    import yaml

    assert is_installed("pytest") and is_installed("json")
    assert not is_installed("no_such_package_xyz")
    assert package2module("PyYAML") == "yaml"
    assert get_installed_path("PyYAML") == os.path.dirname(yaml.__file__)
    assert get_installed_path("json") == os.path.dirname(__import__("json").__file__)
    with pytest.raises(metadata.PackageNotFoundError, match="no_such_package_xyz"):
        get_installed_path("no_such_package_xyz")
    with pytest.raises(ValueError, match="no_such_package_xyz"):
        package2module("no_such_package_xyz")


def test_namespace_packages_have_no_installed_path(tmp_path, monkeypatch):
    (tmp_path / "torchrig_test_namespace_pkg").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not is_installed("torchrig_test_namespace_pkg")
    with pytest.raises(RuntimeError, match="namespace package"):
        get_installed_path("torchrig_test_namespace_pkg")


def test_call_command_and_install_package_of_an_installed_one():
    call_command([sys.executable, "-c", "pass"])
    with pytest.raises(subprocess.CalledProcessError):
        call_command([sys.executable, "-c", "raise SystemExit(3)"])
    install_package("pytest")  # already installed: pip is not called
