"""``torchrig.hub``: configs and models of a package installed on ``sys.path`` (a real package
with its ``.mim`` folder, registry and model index, written by the test)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from torchrig.hub import get_config, get_model

PKG = "torchrig_hub_testpkg"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def package(tmp_path, monkeypatch):
    root = tmp_path / "site" / PKG
    _write(root / "__init__.py", "")
    _write(
        root / "registry.py",
        f"""
        from torchrig.registry import MODELS as ROOT_MODELS, Registry
        MODELS = Registry('model', parent=ROOT_MODELS, scope='{PKG}')
        """,
    )
    _write(
        root / "models.py",
        f"""
        from torch import nn
        from {PKG}.registry import MODELS

        @MODELS.register_module()
        class HubNet(nn.Linear):
            def __init__(self, width, bias=True):
                super().__init__(width, width, bias=bias)
        """,
    )
    _write(
        root / "utils.py",
        f"""
        def register_all_modules():
            import {PKG}.models  # noqa: F401
        """,
    )
    _write(
        root / ".mim" / "configs" / "_base_" / "net.py", "model = dict(type='HubNet', width=3)\n"
    )
    _write(root / ".mim" / "configs" / "net" / "net_w3.py", "_base_ = ['../_base_/net.py']\n")
    _write(
        root / ".mim" / "model-index.yml",
        "Import:\n  - configs/net/metafile.yml\n",
    )
    weights = tmp_path / "net_w3.pth"
    _write(
        root / ".mim" / "configs" / "net" / "metafile.yml",
        f"""
        Models:
          - Name: net_w3
            Config: configs/net/net_w3.py
            Weights: {weights}
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield weights
    for name in [n for n in sys.modules if n == PKG or n.startswith(PKG + ".")]:
        del sys.modules[name]


def test_get_config_reads_the_packaged_config(package):
    cfg = get_config(f"{PKG}::net/net_w3.py")
    assert cfg.model == {"type": "HubNet", "width": 3}
    assert "model_path" not in cfg
    cfg = get_config(f"{PKG}::net/net_w3.py", pretrained=True)
    assert cfg.model_path == str(package)


def test_get_model_builds_in_the_package_scope_and_loads_weights(package):
    model = get_model(f"{PKG}::net/net_w3.py", bias=False)
    assert type(model).__name__ == "HubNet" and model.bias is None
    reference = torch.nn.Linear(3, 3, bias=False)
    torch.nn.init.constant_(reference.weight, 0.25)
    torch.save({"state_dict": reference.state_dict()}, package)
    model = get_model(f"{PKG}::net/net_w3.py", pretrained=True, bias=False)
    assert torch.equal(model.weight, reference.weight)


def test_errors_name_what_is_missing(package):
    with pytest.raises(ValueError, match="package::relative/path.py"):
        get_config("net/net_w3.py")
    with pytest.raises(ModuleNotFoundError, match="pip install mmsegmentation"):
        get_config("mmseg::fcn/fcn.py")
    with pytest.raises(FileNotFoundError, match="does not ship the config net/nope.py"):
        get_config(f"{PKG}::net/nope.py")
    with pytest.raises(ValueError, match="Cannot find the config _base_/net.py"):
        get_config(f"{PKG}::_base_/net.py", pretrained=True)
