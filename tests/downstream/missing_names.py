"""Lists every ``mmengine`` name that installed packages import and the alias cannot give.

Reads the ``from mmengine... import ...`` and ``import mmengine...`` statements of the packages
named on the command line (default: mmcv, mmpretrain) and resolves each through torchrig's
``mmengine`` alias. Prints one line per missing module or name; exits 1 when any is missing.
Run by ``downstream.py`` before anything imports the packages, so that a failure lists them all
rather than the first.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path


def _resolves(module: str, name: str | None = None) -> bool:
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return False
    if name is None or hasattr(imported, name):
        return True
    try:
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return False
    return True


def _imports(path: Path):
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "mmengine":
                for alias in node.names:
                    yield node.module, None if alias.name == "*" else alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mmengine":
                    yield alias.name, None


def main(packages: list[str]) -> int:
    from torchrig.compat import alias_mmengine

    alias_mmengine()
    missing: dict[str, set[str]] = {}
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"package {package!r} is not installed")
        for root in spec.submodule_search_locations:
            for path in sorted(Path(root).rglob("*.py")):
                for module, name in _imports(path):
                    if not _resolves(module, name):
                        missing.setdefault(module, set()).add(name or "(the module)")
    for module in sorted(missing):
        print(f"missing: {module}: {', '.join(sorted(missing[module]))}")
    print(f"{sum(len(v) for v in missing.values())} mmengine names missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["mmcv", "mmpretrain"]))
