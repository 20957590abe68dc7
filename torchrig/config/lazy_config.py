"""Loading pure-Python configs written in MMEngine's newer style.

::

    from torchrig.config import read_base
    from torch.optim import SGD

    with read_base():
        from .._base_.default_runtime import *

    optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.01))

Imports inside ``with read_base():`` load the named config files (relative module paths are
files next to this one) and bind their variables; every other import of a non-standard-library
module becomes a :class:`~torchrig.config.lazy.LazyObject`, imported only when used.
"""

from __future__ import annotations

import ast
import importlib.util
import os.path as osp
import types
from typing import TYPE_CHECKING, Any

from torchrig.config.config_dict import ConfigDict
from torchrig.config.lazy import LazyObject, read_base
from torchrig.config.parsing import run_config_code
from torchrig.config.utils import ConfigKeyError, ConfigParsingError, is_builtin_module

if TYPE_CHECKING:
    from torchrig.config.inheritance import LoadedConfig, LoadOptions

__all__ = ["load_lazy_config"]

_LAZY_NAME = "__torchrig_lazy_object__"
_FRAMEWORK_MODULES = ("torchrig.config", "torchrig", "mmengine.config", "mmengine")


def _is_read_base(node: ast.stmt) -> bool:
    if not isinstance(node, ast.With):
        return False
    expr = node.items[0].context_expr
    return isinstance(expr, ast.Call) and getattr(expr.func, "id", None) == "read_base"


def _module_file(module: str | None, level: int, filename: str, lineno: int) -> str:
    """The config file a ``from <module> import ...`` in ``read_base`` refers to."""
    if level:
        folder = osp.dirname(filename)
        for _ in range(level - 1):
            folder = osp.dirname(folder)
        parts = module.split(".") if module else []
        return osp.join(folder, *parts) + ".py"
    assert module is not None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise ConfigParsingError(
            f"Base config {module!r} imported in config file {filename}, line {lineno}, cannot "
            "be found; use a relative import (from .base import *) for files next to the config"
        )
    return spec.origin


class _LazyImportTransformer(ast.NodeTransformer):
    """Turns imports of non-standard-library modules into ``LazyObject`` assignments."""

    def __init__(self, filename: str):
        self.filename = filename
        self.imported_names: set[str] = set()

    def _assign(self, name: str, args: list[Any], node: ast.stmt) -> ast.Assign:
        self.imported_names.add(name)
        call = ast.Call(
            func=ast.Name(id=_LAZY_NAME, ctx=ast.Load()),
            args=[ast.Constant(value=a) for a in args],
            keywords=[],
        )
        assign = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=call)
        return ast.copy_location(assign, node)

    def _location(self, node: ast.stmt) -> str:
        return f"{self.filename}, line {node.lineno}"

    def visit_Import(self, node: ast.Import) -> Any:
        if all(is_builtin_module(alias.name) for alias in node.names):
            return node
        new_nodes = []
        for alias in node.names:
            if alias.asname:
                target, module = alias.asname, alias.name
            else:  # ``import a.b`` binds ``a``; ``a.b`` is then a lazy attribute
                target = module = alias.name.split(".")[0]
            new_nodes.append(self._assign(target, [module, None, self._location(node)], node))
        return new_nodes

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        if node.level:
            raise ConfigParsingError(
                f"Relative import in config file {self.filename}, line {node.lineno}, outside "
                "`with read_base():`; base configs must be imported inside it"
            )
        module = node.module or ""
        if module in _FRAMEWORK_MODULES and all(
            a.name in ("read_base", "Config") for a in node.names
        ):
            return None
        if is_builtin_module(module):
            return node
        new_nodes = []
        for alias in node.names:
            if alias.name == "*":
                raise ConfigParsingError(
                    f"`from {module} import *` in config file {self.filename}, line "
                    f"{node.lineno}, cannot be imported lazily; import the names you use"
                )
            target = alias.asname or alias.name
            location = self._location(node)
            new_nodes.append(self._assign(target, [module, alias.name, location], node))
        return new_nodes


def _bind_base_import(
    stmt: ast.stmt,
    filename: str,
    namespace: dict[str, Any],
    options: LoadOptions,
    stack: tuple[str, ...],
) -> tuple[list[str], set[str]]:
    """Load the base configs a statement in ``read_base`` names and bind their values."""
    from torchrig.config.inheritance import load_config_file

    if not isinstance(stmt, ast.ImportFrom):
        raise ConfigParsingError(
            f"Only `from <config module> import ...` may appear in `with read_base():` (config "
            f"file {filename}, line {stmt.lineno})"
        )
    texts: list[str] = []
    imported: set[str] = set()
    if stmt.module is None:  # ``from . import base``: each name is a config file
        for alias in stmt.names:
            path = _module_file(alias.name, stmt.level, filename, stmt.lineno)
            loaded = load_config_file(path, options, stack)
            texts.append(loaded.text)
            namespace[alias.asname or alias.name] = loaded.cfg_dict
        return texts, imported
    path = _module_file(stmt.module, stmt.level, filename, stmt.lineno)
    loaded = load_config_file(path, options, stack)
    texts.append(loaded.text)
    for alias in stmt.names:
        if alias.name == "*":
            for key, value in loaded.cfg_dict.raw_items():
                if not str(key).startswith("_"):
                    namespace[key] = value
                    if key in loaded.imported_names:
                        imported.add(key)
            continue
        if alias.name not in loaded.cfg_dict:
            raise ConfigKeyError(
                f"Config file {filename}, line {stmt.lineno}, imports {alias.name!r} from "
                f"{path}, which does not define it"
            )
        target = alias.asname or alias.name
        namespace[target] = dict.__getitem__(loaded.cfg_dict, alias.name)
        if alias.name in loaded.imported_names:
            imported.add(target)
    return texts, imported


def load_lazy_config(
    filename: str,
    text: str,
    tree: ast.Module,
    options: LoadOptions,
    stack: tuple[str, ...],
) -> LoadedConfig:
    """Load a pure-Python config (``read_base`` style) into a ``LoadedConfig``."""
    from torchrig.config.inheritance import LoadedConfig

    namespace: dict[str, Any] = {"__file__": filename, "read_base": read_base}
    texts: list[str] = []
    imported: set[str] = set()
    body: list[ast.stmt] = []
    for node in tree.body:
        if _is_read_base(node):
            for stmt in node.body:  # type: ignore[attr-defined]
                new_texts, names = _bind_base_import(
                    stmt, filename, namespace, options, stack + (filename,)
                )
                texts.extend(new_texts)
                imported |= names
        else:
            body.append(node)
    transformer = _LazyImportTransformer(filename)
    module = ast.fix_missing_locations(transformer.visit(ast.Module(body=body, type_ignores=[])))
    imported |= transformer.imported_names
    namespace[_LAZY_NAME] = LazyObject
    run_config_code(compile(module, filename, "exec"), namespace, filename, text)
    cfg_dict = ConfigDict()
    for key, value in namespace.items():
        if key.startswith("__") or key == "read_base" and value is read_base:
            continue
        if isinstance(value, (types.FunctionType, types.ModuleType)):
            continue
        cfg_dict[key] = value
    text_all = "".join(t + "\n" for t in texts) + f"{filename}\n{text}"
    return LoadedConfig(cfg_dict, text_all, imported_names=imported & set(cfg_dict))
