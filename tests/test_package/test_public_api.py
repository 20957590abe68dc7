"""Every public module and name of MMEngine 0.10.7 (``public-api.txt``) and every name that
OpenMMLab's downstream libraries import from MMEngine paths (``downstream-extra.txt``) exists
at the same path under ``torchrig`` and, through the alias, under ``mmengine``; kinds match.

The lists live in the shared ``mmengine-api`` folder next to the repository (a copy may be
kept in ``tests/data/mmengine-api``); the test skips when neither is there.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
_API_DIRS = (
    ROOT / "tests" / "data" / "mmengine-api",
    ROOT.parent / "shared" / "mmengine-api",
    Path("/work/shared/mmengine-api"),
)

# Names other helpers are adding in parallel (issue 13). The integrator empties this list after
# merging their branches; test_pending_list_is_not_stale says which entries to remove.
# An entry is a module ("mmengine.analysis": the module and all its names) or "module:name".
_PENDING_FROM_OTHER_HELPERS: frozenset[str] = frozenset()

# MMEngine names torchrig deliberately does not provide, with the reason.
_NOT_PROVIDED: dict[str, str] = {
    "mmengine.config.utils:ImportTransformer": (
        "the AST pass of MMEngine's own lazy-config parser (its constructor takes the parser's "
        "global and base dicts); torchrig parses pure-Python configs with its own pass in "
        "torchrig.config.lazy_config, and no downstream library imports it"
    ),
    "mmengine.config.utils:RemoveAssignFromAST": (
        "likewise a step of MMEngine's config parser, not used outside it"
    ),
}

# The top-level package re-exports these packages' names (and the version).
_TOP_LEVEL_FROM = ("config", "fileio", "logging", "registry", "utils")


def _api_dir() -> Path:
    for folder in _API_DIRS:
        if (folder / "public-api.txt").is_file():
            return folder
    pytest.skip("mmengine-api lists not found (public-api.txt)")


def _parse_public_api(text: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Module names, and (module, name, kind) for every name they export."""
    modules: list[str] = []
    names: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            modules.append(line.strip())
            continue
        parts = line.split()
        if (
            parts[0].startswith("(")
            or len(parts) < 2
            or parts[1]
            not in (
                "class",
                "function",
                "value",
                "module",
            )
        ):
            continue
        names.append((modules[-1], parts[0], parts[1]))
    return modules, names


def _parse_downstream(text: str) -> list[tuple[str, str, str]]:
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        module, name = line.split()[:2]
        out.append((module, name, "any"))
    return out


def _expected() -> tuple[list[str], list[tuple[str, str, str]]]:
    folder = _api_dir()
    modules, names = _parse_public_api((folder / "public-api.txt").read_text())
    extra = folder / "downstream-extra.txt"
    if extra.is_file():
        names += _parse_downstream(extra.read_text())
    top = [(m, n, k) for m, n, k in names if m.split(".")[1:2] and m.count(".") == 1]
    names += [("mmengine", n, k) for m, n, k in top if m.split(".")[1] in _TOP_LEVEL_FROM]
    names += [("mmengine", "__version__", "value"), ("mmengine", "version_info", "value")]
    return modules, sorted(set(names))


# The checker runs in a subprocess for the aliased names, so it is source text.
_CHECKER = r'''
import importlib, inspect, json, sys
from types import ModuleType

import os


def check(modules, names, root):
    """Missing modules, and names missing or of the wrong kind, under ``root``.

    A module found outside the checkout ``root`` itself comes from (another installed copy
    of torchrig, such as an editable install elsewhere on the path) counts as missing.
    """
    problems = {}
    loaded = {}
    home = os.path.dirname(importlib.import_module(root).__file__) + os.sep
    for module in modules:
        path = root + module[len("mmengine"):]
        try:
            loaded[module] = importlib.import_module(path)
        except Exception as err:  # noqa: BLE001 - report every failure, not the first
            problems[module] = f"module does not import: {type(err).__name__}: {err}"
            continue
        where = getattr(loaded[module], "__file__", None) or ""
        if not where.startswith(home):
            problems[module] = f"imported from another checkout: {where}"
            del loaded[module]
    for module, name, kind in names:
        path = root + module[len("mmengine"):]
        if module in problems:
            problems[f"{module}:{name}"] = problems[module]
            continue
        if module not in loaded:
            try:
                loaded[module] = importlib.import_module(path)
            except Exception as err:  # noqa: BLE001
                problems[f"{module}:{name}"] = f"module does not import: {err}"
                continue
        try:
            value = getattr(loaded[module], name)
        except AttributeError:
            try:
                value = importlib.import_module(f"{path}.{name}")
            except ImportError:
                problems[f"{module}:{name}"] = "missing"
                continue
        ok = {
            "class": inspect.isclass(value),
            "function": callable(value) and not inspect.isclass(value),
            "module": isinstance(value, ModuleType),
        }.get(kind, True)
        if not ok:
            problems[f"{module}:{name}"] = f"expected a {kind}, got {type(value).__name__}"
    return problems
'''


