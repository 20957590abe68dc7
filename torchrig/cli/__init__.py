"""The ``torchrig`` command line: ``train``, ``test``, ``plot`` and ``config``."""

from torchrig.cli.main import main

__all__ = ["main"]
