"""The installed torchrig version."""

__version__ = "0.1.0"
