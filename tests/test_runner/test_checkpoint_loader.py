"""``CheckpointLoader`` and the ``load_from_*`` loaders of ``torchrig.runner.checkpoint``:
local files, HTTP from a loopback server, the model-zoo schemes and the clear errors."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from torchrig.runner import _checkpoint_loader
from torchrig.runner.checkpoint import (
    CheckpointError,
    CheckpointLoader,
    _load_checkpoint,
    _load_checkpoint_to_model,
    _load_checkpoint_with_prefix,
    get_external_models,
    get_torchvision_models,
    load_checkpoint,
    load_from_ceph,
    load_from_http,
    load_from_local,
    load_from_pavi,
)


@pytest.fixture
def schemes(monkeypatch) -> None:
    """Registrations made by a test stay in that test."""
    monkeypatch.setattr(CheckpointLoader, "_schemes", dict(CheckpointLoader._schemes))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Path, list[str]]]:
    """A loopback HTTP server over ``tmp_path/served``: (base URL, directory, request paths)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = type("Handler", (_Quiet,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(served))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _weights(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return nn.Linear(3, 2).state_dict()


def test_schemes_pick_the_longest_matching_prefix(schemes):
    loader = CheckpointLoader._get_checkpoint_loader
    assert loader("/a/b.pth") is load_from_local
    assert loader("https://x/y.pth") is load_from_http
    assert loader("s3://bucket/x.pth") is load_from_ceph
    assert loader("open-mmlab:s3://bucket/x.pth") is load_from_ceph  # a prefix before s3://
    assert loader("pavi://model") is load_from_pavi

    calls = []

    @CheckpointLoader.register_scheme(prefixes="mine://")
    def load_from_mine(filename, map_location):
        calls.append((filename, map_location))
        return {"state_dict": {}}

    assert CheckpointLoader.load_checkpoint("mine://x", "cpu") == {"state_dict": {}}
    assert calls == [("mine://x", "cpu")]
    with pytest.raises(KeyError, match="already registered.*force=True"):
        CheckpointLoader.register_scheme("mine://", lambda f, m: None)
    CheckpointLoader.register_scheme("mine://", lambda f, m: "replaced", force=True)
    CheckpointLoader.register_scheme("mine://deeper/", lambda f, m: "longer")
    assert CheckpointLoader.load_checkpoint("mine://x") == "replaced"
    assert CheckpointLoader.load_checkpoint("mine://deeper/x") == "longer"


def test_local_files_home_expansion_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    torch.save({"state_dict": _weights()}, tmp_path / "w.pth")
    loaded = load_from_local("~/w.pth", "cpu")
    torch.testing.assert_close(loaded["state_dict"], _weights())
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        _load_checkpoint(str(tmp_path / "missing.pth"))
    whole = (tmp_path / "w.pth").read_bytes()
    (tmp_path / "bad.pth").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="bad.pth.*truncated or corrupt"):
        _load_checkpoint(tmp_path / "bad.pth")


def test_http_downloads_once_into_the_cache_and_loads(server, tmp_path, monkeypatch):
    base, served, requests = server
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    torch.save({"state_dict": _weights()}, served / "w.pth")

    model = nn.Linear(3, 2)
    load_checkpoint(model, f"{base}/w.pth", strict=True)
    torch.testing.assert_close(model.state_dict(), _weights())
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / "w.pth"
    assert cached.is_file()
    _load_checkpoint(f"{base}/w.pth")  # served from the cache
    assert requests == ["/w.pth"]

    explicit = load_from_http(f"{base}/w.pth", "cpu", model_dir=str(tmp_path / "zoo"))
    assert (tmp_path / "zoo" / "w.pth").is_file() and "state_dict" in explicit
    with pytest.raises(CheckpointError, match="could not download checkpoint.*missing.pth"):
        load_from_http(f"{base}/missing.pth", model_dir=str(tmp_path / "zoo"))


def test_openmmlab_names_come_from_the_users_table(server, tmp_path, monkeypatch):
    base, served, _ = server
    home = tmp_path / "mmengine_home"
    home.mkdir()
    monkeypatch.setenv("MMENGINE_HOME", str(home))
    torch.save({"state_dict": _weights(1)}, served / "remote.pth")
    torch.save({"state_dict": _weights(2)}, home / "local.pth")
    table = {"remote_net": f"{base}/remote.pth", "local_net": "local.pth"}
    (home / "open_mmlab.json").write_text(json.dumps(table))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    assert get_external_models()["remote_net"] == table["remote_net"]
    remote = _load_checkpoint("open-mmlab://remote_net")
    torch.testing.assert_close(remote["state_dict"], _weights(1))
    local = _load_checkpoint("openmmlab://local_net")
    torch.testing.assert_close(local["state_dict"], _weights(2))
    with pytest.raises(KeyError, match="open-mmlab://nothing.*open_mmlab.json"):
        _load_checkpoint("open-mmlab://nothing")

    monkeypatch.setattr(
        _checkpoint_loader, "get_deprecated_model_names", lambda: {"old": "local_net"}
    )
    with pytest.warns(DeprecationWarning, match="open-mmlab://old is deprecated"):
        _load_checkpoint("open-mmlab://old")


def test_mmcls_keeps_the_backbone(server, tmp_path, monkeypatch):
    base, served, _ = server
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    weights = _weights()
    state = {f"backbone.{k}": v for k, v in weights.items()}
    state["head.fc.weight"] = torch.ones(1)
    torch.save({"state_dict": state}, served / "cls.pth")
    monkeypatch.setattr(_checkpoint_loader, "get_mmcls_models", lambda: {"net": f"{base}/cls.pth"})
    loaded = _load_checkpoint("mmcls://net")
    assert sorted(loaded) == ["state_dict"]
    torch.testing.assert_close(dict(loaded["state_dict"]), dict(weights))


def test_load_with_prefix_and_to_model(tmp_path):
    weights = _weights()
    state = {f"backbone.{k}": v for k, v in weights.items()} | {"neck.w": torch.zeros(1)}
    torch.save({"state_dict": state}, tmp_path / "w.pth")
    torch.testing.assert_close(
        _load_checkpoint_with_prefix("backbone", tmp_path / "w.pth"), dict(weights)
    )
    torch.testing.assert_close(
        _load_checkpoint_with_prefix("backbone.", tmp_path / "w.pth"), dict(weights)
    )
    with pytest.raises(KeyError, match="head. is not in the pretrained model"):
        _load_checkpoint_with_prefix("head", tmp_path / "w.pth")

    model = nn.Linear(3, 2)
    checkpoint = {"state_dict": {f"module.{k}": v for k, v in weights.items()}}
    assert _load_checkpoint_to_model(model, checkpoint, strict=True) is checkpoint
    torch.testing.assert_close(model.state_dict(), weights)


@pytest.mark.parametrize(
    ("path", "package"),
    [
        ("s3://bucket/w.pth", "petrel_client"),
        ("petrel://bucket/w.pth", "petrel_client"),
        ("pavi://project/w.pth", "pavi"),
        ("torchvision://resnet50", "torchvision"),
    ],
)
def test_schemes_that_need_a_package_name_it(path, package):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed")
    with pytest.raises(ImportError, match=f"needs the '{package}' package"):
        _load_checkpoint(path)


def test_torchvision_names_when_installed():
    if importlib.util.find_spec("torchvision") is None:
        with pytest.raises(ImportError, match="'torchvision'"):
            get_torchvision_models()
        return
    urls = get_torchvision_models()
    assert urls["resnet50.imagenet1k_v1"].startswith("https://download.pytorch.org/")
    assert urls["resnet50"] == urls["resnet50.imagenet1k_v1"]
    assert "resnet50.default" in urls