def _check(root: str) -> dict[str, str]:
    modules, names = _expected()
    namespace: dict = {}
    exec(_CHECKER, namespace)  # noqa: S102 - our own source text, shared with the subprocess
    return namespace["check"](modules, names, root)


def _unexpected(problems: dict[str, str]) -> dict[str, str]:
    def allowed(key: str) -> bool:
        module = key.split(":")[0]
        return (
            key in _PENDING_FROM_OTHER_HELPERS
            or module in _PENDING_FROM_OTHER_HELPERS
            or key in _NOT_PROVIDED
        )

    return {key: why for key, why in problems.items() if not allowed(key)}


def _report(problems: dict[str, str]) -> str:
    return f"{len(problems)} missing or wrong:\n" + "\n".join(
        f"  {key}: {why}" for key, why in sorted(problems.items())
    )


def test_every_mmengine_name_exists_under_torchrig():
    problems = _unexpected(_check("torchrig"))
    assert not problems, _report(problems)


def test_every_mmengine_name_imports_through_the_alias():
    modules, names = _expected()
    code = (
        _CHECKER
        + "\nfrom torchrig.compat import alias_mmengine\nalias_mmengine()\n"
        + "import torchrig\n"
        + "modules, names = json.load(sys.stdin)\n"
        + "problems = check(modules, [tuple(n) for n in names], 'mmengine')\n"
        + "same = []\n"
        + "for module, name, kind in names:\n"
        + "    if f'{module}:{name}' in problems or module in problems: continue\n"
        + "    a = getattr(importlib.import_module(module), name, None)\n"
        + "    b = getattr(importlib.import_module('torchrig' + module[8:]), name, None)\n"
        + "    if name in ('__version__', 'version_info') and module in ('mmengine', 'mmengine.version'):\n"
        + "        # MMEngine's API level under the alias, torchrig's own version under torchrig.\n"
        + "        if str(a if name == '__version__' else '.'.join(map(str, a))) != '0.10.7':\n"
        + "            same.append(f'{module}:{name}={a!r}')\n"
        + "    elif a is not b:\n"
        + "        same.append(f'{module}:{name}')\n"
        + "print(json.dumps({'problems': problems, 'different': same}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([modules, names]),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    problems = _unexpected(result["problems"])
    assert not problems, _report(problems)
    assert not result["different"], "the aliased name is not the torchrig object: " + ", ".join(
        result["different"]
    )


def test_pending_list_is_not_stale():
    """Entries of _PENDING_FROM_OTHER_HELPERS that now exist must be removed from it."""
    problems = _check("torchrig")
    missing_modules = {key for key in problems if ":" not in key}
    stale = sorted(
        entry
        for entry in _PENDING_FROM_OTHER_HELPERS
        if entry not in problems
        and entry not in missing_modules
        and not any(key.startswith(f"{entry}:") for key in problems)
    )
    assert not stale, f"now provided; remove from _PENDING_FROM_OTHER_HELPERS: {stale}"


def test_kind_checks_can_fail():
    """The checker reports a missing module, a missing name and a wrong kind."""
    namespace: dict = {}
    exec(_CHECKER, namespace)  # noqa: S102
    problems = namespace["check"](
        ["mmengine.no_such_module"],
        [
            ("mmengine.utils", "no_such_name", "function"),
            ("mmengine.utils", "is_str", "class"),
            ("mmengine.utils", "Timer", "class"),
        ],
        "torchrig",
    )
    assert set(problems) == {
        "mmengine.no_such_module",
        "mmengine.utils:no_such_name",
        "mmengine.utils:is_str",
    }


def test_utils_fileio_and_hub_import_without_torch():
    """``torchrig.utils`` and ``torchrig.fileio`` (re-exported at the top level) do not import
    torch; ``dl_utils``, ``device`` and ``testing`` do, as in MMEngine."""
    code = (
        "import sys, torchrig, torchrig.utils, torchrig.fileio, torchrig.hub\n"
        "from torchrig import FileClient, track_progress, to_2tuple\n"
        "print(','.join(m for m in ('torch', 'numpy', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == ""


_ = (importlib, inspect, ModuleType)  # used in _CHECKER's namespace
