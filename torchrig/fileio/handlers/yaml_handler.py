"""YAML files, read with a safe loader that also understands tuples."""

from __future__ import annotations

from typing import IO, Any

import yaml

from torchrig.fileio.handlers.base import BaseFileHandler

__all__ = ["YamlHandler", "SafeTupleDumper", "SafeTupleLoader"]

_TUPLE_TAG = "tag:yaml.org,2002:python/tuple"


class SafeTupleLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``!!python/tuple`` back as a tuple (and nothing unsafe)."""


class SafeTupleDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that writes tuples as ``!!python/tuple`` so they load back equal."""


def _construct_tuple(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> tuple:
    return tuple(loader.construct_sequence(node, deep=True))


def _represent_tuple(dumper: yaml.SafeDumper, data: tuple) -> yaml.SequenceNode:
    return dumper.represent_sequence(_TUPLE_TAG, data)


def _represent_dict_subclass(dumper: yaml.SafeDumper, data: dict) -> yaml.MappingNode:
    return dumper.represent_dict(data)


def _represent_str_like(dumper: yaml.SafeDumper, data: Any) -> yaml.ScalarNode:
    return dumper.represent_str(str(data))


SafeTupleLoader.add_constructor(_TUPLE_TAG, _construct_tuple)
SafeTupleDumper.add_representer(tuple, _represent_tuple)
# ConfigDict and other dict subclasses are written as plain mappings.
SafeTupleDumper.add_multi_representer(dict, _represent_dict_subclass)


def _register_lazy_representers() -> None:
    # Lazy config objects are written as their dotted import path.
    from torchrig.config.lazy import LazyAttr, LazyObject

    SafeTupleDumper.add_representer(LazyObject, _represent_str_like)
    SafeTupleDumper.add_representer(LazyAttr, _represent_str_like)


class YamlHandler(BaseFileHandler):
    """Reads and writes YAML with safe loaders; tuples round-trip."""

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        kwargs.setdefault("Loader", SafeTupleLoader)
        return yaml.load(file, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        _register_lazy_representers()
        kwargs.setdefault("Dumper", SafeTupleDumper)
        kwargs.setdefault("sort_keys", False)
        yaml.dump(obj, file, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> str:
        _register_lazy_representers()
        kwargs.setdefault("Dumper", SafeTupleDumper)
        kwargs.setdefault("sort_keys", False)
        return yaml.dump(obj, **kwargs)
