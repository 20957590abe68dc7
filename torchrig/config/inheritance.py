"""Loading a config file with its ``_base_`` files, merged by MMEngine's rules.

Rules: dicts merge recursively, ``_delete_=True`` replaces a dict, lists and other values are
replaced. Two bases may define the same top-level key only with equal values. Circular
inheritance is an error naming the chain of files.
"""

from __future__ import annotations

import importlib.util
import os.path as osp
from dataclasses import dataclass, field
from typing import Any

from torchrig.config import parsing
from torchrig.config.config_dict import ConfigDict
from torchrig.config.utils import BASE_KEY, DELETE_KEY, ConfigKeyError, ConfigParsingError

__all__ = ["LoadedConfig", "load_config_file", "merge_a_into_b", "resolve_base_path"]


@dataclass
class LoadedConfig:
    """What loading one config file (with its bases) produced."""

    cfg_dict: ConfigDict
    text: str
    env_variables: dict[str, str] = field(default_factory=dict)
    imported_names: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LoadOptions:
    """Options that apply to a file and all its bases."""

    use_predefined_variables: bool = True
    use_environment_variables: bool = True
    lazy_import: bool | None = None


def _strip_delete(value: Any) -> Any:
    if isinstance(value, dict):
        new = ConfigDict()
        for key, item in dict.items(value):
            if key != DELETE_KEY:
                dict.__setitem__(new, key, _strip_delete(item))
        return new
    if type(value) in (list, tuple):
        return type(value)(_strip_delete(v) for v in value)
    return value


def _where(filename: str | None) -> str:
    return f" in config {filename}" if filename else ""


def merge_a_into_b(
    a: dict,
    b: dict | list,
    allow_list_keys: bool = False,
    *,
    filename: str | None = None,
    prefix: str = "",
) -> Any:
    """Merge dict ``a`` into ``b`` (which is not modified) and return the result.

    Args:
        a: The overriding values (a child config, or options).
        b: The values they override (the merged bases).
        allow_list_keys: Let keys that are digits index into lists of ``b``
            (``{'layers': {'0': ...}}``).
        filename: The config being merged, for error messages.
        prefix: The dotted key of ``a`` inside the whole config, for error messages.
    """
    if isinstance(b, list):
        b = list(b)
    elif isinstance(b, ConfigDict):
        b = b.copy()
    else:
        b = ConfigDict(b)
    for key, value in dict.items(a):
        full_key = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(b, list):
            index = _list_index(key, b, full_key, filename, allow_list_keys)
            old = b[index]
            if isinstance(value, dict) and isinstance(old, (dict, list)):
                b[index] = _merge_dict_value(value, old, allow_list_keys, filename, full_key)
            else:
                b[index] = _strip_delete(value)
        elif isinstance(value, dict):
            b[key] = _merge_dict_value(value, b, allow_list_keys, filename, full_key, key)
        else:
            b[key] = value
    return b


def _list_index(
    key: Any, target: list, full_key: str, filename: str | None, allow_list_keys: bool
) -> int:
    if not allow_list_keys or not str(key).isdigit():
        raise ConfigKeyError(
            f"Key {full_key!r}{_where(filename)}: {str(key)!r} is not a valid index into a list "
            f"of length {len(target)}"
        )
    index = int(key)
    if index >= len(target):
        raise ConfigKeyError(
            f"Key {full_key!r}{_where(filename)}: index {index} is out of range for a list of "
            f"length {len(target)}"
        )
    return index


def _merge_dict_value(
    value: dict,
    b: Any,
    allow_list_keys: bool,
    filename: str | None,
    full_key: str,
    key: Any = None,
) -> Any:
    """Merge dict ``value`` into ``b[key]`` (or into ``b`` itself when ``key`` is None)."""
    delete = bool(dict.get(value, DELETE_KEY, False))
    value = {k: v for k, v in dict.items(value) if k != DELETE_KEY}
    if key is not None:
        if key not in b or delete:
            return _strip_delete(value)
        b = dict.__getitem__(b, key)
    elif delete:
        return _strip_delete(value)
    allowed = (dict, list) if allow_list_keys else dict
    if not isinstance(b, allowed):
        raise TypeError(
            f"{full_key}={value!r}{_where(filename)} cannot inherit from its base: it is a dict "
            f"here but a {type(b).__name__} in the base. Set `{DELETE_KEY}=True` in it to "
            "replace the base's value."
        )
    return merge_a_into_b(value, b, allow_list_keys, filename=filename, prefix=full_key)


