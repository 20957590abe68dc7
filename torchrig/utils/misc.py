"""Small helpers used across torchrig (MMEngine's ``mmengine.utils`` names)."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import itertools
import shutil
import warnings
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from types import ModuleType
from typing import Any

__all__ = [
    "apply_to",
    "check_prerequisites",
    "concat_list",
    "deprecated_api_warning",
    "deprecated_function",
    "get_object_from_string",
    "has_method",
    "import_modules_from_strings",
    "is_list_of",
    "is_method_overridden",
    "is_seq_of",
    "is_str",
    "is_tuple_of",
    "iter_cast",
    "list_cast",
    "requires_executable",
    "requires_package",
    "slice_list",
    "to_1tuple",
    "to_2tuple",
    "to_3tuple",
    "to_4tuple",
    "to_ntuple",
    "tuple_cast",
]


def is_str(x: Any) -> bool:
    """Whether ``x`` is a string."""
    return isinstance(x, str)


def is_seq_of(
    seq: Any, expected_type: type | tuple[type, ...], seq_type: type | None = None
) -> bool:
    """Whether ``seq`` is a sequence (of ``seq_type`` if given) whose items are all ``expected_type``."""
    exp_seq_type = Sequence if seq_type is None else seq_type
    if not isinstance(seq, exp_seq_type):
        return False
    return all(isinstance(item, expected_type) for item in seq)


def is_list_of(seq: Any, expected_type: type | tuple[type, ...]) -> bool:
    """Whether ``seq`` is a list whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=list)


