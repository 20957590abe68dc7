"""Configs and models of installed packages by name (MMEngine's ``mmengine.hub``)."""

from __future__ import annotations

from torchrig.hub.hub import get_config, get_model

__all__ = ["get_config", "get_model"]
