"""``DictAction``: ``--cfg-options key=value ...`` on the command line."""

from __future__ import annotations

import copy
from argparse import Action, ArgumentParser, Namespace
from collections.abc import Sequence
from typing import Any

__all__ = ["DictAction"]


class DictAction(Action):
    """An argparse action that collects ``key=value`` pairs into a dict.

    Values are parsed as int, float, bool (``true``/``false``, any case), ``None``, or else
    left as strings. ``a,b``, ``[a,b]`` and ``(a,b)`` give lists and tuples, nested to any depth
    (``'[(1,2),(3,4)]'``). Quotes around a value are removed. Later pairs override earlier ones.

    Example:
        >>> parser = ArgumentParser()
        >>> _ = parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        >>> parser.parse_args(['--cfg-options', 'model.depth=50', 'lr=[0.1,0.01]']).cfg_options
        {'model.depth': 50, 'lr': [0.1, 0.01]}
    """

    @staticmethod
    def _parse_int_float_bool(val: str) -> Any:
        """Parse a scalar: int, float, bool, None, or the string itself."""
        try:
            return int(val)
        except ValueError:
            pass
        try:
            return float(val)
        except ValueError:
            pass
        if val.lower() in ("true", "false"):
            return val.lower() == "true"
        if val == "None":
            return None
        return val

    @staticmethod
    def find_next_comma(string: str) -> int:
        """Index of the first comma outside brackets, or ``len(string)``."""
        depth = 0
        for index, char in enumerate(string):
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
                if depth < 0:
                    raise ValueError(f"Unbalanced brackets in {string!r}")
            elif char == "," and depth == 0:
                return index
        if depth != 0:
            raise ValueError(f"Unbalanced brackets in {string!r}")
        return len(string)

    @staticmethod
    def _parse_iterable(val: str) -> Any:
        """Parse a value that may be a (nested) list or tuple."""
        val = val.strip().strip("'\"").strip()
        is_tuple = False
        if val.startswith("(") and val.endswith(")"):
            is_tuple, val = True, val[1:-1]
        elif val.startswith("[") and val.endswith("]"):
            val = val[1:-1]
        elif "," not in val:
            if any(c in val for c in "()[]"):
                DictAction.find_next_comma(val)  # raises on unbalanced brackets
            return DictAction._parse_int_float_bool(val)
        values = []
        while val.strip():
            comma = DictAction.find_next_comma(val)
            values.append(DictAction._parse_iterable(val[:comma]))
            val = val[comma + 1 :]
        return tuple(values) if is_tuple else values

    def __call__(
        self,
        parser: ArgumentParser,
        namespace: Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        options = copy.copy(getattr(namespace, self.dest, None) or {})
        if values is not None:
            if isinstance(values, str):
                values = [values]
            for pair in values:
                key, sep, val = str(pair).partition("=")
                key = key.strip()
                if not sep or not key or any(not part for part in key.split(".")):
                    parser.error(
                        f"{option_string or self.dest}: cannot parse {pair!r}; expected "
                        "key=value with a dotted key such as model.backbone.depth=50"
                    )
                try:
                    options[key] = self._parse_iterable(val)
                except ValueError as e:
                    parser.error(f"{option_string or self.dest}: cannot parse {pair!r}: {e}")
        setattr(namespace, self.dest, options)
