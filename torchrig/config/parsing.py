"""Reading one config file: text substitutions, syntax checks, and turning it into a dict.

Inheritance (``_base_``) is handled in :mod:`torchrig.config.inheritance`; these functions only
deal with a single file.
"""

from __future__ import annotations

import ast
import copy
import os
import os.path as osp
import re
import types
import uuid
from typing import Any

from torchrig.config.config_dict import ConfigDict
from torchrig.config.utils import BASE_KEY, ConfigKeyError, ConfigParsingError, is_builtin_module

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "check_base_list",
    "exec_python_config",
    "get_python_base_files",
    "is_lazy_import",
    "parse_data_text",
    "parse_python",
    "pre_substitute_base_vars",
    "run_config_code",
    "substitute_base_vars",
    "substitute_env_vars",
    "substitute_predefined_vars",
]

SUPPORTED_EXTENSIONS = (".py", ".json", ".yaml", ".yml")

# A reference, optionally quoted as a whole (``'{{_base_.a}}'`` is the same as ``{{_base_.a}}``).
_BASE_VAR_RE = re.compile(r"""(['"]?)\{\{\s*""" + BASE_KEY + r"\.([\w\.]+)\s*\}\}\1")
_ENV_VAR_RE = re.compile(r"\{\{['\"]?\s*\$(\w+)\s*(?::\s*(.*?)\s*)?['\"]?\}\}")
_PLACEHOLDER_PREFIX = "_torchrig_base_ref_"
_EMBEDDED_RE = re.compile(r'"?(' + _PLACEHOLDER_PREFIX + r'[0-9a-f]{8}_\d+_)"?')


def substitute_predefined_vars(text: str, filename: str) -> str:
    """Replace ``{{fileDirname}}``, ``{{fileBasename}}``, ``{{fileBasenameNoExtension}}`` and
    ``{{fileExtname}}`` by the values for ``filename``."""
    if "{{" not in text:
        return text
    basename = osp.basename(filename)
    values = {
        "fileDirname": osp.dirname(filename),
        "fileBasename": basename,
        "fileBasenameNoExtension": osp.splitext(basename)[0],
        "fileExtname": osp.splitext(filename)[1],
    }
    for key, value in values.items():
        value = value.replace("\\", "/")
        text = re.sub(r"\{\{\s*" + key + r"\s*\}\}", lambda _m, v=value: v, text)
    return text


def substitute_env_vars(text: str, filename: str) -> tuple[str, dict[str, str]]:
    """Replace ``{{$NAME:default}}`` by the environment variable ``NAME`` (or the default)."""
    used: dict[str, str] = {}
    if "{{" not in text:
        return text, used

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            value = os.environ[name]
        elif default is not None:
            value = default
        else:
            raise ConfigKeyError(
                f"Environment variable {name!r} used in config file {filename} is not set and "
                f"has no default; set it or write {{{{${name}:default}}}}"
            )
        used[name] = value
        return value

    return _ENV_VAR_RE.sub(replace, text), used


def pre_substitute_base_vars(text: str) -> tuple[str, dict[str, str]]:
    """Replace each ``{{_base_.a.b}}`` by a quoted placeholder string.

    Returns:
        The new text and a map from placeholder to the dotted key (``'a.b'``).
    """
    mapping: dict[str, str] = {}
    if "{{" not in text:
        return text, mapping
    by_key: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        key = match.group(2)
        if key not in by_key:
            placeholder = f"{_PLACEHOLDER_PREFIX}{uuid.uuid4().hex[:8]}_{len(by_key)}_"
            by_key[key] = placeholder
            mapping[placeholder] = key
        if not match.group(1) and _inside_string(match):
            return by_key[key]
        return f'"{by_key[key]}"'

    return _BASE_VAR_RE.sub(replace, text), mapping


