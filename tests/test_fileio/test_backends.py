"""Storage backends and MMEngine's file functions: real files, a real HTTP server on loopback,
and the clear errors of the backends whose client packages are not installed."""

from __future__ import annotations

import http.server
import importlib.util
import os
import threading
from pathlib import Path

import pytest

from torchrig import fileio
from torchrig.fileio import (
    BaseStorageBackend,
    HTTPBackend,
    LmdbBackend,
    LocalBackend,
    MemcachedBackend,
    PetrelBackend,
    get_file_backend,
    list_from_file,
    register_backend,
)
from torchrig.fileio.backends import backends, prefix_to_backends


def test_local_functions_on_real_files(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    fileio.put_text("héllo", path)
    assert fileio.get_text(path) == "héllo" and fileio.get(path) == "héllo".encode()
    fileio.put(b"\x00\x01", tmp_path / "b.bin")
    assert fileio.get(str(tmp_path / "b.bin")) == b"\x00\x01"
    assert fileio.exists(path) and fileio.isfile(path) and fileio.isdir(tmp_path / "sub")
    assert not fileio.isfile(tmp_path / "sub")
    assert fileio.join_path(str(tmp_path), "sub", "a.txt") == str(path)
    with fileio.get_local_path(path) as local:
        assert Path(local).read_text() == "héllo"
    assert fileio.copyfile(path, tmp_path / "c.txt") == str(tmp_path / "c.txt")
    fileio.copytree(tmp_path / "sub", tmp_path / "sub2")
    fileio.copyfile_from_local(path, tmp_path / "d.txt")
    fileio.copyfile_to_local(path, tmp_path / "e.txt")
    fileio.copytree_from_local(tmp_path / "sub", tmp_path / "sub3")
    fileio.copytree_to_local(tmp_path / "sub", tmp_path / "sub4")
    for name in ("c.txt", "d.txt", "e.txt", "sub2/a.txt", "sub3/a.txt", "sub4/a.txt"):
        assert (tmp_path / name).read_text() == "héllo"
    assert fileio.copy_if_symlink_fails(path, tmp_path / "link.txt") is True
    assert os.path.islink(tmp_path / "link.txt")
    with pytest.raises(IsADirectoryError):
        fileio.remove(tmp_path / "sub2")
    fileio.remove(tmp_path / "c.txt")
    with pytest.raises(FileNotFoundError):
        fileio.remove(tmp_path / "c.txt")
    fileio.rmtree(tmp_path / "sub2")
    assert not fileio.exists(tmp_path / "sub2")


def test_list_dir_or_file(tmp_path):
    for name in ("a.py", "b.txt", "d/c.py", "d/e/f.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    listed = fileio.list_dir_or_file
    assert sorted(listed(tmp_path)) == ["a.py", "b.txt", "d"]
    assert sorted(listed(tmp_path, list_file=False, recursive=True)) == [
        "d",
        os.path.join("d", "e"),
    ]
    assert sorted(listed(tmp_path, list_dir=False, suffix=".py", recursive=True)) == [
        "a.py",
        os.path.join("d", "c.py"),
        os.path.join("d", "e", "f.py"),
    ]
    with pytest.raises(TypeError, match="suffix"):
        list(listed(tmp_path, suffix=".py"))


def test_get_file_backend_picks_by_prefix_and_name(tmp_path):
    assert type(get_file_backend(tmp_path)) is LocalBackend
    assert type(get_file_backend("http://localhost/x")) is HTTPBackend
    assert type(get_file_backend(backend_args={"backend": "local"})) is LocalBackend
    one = get_file_backend(tmp_path, enable_singleton=True)
    assert get_file_backend(tmp_path / "x", enable_singleton=True) is one
    with pytest.raises(ValueError, match="uri should not be None"):
        get_file_backend()
    with pytest.raises(ValueError, match="no storage backend handles ftp"):
        get_file_backend("ftp://host/x")
    assert prefix_to_backends["s3"] is PetrelBackend and backends["lmdb"] is LmdbBackend


def test_register_backend(tmp_path):
    class Upper(LocalBackend):
        def get_text(self, filepath, encoding="utf-8"):
            return super().get_text(filepath, encoding).upper()

    try:
        register_backend("torchrig-test-upper", Upper, prefixes="torchrigtest")
        with pytest.raises(ValueError, match="already registered"):
            register_backend("torchrig-test-upper", Upper)
        with pytest.raises(TypeError, match="not a subclass"):
            register_backend("torchrig-test-bad", dict)
        path = tmp_path / "a.txt"
        path.write_text("abc")
        assert fileio.get_text(path, backend_args={"backend": "torchrig-test-upper"}) == "ABC"

        @register_backend("torchrig-test-upper", force=True)
        class Lower(LocalBackend):
            pass

        assert backends["torchrig-test-upper"] is Lower
    finally:
        backends.pop("torchrig-test-upper", None)
        prefix_to_backends.pop("torchrigtest", None)
    assert issubclass(Upper, BaseStorageBackend)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_backend_reads_from_a_real_server(http_root):
    root, url = http_root
    (root / "labels.txt").write_text("cat\ndog\n")
    (root / "cfg.json").write_text('{"a": [1, 2]}')
    assert fileio.get_text(f"{url}/labels.txt") == "cat\ndog\n"
    assert fileio.get(f"{url}/labels.txt") == b"cat\ndog\n"
    assert list_from_file(f"{url}/labels.txt") == ["cat", "dog"]
    assert fileio.load(f"{url}/cfg.json") == {"a": [1, 2]}
    with fileio.get_local_path(f"{url}/labels.txt") as local:
        assert Path(local).read_text() == "cat\ndog\n"
    assert not os.path.exists(local)
    with pytest.raises(NotImplementedError, match="HTTPBackend does not support put"):
        fileio.put(b"x", f"{url}/new.txt")
    import urllib.error

    with pytest.raises(urllib.error.HTTPError):
        fileio.get(f"{url}/missing.txt")


@pytest.mark.skipif(importlib.util.find_spec("petrel_client") is not None, reason="installed")
def test_petrel_needs_petrel_client():
    with pytest.raises(ImportError, match="petrel_client"):
        PetrelBackend()
    with pytest.raises(ImportError, match="petrel_client"):
        fileio.get("s3://bucket/key")


@pytest.mark.skipif(importlib.util.find_spec("lmdb") is not None, reason="installed")
def test_lmdb_needs_lmdb(tmp_path):
    with pytest.raises(ImportError, match="pip install lmdb"):
        LmdbBackend(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("mc") is not None, reason="installed")
def test_memcached_needs_mc():
    with pytest.raises(ImportError, match="`mc`"):
        MemcachedBackend("servers.conf", "client.conf")


def test_lmdb_reads_a_real_database(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(tmp_path / "db"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"img/0001.png", b"\x89PNG-bytes")
    env.close()
    backend = LmdbBackend(tmp_path / "db")
    assert backend.get("img/0001.png") == b"\x89PNG-bytes"
    assert backend.get("img/missing.png") is None
    with pytest.raises(NotImplementedError):
        backend.get_text("img/0001.png")
    del backend  # LMDB opens a database once per process: the backend closes it when freed
    args = {"backend": "lmdb", "db_path": str(tmp_path / "db")}
    assert fileio.get("img/0001.png", backend_args=args) == b"\x89PNG-bytes"


def test_petrel_calls_its_client_with_mapped_paths(monkeypatch):
    """A unit test with a stand-in ``petrel_client`` (the real one is SenseTime-internal): the
    backend maps path prefixes and calls the client's documented methods."""
    import sys
    import types

    calls = []

    class Client:
        def __init__(self, conf_path=None, enable_mc=True):
            calls.append(("init", conf_path, enable_mc))

        def Get(self, path):  # noqa: N802 - petrel_client's name
            calls.append(("Get", path))
            return b"data"

        def put(self, path, obj):
            calls.append(("put", path, obj))

        def contains(self, path):
            return path.endswith(".txt")

        def isdir(self, path):
            return path.endswith("/")

    module = types.ModuleType("petrel_client")
    module.client = types.SimpleNamespace(Client=Client)
    monkeypatch.setitem(sys.modules, "petrel_client", module)
    backend = PetrelBackend(path_mapping={"data/": "s3://bucket/data/"}, enable_mc=False)
    assert backend.get_text("data/a.txt") == "data"
    backend.put_text("x", "data/b.txt")
    assert backend.isfile("data/a.txt") and backend.isdir("data/") and backend.exists("data/a.txt")
    assert backend.join_path("s3://bucket/", "a", "b.txt") == "s3://bucket/a/b.txt"
    assert calls == [
        ("init", None, False),
        ("Get", "s3://bucket/data/a.txt"),
        ("put", "s3://bucket/data/b.txt", b"x"),
    ]
    with pytest.raises(AttributeError, match="PetrelBackend has no 'copytree'"):
        backend.copytree("a", "b")
