"""An opt-in ``mmengine`` alias, for codebases that cannot change their imports.

After ``alias_mmengine()`` (or with ``TORCHRIG_MMENGINE_ALIAS=1`` set before ``import torchrig``),
``import mmengine`` and ``from mmengine.x.y import Z`` resolve to ``torchrig``, ``torchrig.x.y``.
A script that cannot be edited at all runs aliased with::

    python -m torchrig.compat tools/train.py configs/my_config.py --work-dir work_dirs/x

Under the alias, ``mmengine.__version__`` is the MMEngine API level torchrig implements
(``torchrig.version.MMENGINE_API_VERSION``), because OpenMMLab packages refuse to import below
their minimum MMEngine version; ``torchrig.__version__`` stays torchrig's own. Every other name of
``mmengine`` (``mmengine.Config``, ``mmengine.registry``, ...) is torchrig's.

When the real MMEngine is installed too (OpenMMLab packages declare it, so pip installs it), the
alias takes precedence and says so once with a warning. Only an MMEngine that was already
imported before the alias is switched on stops it, since its objects would then mix with
torchrig's.
"""

from __future__ import annotations

import os
import sys

from torchrig._alias import alias_mmengine, is_aliased, remove_alias

__all__ = ["alias_mmengine", "is_aliased", "remove_alias"]


def _run_script(argv: list[str]) -> None:
    """Runs a Python script with ``mmengine`` aliased, as ``python script.py args`` would."""
    import runpy

    if not argv:
        raise SystemExit("usage: python -m torchrig.compat SCRIPT [ARGS ...]")
    alias_mmengine()
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    _run_script(sys.argv[1:])