def is_tuple_of(seq: Any, expected_type: type | tuple[type, ...]) -> bool:
    """Whether ``seq`` is a tuple whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=tuple)


def to_ntuple(n: int) -> Callable[[Any], tuple | Iterable]:
    """A function that repeats a single value ``n`` times into a tuple; iterables pass through.

    Args:
        n: The length of the tuple to make.

    Returns:
        ``parse(x)``: ``x`` itself when it is iterable, else ``(x,) * n``.
    """

    def parse(x: Any) -> tuple | Iterable:
        if isinstance(x, Iterable):
            return x
        return tuple(repeat(x, n))

    return parse


to_1tuple = to_ntuple(1)
to_2tuple = to_ntuple(2)
to_3tuple = to_ntuple(3)
to_4tuple = to_ntuple(4)


def iter_cast(inputs: Iterable, dst_type: type, return_type: type | None = None) -> Any:
    """Casts every item of ``inputs`` to ``dst_type``.

    Args:
        inputs: The items to cast.
        dst_type: The type to cast each item to.
        return_type: A container type for the result; None returns a lazy ``map``.

    Returns:
        The cast items, as ``return_type`` or a ``map`` iterator.

    Raises:
        TypeError: When ``inputs`` is not iterable or ``dst_type`` is not a type.
    """
    if not isinstance(inputs, Iterable):
        raise TypeError(f"inputs must be an iterable object, got {type(inputs).__name__}")
    if not isinstance(dst_type, type):
        raise TypeError(f'"dst_type" must be a valid type, got {dst_type!r}')
    out = map(dst_type, inputs)
    return out if return_type is None else return_type(out)


def list_cast(inputs: Iterable, dst_type: type) -> list:
    """Casts every item of ``inputs`` to ``dst_type`` into a list."""
    return iter_cast(inputs, dst_type, return_type=list)


def tuple_cast(inputs: Iterable, dst_type: type) -> tuple:
    """Casts every item of ``inputs`` to ``dst_type`` into a tuple."""
    return iter_cast(inputs, dst_type, return_type=tuple)


def slice_list(in_list: list, lens: int | list[int]) -> list[list]:
    """Cuts a list into consecutive pieces.

    Args:
        in_list: The list to cut.
        lens: The length of every piece (an int, which must divide the list's length), or
            the length of each piece in order (they must add up to the list's length).

    Returns:
        The pieces.
    """
    if isinstance(lens, int):
        if lens <= 0 or len(in_list) % lens != 0:
            raise ValueError(
                f"cannot slice a list of length {len(in_list)} into pieces of length {lens}"
            )
        lens = [lens] * (len(in_list) // lens)
    if not isinstance(lens, list):
        raise TypeError('"indices" must be an integer or a list of integers')
    if sum(lens) != len(in_list):
        raise ValueError(
            f"sum of lens and list length does not match: {sum(lens)} != {len(in_list)}"
        )
    out, idx = [], 0
    for length in lens:
        out.append(in_list[idx : idx + length])
        idx += length
    return out


def concat_list(in_list: Iterable[Iterable]) -> list:
    """Concatenates a list of lists into one list."""
    return list(itertools.chain(*in_list))


def check_prerequisites(
    prerequisites: str | list[str],
    checker: Callable[[str], bool],
    msg_tmpl: str = 'Prerequisites "{}" are required in method "{}" but not found, '
    "please install them first.",
) -> Callable:
    """A decorator that makes a function raise when some of its prerequisites are missing.

    Args:
        prerequisites: What the function needs (a name or a list of names).
        checker: Tells whether one prerequisite is there.
        msg_tmpl: The message, formatted with the missing names and the function's name.

    Returns:
        The decorator. The decorated function raises ``RuntimeError`` (with the message)
        when called while a prerequisite is missing.
    """

    def wrap(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapped_func(*args: Any, **kwargs: Any) -> Any:
            requirements = [prerequisites] if isinstance(prerequisites, str) else prerequisites
            missing = [item for item in requirements if not checker(item)]
            if missing:
                raise RuntimeError(msg_tmpl.format(", ".join(missing), func.__name__))
            return func(*args, **kwargs)

        return wrapped_func

    return wrap


def _check_py_package(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def _check_executable(cmd: str) -> bool:
    return shutil.which(cmd) is not None


def requires_package(prerequisites: str | list[str]) -> Callable:
    """A decorator that makes a function raise ``RuntimeError`` unless the named Python
    packages are importable.

    Example:
        >>> @requires_package('numpy')
        ... def func(arg1, args):
        ...     return numpy.zeros(1)
    """
    return check_prerequisites(prerequisites, checker=_check_py_package)


def requires_executable(prerequisites: str | list[str]) -> Callable:
    """A decorator that makes a function raise ``RuntimeError`` unless the named programs are
    on ``PATH``."""
    return check_prerequisites(prerequisites, checker=_check_executable)


def deprecated_api_warning(name_dict: dict[str, str], cls_name: str | None = None) -> Callable:
    """A decorator that accepts renamed keyword arguments under their old names, with a warning.

    Args:
        name_dict: Old argument name -> new argument name.
        cls_name: The class the decorated method belongs to, for the message.

    Returns:
        The decorator. An old name passed by keyword is renamed (with a
        ``DeprecationWarning``); a positional parameter still under its old name only warns;
        passing both the old and the new name raises ``TypeError``.
    """

    def api_warning_wrapper(old_func: Callable) -> Callable:
        @functools.wraps(old_func)
        def new_func(*args: Any, **kwargs: Any) -> Any:
            func_name = old_func.__name__ if cls_name is None else f"{cls_name}.{old_func.__name__}"
            positional = inspect.getfullargspec(old_func).args[: len(args)]
            for src_name, dst_name in name_dict.items():
                if src_name in positional:  # passed by position under its old name
                    warnings.warn(
                        f'"{src_name}" is deprecated in `{func_name}`, please use "{dst_name}" '
                        "instead",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                if src_name not in kwargs:
                    continue
                if dst_name in kwargs:
                    raise TypeError(
                        f"{func_name}() got both the deprecated argument {src_name!r} and its "
                        f"replacement {dst_name!r}; pass only {dst_name!r}"
                    )
                warnings.warn(
                    f'"{src_name}" is deprecated in `{func_name}`, please use "{dst_name}" instead',
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[dst_name] = kwargs.pop(src_name)
            return old_func(*args, **kwargs)

        return new_func

    return api_warning_wrapper


def is_method_overridden(method: str, base_class: type, derived_class: type | Any) -> bool:
    """Whether ``derived_class`` (a class or an instance) overrides ``base_class.method``."""
    if not isinstance(base_class, type):
        raise TypeError(f"base_class must be a class, got {base_class!r}")
    if not isinstance(derived_class, type):
        derived_class = derived_class.__class__
    return getattr(derived_class, method) != getattr(base_class, method)


def has_method(obj: object, method: str) -> bool:
    """Whether ``obj`` has a callable attribute named ``method``."""
    return hasattr(obj, method) and callable(getattr(obj, method))


def deprecated_function(since: str, removed_in: str, instructions: str) -> Callable:
    """A decorator that marks a function deprecated: calling it warns, its docstring says so.

    Args:
        since: The version it was deprecated in.
        removed_in: The version it will be removed in.
        instructions: What to do instead (completes "Please ...").

    Returns:
        The decorator.
    """

    def decorator(function: Callable) -> Callable:
        message = (
            f"'{function.__module__}.{function.__name__}' is deprecated in version {since} and "
            f"will be removed in version {removed_in}. Please {instructions}."
        )

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            return function(*args, **kwargs)

        note = f".. deprecated:: {since}\n    Deprecated and will be removed in version {removed_in}. Please {instructions}."
        wrapper.__doc__ = f"{function.__doc__ or ''}\n\n{note}\n"
        return wrapper

    return decorator


def apply_to(data: Any, expr: Callable[[Any], bool], apply_func: Callable[[Any], Any]) -> Any:
    """Applies ``apply_func`` to every leaf of nested dicts, lists and tuples where ``expr`` holds.

    Containers keep their type (named tuples included); other leaves are returned as they are.
    """
    if isinstance(data, dict):
        return type(data)({key: apply_to(value, expr, apply_func) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(apply_to(item, expr, apply_func) for item in data))
    if isinstance(data, (tuple, list)):
        return type(data)(apply_to(item, expr, apply_func) for item in data)
    if expr(data):
        return apply_func(data)
    return data


def get_object_from_string(obj_name: str) -> Any:
    """The object a dotted path names (``'torch.optim.SGD'``), or None when there is none.

    Submodules are imported as needed; where a module has an attribute and a submodule of the
    same name (``mmcv.ops.nms``), the attribute wins.
    """
    parts = obj_name.split(".")
    try:
        obj: Any = importlib.import_module(parts[0])
    except ImportError:
        return None
    for part in parts[1:]:
        attr = getattr(obj, part, None)
        if attr is not None and not isinstance(attr, ModuleType):
            obj = attr
        elif isinstance(obj, ModuleType):
            try:
                obj = importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                if attr is None:
                    return None
                obj = attr
        elif attr is None:
            return None
        else:
            obj = attr
    return obj


def import_modules_from_strings(
    imports: str | Iterable[str] | None, allow_failed_imports: bool = False
) -> ModuleType | list[ModuleType | None] | None:
    """Imports modules named by strings, as ``custom_imports`` in a config asks.

    Args:
        imports: A module name or a list of them.
        allow_failed_imports: Warn and return None for a module that fails to import,
            instead of raising.

    Returns:
        The module, or a list of modules (None for those that failed), in order.
    """
    if not imports:
        return None
    single = isinstance(imports, str)
    names = [imports] if single else list(imports)
    modules: list[ModuleType | None] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"custom_imports must name modules as strings, got {name!r}")
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            if not allow_failed_imports:
                raise ImportError(
                    f"custom_imports: failed to import {name!r}: {err}. Check the module "
                    "path, or set allow_failed_imports=True to go on without it"
                ) from err
            warnings.warn(f"custom_imports: {name!r} failed to import and is skipped", stacklevel=2)
            modules.append(None)
    return modules[0] if single else modules