def resolve_base_path(base: str, filename: str) -> str:
    """The absolute path of ``base`` as listed in ``filename``'s ``_base_``.

    Relative paths are relative to ``filename``'s directory; ``package::path`` names a config
    shipped in an installed package (under its ``.mim/configs`` or ``configs`` folder).
    """
    base = osp.expanduser(base)
    if "::" in base:
        package, _, rel = base.partition("::")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigParsingError(
                f"{BASE_KEY} entry {base!r} in config file {filename}: package {package!r} is "
                "not installed"
            )
        root = list(spec.submodule_search_locations)[0]
        for folder in (osp.join(root, ".mim", "configs"), osp.join(root, "configs")):
            if osp.isfile(osp.join(folder, rel)):
                return osp.join(folder, rel)
        raise FileNotFoundError(
            f"{BASE_KEY} entry {base!r} in config file {filename}: {rel} is not in package "
            f"{package!r}"
        )
    if not osp.isabs(base):
        base = osp.join(osp.dirname(filename), base)
    return osp.normpath(base)


def check_config_path(filename: str, stack: tuple[str, ...]) -> None:
    """Raise a clear error for a missing file, a bad extension or circular inheritance."""
    parent = f" (listed as a base of {stack[-1]})" if stack else ""
    if filename in stack:
        chain = " -> ".join([*stack[stack.index(filename) :], filename])
        raise ConfigParsingError(f"Circular inheritance between config files: {chain}")
    if not osp.isfile(filename):
        raise FileNotFoundError(f"Config file {filename} does not exist{parent}")
    extension = osp.splitext(filename)[1]
    if extension not in parsing.SUPPORTED_EXTENSIONS:
        raise OSError(
            f"Config file {filename}{parent} has extension {extension!r}; only "
            f"{', '.join(parsing.SUPPORTED_EXTENSIONS)} are supported"
        )


def load_config_file(
    filename: str,
    options: LoadOptions | None = None,
    stack: tuple[str, ...] = (),
) -> LoadedConfig:
    """Load ``filename`` and all its bases into one merged ``ConfigDict``.

    Args:
        filename: The config file.
        options: How to read it (predefined and environment variables, lazy import).
        stack: The files that (transitively) inherit from this one, to detect cycles.
    """
    options = options or LoadOptions()
    filename = osp.abspath(osp.expanduser(filename))
    check_config_path(filename, stack)
    with open(filename, encoding="utf-8") as f:
        raw_text = f.read()
    text = raw_text
    env_variables: dict[str, str] = {}
    if options.use_predefined_variables:
        text = parsing.substitute_predefined_vars(text, filename)
    if options.use_environment_variables:
        text, env_variables = parsing.substitute_env_vars(text, filename)
    extension = osp.splitext(filename)[1]
    if extension == ".py":
        tree = parsing.parse_python(text, filename)
        lazy = options.lazy_import
        if lazy is None:
            lazy = parsing.is_lazy_import(tree)
        if lazy:
            from torchrig.config.lazy_config import load_lazy_config

            loaded = load_lazy_config(filename, text, tree, options, stack)
            loaded.env_variables.update(env_variables)
            return loaded
    text, placeholders = parsing.pre_substitute_base_vars(text)
    if extension == ".py":
        if placeholders:  # the text changed: parse it again
            tree = parsing.parse_python(text, filename)
        base_files = parsing.get_python_base_files(tree, filename)
    else:
        child = parsing.parse_data_text(text, filename, extension)
        base_files = parsing.check_base_list(child.pop(BASE_KEY, []), filename)

    base = _load_bases(filename, base_files, options, stack + (filename,))
    env_variables.update(base.env_variables)
    if extension == ".py":
        child = parsing.exec_python_config(tree, filename, text, base.cfg_dict)
    child = parsing.substitute_base_vars(ConfigDict(child), placeholders, base.cfg_dict, filename)
    merged = merge_a_into_b(child, base.cfg_dict, filename=filename)
    return LoadedConfig(merged, base.text + f"{filename}\n{raw_text}", env_variables)


def _load_bases(
    filename: str, base_files: list[str], options: LoadOptions, stack: tuple[str, ...]
) -> LoadedConfig:
    """Load and combine the bases of ``filename``; a key two bases set differently is an error."""
    combined = ConfigDict()
    owners: dict[str, str] = {}
    texts: list[str] = []
    env_variables: dict[str, str] = {}
    for base in base_files:
        path = resolve_base_path(base, filename)
        loaded = load_config_file(path, options, stack)
        texts.append(loaded.text)
        env_variables.update(loaded.env_variables)
        for key, value in dict.items(loaded.cfg_dict):
            if key in combined:
                if dict.__getitem__(combined, key) != value:
                    raise ConfigKeyError(
                        f"Key {key!r} is set to different values in two bases of config file "
                        f"{filename}: {owners[key]} and {path}. Set it in only one of them, or "
                        "give both the same value."
                    )
                continue
            dict.__setitem__(combined, key, value)
            owners[key] = path
    text = "\n".join(texts) + ("\n" if texts else "")
    return LoadedConfig(combined, text, env_variables)
