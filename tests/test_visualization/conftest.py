"""Fixtures for the visualization tests: W&B offline in a temporary directory, no login."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def wandb_offline(monkeypatch, tmp_path):
    """W&B in offline mode with every directory it writes under ``tmp_path``."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_dir"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb_cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    yield tmp_path
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:  # a global run must not reach the next test
        wandb.finish()
