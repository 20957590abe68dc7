"""MMEngine's older FileClient on the local disk."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_file_client(tmp_path):
    from torchrig.fileio import FileClient, HardDiskBackend

    with pytest.warns(DeprecationWarning):
        client = FileClient("disk")
    with pytest.warns(DeprecationWarning):
        assert FileClient() is client
    assert client.name == "HardDiskBackend" and client.allow_symlink
    assert isinstance(client.client, HardDiskBackend)
    client.put_text("x", tmp_path / "a.txt")
    assert client.get_text(tmp_path / "a.txt") == "x" and client.exists(tmp_path / "a.txt")
    with client.get_local_path(tmp_path / "a.txt") as local:
        assert Path(local).read_text() == "x"
    assert list(client.list_dir_or_file(tmp_path)) == ["a.txt"]
    assert FileClient.parse_uri_prefix("s3://b/k") == "s3"
    assert FileClient.parse_uri_prefix("clusterA:s3://b/k") == "s3"
    assert FileClient.parse_uri_prefix("/local") is None
    with pytest.warns(DeprecationWarning):
        assert FileClient.infer_client(uri="https://h/x").name == "HTTPBackend"
    with pytest.raises(ValueError, match="not supported"):
        FileClient("nope")
