"""``Config``: a config loaded from a file or a dict, with MMEngine's interface.

The work is split by job: :mod:`.parsing` reads one file, :mod:`.inheritance` resolves
``_base_`` files and merges, :mod:`.lazy_config` loads ``read_base``-style configs,
:mod:`.dump` writes text. ``ConfigDict`` and ``DictAction`` are re-exported from here as in
MMEngine (``from torchrig.config.config import ConfigDict``).
"""

from __future__ import annotations

import copy
import os.path as osp
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torchrig.config import utils as _utils
from torchrig.config.config_dict import ConfigDict
from torchrig.config.dict_action import DictAction
from torchrig.config.dump import dump_to_format, format_config
from torchrig.config.inheritance import LoadOptions, load_config_file, merge_a_into_b
from torchrig.config.lazy import read_base  # noqa: F401 - MMEngine's mmengine.config.config.read_base
from torchrig.config.options import check_new_keys
from torchrig.config.parsing import SUPPORTED_EXTENSIONS
from torchrig.config.utils import RESERVED_KEYS, ConfigKeyError

__all__ = ["Config", "ConfigDict", "DictAction"]


class Config:
    """A config: nested values read as attributes or items, loaded from a file or a dict.

    Args:
        cfg_dict: The values. Nested dicts become :class:`ConfigDict`.
        cfg_text: The text of the config; read from ``filename`` when omitted.
        filename: The file the config came from.
        env_variables: Environment variables the config used (``{{$NAME:default}}``).
        format_python_code: Accepted for MMEngine compatibility; ``pretty_text`` is always
            formatted by torchrig's own formatter.

    Examples:
        >>> cfg = Config(dict(a=1, b=dict(b1=[0, 1])))
        >>> cfg.b.b1
        [0, 1]
    """

    def __init__(
        self,
        cfg_dict: dict | None = None,
        cfg_text: str | None = None,
        filename: str | Path | None = None,
        env_variables: dict | None = None,
        format_python_code: bool = True,
    ) -> None:
        filename = str(filename) if isinstance(filename, Path) else filename
        if cfg_dict is None:
            cfg_dict = {}
        elif not isinstance(cfg_dict, dict):
            raise TypeError(f"cfg_dict must be a dict, but got {type(cfg_dict).__name__}")
        for key in cfg_dict:
            if key in RESERVED_KEYS:
                raise KeyError(f"{key} is reserved for config file")
        if cfg_text is not None:
            text = cfg_text
        elif filename and osp.isfile(filename):
            with open(filename, encoding="utf-8") as f:
                text = f.read()
        else:
            text = ""
        values = cfg_dict if isinstance(cfg_dict, ConfigDict) else ConfigDict(cfg_dict)
        object.__setattr__(self, "_cfg_dict", values)
        object.__setattr__(self, "_filename", filename)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_env_variables", dict(env_variables or {}))
        object.__setattr__(self, "_format_python_code", format_python_code)
        object.__setattr__(self, "_imported_names", set())

    # -- construction ----------------------------------------------------------------------
    @staticmethod
    def fromfile(
        filename: str | Path,
        use_predefined_variables: bool = True,
        import_custom_modules: bool = True,
        use_environment_variables: bool = True,
        lazy_import: bool | None = None,
        format_python_code: bool = True,
    ) -> Config:
        """Load a config file (``.py``, ``.json``, ``.yaml``/``.yml``) with its ``_base_`` files.

        Args:
            filename: The config file.
            use_predefined_variables: Replace ``{{fileDirname}}`` and the like.
            import_custom_modules: Import the modules listed in ``custom_imports``.
            use_environment_variables: Replace ``{{$NAME:default}}`` by environment variables.
            lazy_import: Read a Python config in the pure-Python (``read_base``) style; None
                decides from the file.
            format_python_code: Accepted for MMEngine compatibility.

        Returns:
            The loaded config.
        """
        filename = osp.abspath(osp.expanduser(str(filename)))
        options = LoadOptions(use_predefined_variables, use_environment_variables, lazy_import)
        loaded = load_config_file(filename, options)
        custom_imports = dict.get(loaded.cfg_dict, "custom_imports")
        if import_custom_modules and custom_imports:
            if not isinstance(custom_imports, dict) or "imports" not in custom_imports:
                raise ConfigKeyError(
                    f"custom_imports in config file {filename} must be "
                    "dict(imports=[...], allow_failed_imports=False)"
                )
            _utils.import_custom_modules(
                custom_imports["imports"],
                bool(custom_imports.get("allow_failed_imports", False)),
                filename,
            )
        cfg = Config(
            loaded.cfg_dict,
            cfg_text=loaded.text,
            filename=filename,
            env_variables=loaded.env_variables,
            format_python_code=format_python_code,
        )
        object.__setattr__(cfg, "_imported_names", set(loaded.imported_names))
        return cfg

    @staticmethod
    def fromstring(cfg_str: str, file_format: str) -> Config:
        """Load a config from text in the given format (``'.py'``, ``'.json'``, ``'.yaml'``)."""
        file_format = file_format if file_format.startswith(".") else f".{file_format}"
        if file_format not in SUPPORTED_EXTENSIONS:
            raise OSError(f"Only {', '.join(SUPPORTED_EXTENSIONS)} configs are supported")
        with tempfile.TemporaryDirectory() as folder:
            path = osp.join(folder, f"config{file_format}")
            with open(path, "w", encoding="utf-8") as f:
                f.write(cfg_str)
            cfg = Config.fromfile(path)
        object.__setattr__(cfg, "_filename", None)
        return cfg

    # -- properties ------------------------------------------------------------------------
    @property
    def filename(self) -> str | None:
        """The file the config was loaded from."""
        return self._filename

    @property
    def text(self) -> str:
        """The text of the config file and of its bases, each after its path."""
        return self._text

    @property
    def env_variables(self) -> dict:
        """The environment variables the config used."""
        return self._env_variables

    @property
    def pretty_text(self) -> str:
        """The config as valid, readable Python that loads back to an equal config."""
        return format_config(self._cfg_dict, self._imported_names)

    # -- conversion and output -------------------------------------------------------------
    def to_dict(self, keep_imported: bool = False) -> dict:
        """The values as plain dicts, lists and tuples.

        Args:
            keep_imported: Keep top-level names that a pure-Python config imported.
        """
        result = self._cfg_dict.to_dict()
        if not keep_imported:
            for name in self._imported_names:
                result.pop(name, None)
        return result

    def dump(self, file: str | Path | None = None) -> str | None:
        """Write the config to ``file`` (``.py``, ``.json``, ``.yaml``/``.yml``).

        Args:
            file: Where to write. When None, the text is returned: Python unless the config was
                loaded from a JSON or YAML file.

        Returns:
            The text when ``file`` is None, else None.
        """
        file = str(file) if isinstance(file, Path) else file
        if file is None:
            if self.filename is None or self.filename.endswith(".py"):
                return self.pretty_text
            return dump_to_format(self.to_dict(), None, self.filename.rsplit(".", 1)[-1])
        if file.endswith(".py"):
            with open(file, "w", encoding="utf-8") as f:
                f.write(self.pretty_text)
            return None
        extension = osp.splitext(file)[1]
        if extension not in SUPPORTED_EXTENSIONS:
            raise OSError(f"Cannot dump a config to {file}: use .py, .json, .yaml or .yml")
        return dump_to_format(self.to_dict(), file, extension[1:])

    def merge_from_dict(
        self, options: dict, allow_list_keys: bool = True, allow_new_keys: bool = False
    ) -> None:
        """Merge ``{'dotted.key': value}`` options (as from ``--cfg-options``) into the config.

        A key the config does not have is an error naming it and its close matches, except a
        new argument inside an existing dict, a top-level key the Runner reads, or a key
        written with a ``+`` before it (``'+my_key': 1``); see :mod:`torchrig.config.options`.

        Args:
            options: Dotted keys to values; digit parts index lists (``model.layers.0.ch``).
            allow_list_keys: Let digit parts index lists.
            allow_new_keys: Let every option add keys (as MMEngine does).

        Raises:
            ConfigKeyError: A key is unknown (a likely typo) or does not fit the config.

        Examples:
            >>> cfg = Config(dict(model=dict(backbone=dict(depth=50))))
            >>> cfg.merge_from_dict({'model.backbone.depth': 101})
            >>> cfg.model.backbone.depth
            101
        """
        where = f" (config file {self.filename})" if self.filename else ""
        options = check_new_keys(options, self._cfg_dict, self.filename, allow_new_keys)
        expanded = ConfigDict()
        for full_key, value in options.items():
            parts = str(full_key).split(".")
            if not all(parts):
                raise ConfigKeyError(f"Bad option key {full_key!r}{where}: empty part")
            node = expanded
            for part in parts[:-1]:
                child = dict.get(node, part)
                if not isinstance(child, dict):
                    child = ConfigDict()
                    dict.__setitem__(node, part, child)
                node = child
            node[parts[-1]] = value
        try:
            merged = merge_a_into_b(
                expanded, self._cfg_dict, allow_list_keys, filename=self.filename
            )
        except TypeError as e:
            raise ConfigKeyError(f"Cannot merge options{where}: {e}") from e
        object.__setattr__(self, "_cfg_dict", merged)

    # -- dict-like access ------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_cfg_dict":
            raise AttributeError(name)
        return getattr(self._cfg_dict, name)

    def __getitem__(self, name: Any) -> Any:
        return self._cfg_dict[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in RESERVED_KEYS:
            raise AttributeError(f"{name} is reserved for config file")
        self._cfg_dict[name] = value

    def __setitem__(self, name: Any, value: Any) -> None:
        self._cfg_dict[name] = value

    def __delattr__(self, name: str) -> None:
        delattr(self._cfg_dict, name)

    def __delitem__(self, name: Any) -> None:
        del self._cfg_dict[name]

    def __iter__(self) -> Iterator:
        return iter(self._cfg_dict)

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def __contains__(self, key: Any) -> bool:
        return key in self._cfg_dict

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self.to_dict(keep_imported=True) == other.to_dict(keep_imported=True)
        if isinstance(other, dict):
            return self.to_dict(keep_imported=True) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config (path: {self.filename}): {self._cfg_dict!r}"

    # -- copies and pickling ---------------------------------------------------------------
    def __getstate__(self) -> tuple:
        return (
            self._cfg_dict,
            self._filename,
            self._text,
            self._env_variables,
            self._format_python_code,
            self._imported_names,
        )

    def __setstate__(self, state: tuple) -> None:
        names = ("_cfg_dict", "_filename", "_text", "_env_variables")
        names += ("_format_python_code", "_imported_names")
        for name, value in zip(names, state):
            object.__setattr__(self, name, value)

    def __copy__(self) -> Config:
        new = Config.__new__(Config)
        new.__setstate__(self.__getstate__())
        return new

    def copy(self) -> Config:
        """A shallow copy."""
        return self.__copy__()

    def __deepcopy__(self, memo: dict) -> Config:
        new = Config.__new__(Config)
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new


def add_args(parser: Any, cfg: dict, prefix: str = "") -> Any:
    """Adds a command-line option for every leaf of ``cfg`` (nested keys joined with dots).

    Strings, ints and floats become typed options, booleans ``store_true`` flags, lists
    ``nargs='+'`` options typed like their first item.

    Args:
        parser: An ``argparse.ArgumentParser``.
        cfg: The (nested) dict of defaults.
        prefix: Put before every option name.

    Returns:
        The parser.
    """
    for key, value in cfg.items():
        option = f"--{prefix}{key}"
        if isinstance(value, str):
            parser.add_argument(option)
        elif isinstance(value, bool):
            parser.add_argument(option, action="store_true")
        elif isinstance(value, int):
            parser.add_argument(option, type=int)
        elif isinstance(value, float):
            parser.add_argument(option, type=float)
        elif isinstance(value, dict):
            add_args(parser, value, f"{prefix}{key}.")
        elif isinstance(value, (list, tuple)) and value:
            parser.add_argument(option, type=type(value[0]), nargs="+")
        else:
            from torchrig.logging import print_log

            print_log(f"cannot parse key {prefix}{key} of type {type(value)}", logger="current")
    return parser