def _inside_string(match: re.Match) -> bool:
    """Whether an unquoted reference touches other characters of a string (``'a{{...}}'``)."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else "\n"
    after = text[end] if end < len(text) else "\n"
    return not (before.isspace() or before in ":=([{,") or not (after.isspace() or after in ",)]}#")


def _lookup(base_cfg: Any, dotted: str, filename: str) -> Any:
    node = base_cfg
    walked = BASE_KEY
    for part in dotted.split("."):
        walked += f".{part}"
        if isinstance(node, dict) and part in node:
            node = dict.__getitem__(node, part)
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ConfigKeyError(
                f"{{{{{BASE_KEY}.{dotted}}}}} in config file {filename} refers to {walked}, "
                "which the base configs do not define"
            )
    return copy.deepcopy(node)


def substitute_base_vars(cfg: Any, mapping: dict[str, str], base_cfg: dict, filename: str) -> Any:
    """Replace the placeholders left by :func:`pre_substitute_base_vars` by the base values."""
    if not mapping:
        return cfg
    if isinstance(cfg, dict):
        new = ConfigDict() if isinstance(cfg, ConfigDict) else {}
        for key, value in dict.items(cfg):
            dict.__setitem__(new, key, substitute_base_vars(value, mapping, base_cfg, filename))
        return new
    if isinstance(cfg, (list, tuple)):
        items = [substitute_base_vars(v, mapping, base_cfg, filename) for v in cfg]
        return type(cfg)(items) if type(cfg) in (list, tuple) else items
    if isinstance(cfg, str) and _PLACEHOLDER_PREFIX in cfg:
        if cfg in mapping:
            return _lookup(base_cfg, mapping[cfg], filename)
        # A reference inside a longer string: ``'work_dirs/{{_base_.name}}'``.
        return _EMBEDDED_RE.sub(
            lambda m: (
                str(_lookup(base_cfg, mapping[m.group(1)], filename))
                if m.group(1) in mapping
                else m.group(0)
            ),
            cfg,
        )
    return cfg


def parse_python(text: str, filename: str) -> ast.Module:
    """Parse a Python config; a syntax error names the file and line."""
    try:
        return ast.parse(text, filename=filename)
    except SyntaxError as e:
        raise SyntaxError(
            f"There are syntax errors in config file {filename}, line {e.lineno}: {e.msg}",
            (filename, e.lineno, e.offset, e.text),
        ) from None


def _is_base_assign(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == BASE_KEY
    )


def get_python_base_files(tree: ast.Module, filename: str) -> list[str]:
    """The paths in a Python config's top-level ``_base_ = ...`` (a literal), else ``[]``."""
    for node in tree.body:
        if _is_base_assign(node):
            try:
                value = ast.literal_eval(node.value)  # type: ignore[attr-defined]
            except ValueError:
                raise ConfigParsingError(
                    f"{BASE_KEY} in config file {filename}, line {node.lineno}, must be a string "
                    "or a list of strings written literally"
                ) from None
            return check_base_list(value, filename)
    return []


def check_base_list(value: Any, filename: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigParsingError(
        f"{BASE_KEY} in config file {filename} must be a path or a list of paths, got {value!r}"
    )


def is_lazy_import(tree: ast.Module) -> bool:
    """Whether a Python config is written in the pure-Python (``read_base``) style."""
    if any(_is_base_assign(node) for node in tree.body):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            expr = node.items[0].context_expr
            if isinstance(expr, ast.Call) and getattr(expr.func, "id", None) == "read_base":
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return True
            if node.module and not is_builtin_module(node.module):
                if not _is_framework_import(node):
                    return True
        elif isinstance(node, ast.Import):
            if any(not is_builtin_module(alias.name) for alias in node.names):
                return True
    return False


def _is_framework_import(node: ast.ImportFrom) -> bool:
    """``from torchrig.config import read_base`` and the like do not make a config lazy."""
    return node.module in ("torchrig.config", "mmengine.config", "mmengine", "torchrig") and all(
        alias.name in ("read_base", "Config") for alias in node.names
    )


def _error_line(exc: BaseException, filename: str) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def run_config_code(code: types.CodeType, namespace: dict, filename: str, text: str) -> None:
    """Execute config code; an error names the file, the line and its source."""
    try:
        exec(code, namespace)
    except Exception as e:
        line = _error_line(e, filename)
        where = f"config file {filename}"
        if line is not None:
            source = text.splitlines()[line - 1].strip() if line <= len(text.splitlines()) else ""
            where += f", line {line} ({source})"
        message = str(e)
        if isinstance(e, AttributeError) and "has no attribute" in message:
            raise ConfigKeyError(f"Error in {where}: {message}") from e
        raise ConfigParsingError(f"Error in {where}: {type(e).__name__}: {message}") from e


def exec_python_config(tree: ast.Module, filename: str, text: str, base_cfg: ConfigDict) -> dict:
    """Run an (old-style) Python config with ``_base_`` bound to its merged bases.

    Statements like ``_base_.visualizer.vis_backends = [...]`` therefore change the inherited
    values in place. Modules and functions defined or imported by the config are left out.
    """
    tree.body = [node for node in tree.body if not _is_base_assign(node)]
    code = compile(tree, filename, "exec")
    namespace: dict[str, Any] = {BASE_KEY: base_cfg, "__file__": filename}
    run_config_code(code, namespace, filename, text)
    return {
        key: value
        for key, value in namespace.items()
        if key != BASE_KEY
        and not key.startswith("__")
        and not isinstance(value, (types.FunctionType, types.ModuleType))
    }


def parse_data_text(text: str, filename: str, extension: str) -> dict:
    """Parse a JSON or YAML config's text into a dict; errors name the file and line."""
    if extension == ".json":
        import json

        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as e:
            raise ConfigParsingError(
                f"Invalid JSON in config file {filename}, line {e.lineno}: {e.msg}"
            ) from None
    else:
        import yaml

        from torchrig.fileio.handlers.yaml_handler import SafeTupleLoader

        try:
            data = yaml.load(text, Loader=SafeTupleLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f", line {mark.line + 1}" if mark is not None else ""
            raise ConfigParsingError(f"Invalid YAML in config file {filename}{line}: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigParsingError(
            f"Config file {filename} must hold a mapping at top level, got {type(data).__name__}"
        )
    return data
