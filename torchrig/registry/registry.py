"""``Registry``: maps type names to classes and functions, with scopes and lazy locations."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from typing import Any

from torchrig.registry.default_scope import DefaultScope

__all__ = ["Registry"]


class Registry:
    """A mapping from names to classes or functions that configs can build by ``type``.

    Registries form trees: a downstream library's registry names a parent (usually one of
    torchrig's root registries) and a scope, and ``'scope.Name'`` finds a name in the registry of
    that scope anywhere in the tree. A bare name is looked up in the registry of the current
    default scope (see ``DefaultScope``), then in its parents.

    Args:
        name: The registry's name (``'model'``, ``'hook'``, ...).
        build_func: Builds an object from a config; defaults to the parent's, else
            ``build_from_cfg``.
        parent: The parent registry.
        scope: The scope of this registry. Defaults to the top package of ``locations[0]``, or
            ``'torchrig'`` for a registry without a parent. Never read from the call stack.
        locations: Modules imported on the first lookup, where this registry's members are
            registered; this keeps imports cheap until something is built.
    """

    def __init__(
        self,
        name: str,
        build_func: Callable[..., Any] | None = None,
        parent: Registry | None = None,
        scope: str | None = None,
        locations: list[str] | None = None,
    ) -> None:
        self._name = name
        self._module_dict: dict[str, Any] = {}
        self._children: dict[str, Registry] = {}
        self._locations = list(locations or [])
        self._imported = False
        self._label = name
        if scope is None:
            if self._locations:
                scope = self._locations[0].split(".")[0]
            elif parent is None:
                scope = "torchrig"
            else:
                raise ValueError(
                    f"Registry {name!r} has a parent but neither `scope` nor `locations`: pass "
                    f"scope='<your package>' (torchrig does not guess it from the call stack)"
                )
        if not isinstance(scope, str):
            raise TypeError(f"scope must be a string, got {scope!r}")
        self._scope = scope
        self.parent: Registry | None = None
        if parent is not None:
            if not isinstance(parent, Registry):
                raise TypeError(f"parent must be a Registry, got {type(parent).__name__}")
            parent._add_child(self)
            self.parent = parent
        if build_func is None:
            if self.parent is not None:
                build_func = self.parent.build_func
            else:
                from torchrig.registry.build_functions import build_from_cfg

                build_func = build_from_cfg
        self.build_func: Callable[..., Any] = build_func

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """The registry's name."""
        return self._name

    @property
    def scope(self) -> str:
        """The scope of this registry."""
        return self._scope

    @property
    def module_dict(self) -> dict[str, Any]:
        """The registered names and objects of this registry (not its parents')."""
        return self._module_dict

    @property
    def children(self) -> dict[str, Registry]:
        """Child registries by scope."""
        return self._children

    @property
    def root(self) -> Registry:
        """The root of this registry's tree."""
        registry = self
        while registry.parent is not None:
            registry = registry.parent
        return registry

    def __len__(self) -> int:
        self.import_from_location()
        return len(self._module_dict)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get_or_none(key) is not None

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._module_dict))
        return f"Registry(name={self._name!r}, scope={self._scope!r}, items=[{names}])"

    # ------------------------------------------------------------------ structure
    @staticmethod
    def split_scope_key(key: str) -> tuple[str | None, str]:
        """Splits ``'mmdet.ResNet'`` into ``('mmdet', 'ResNet')``; ``'ResNet'`` into ``(None, 'ResNet')``."""
        scope, dot, name = key.partition(".")
        if not dot:
            return None, key
        return scope, name

    def _add_child(self, registry: Registry) -> None:
        if registry.scope in self._children:
            raise KeyError(
                f"the {self._label} registry already has a child with scope {registry.scope!r}"
            )
        self._children[registry.scope] = registry

    def _search_child(self, scope: str) -> Registry | None:
        if self._scope == scope:
            return self
        for child in self._children.values():
            found = child._search_child(scope)
            if found is not None:
                return found
        return None

    def import_from_location(self) -> None:
        """Imports this registry's ``locations`` once, so their modules register themselves."""
        if self._imported:
            return
        self._imported = True
        for location in self._locations:
            try:
                importlib.import_module(location)
            except ImportError as err:
                self._imported = False
                raise ImportError(
                    f"the {self._label} registry could not import its location {location!r}: {err}"
                ) from err

    @contextmanager
    def switch_scope_and_registry(self, scope: str | None) -> Generator[Registry, None, None]:
        """Yields the registry in this tree for ``scope`` (or the current default scope).

        The scope's package is asked for its registries (``<scope>.registry``) when it has not
        registered them yet. Falls back to this registry when the tree has no such scope.
        """
        with DefaultScope.overwrite_default_scope(scope):
            current = DefaultScope.get_current_instance()
            if current is None:
                yield self
                return
            scope_name = current.scope_name
            root = self.root
            registry = root._search_child(scope_name)
            if registry is None and scope_name != root.scope:
                try:
                    importlib.import_module(f"{scope_name}.registry")
                except ImportError:
                    pass
                registry = root._search_child(scope_name)
            yield registry if registry is not None else self

    # ------------------------------------------------------------------ lookup
    def _get_or_none(self, key: str) -> Any:
        scope, name = self.split_scope_key(key)
        if scope is not None and scope != self._scope:
            registry = self.root._search_child(scope)
            if registry is None:
                try:
                    importlib.import_module(f"{scope}.registry")
                except ImportError:
                    return None
                registry = self.root._search_child(scope)
            return None if registry is None else registry._get_or_none(name)
        registry: Registry | None = self
        while registry is not None:
            registry.import_from_location()
            if name in registry._module_dict:
                return registry._module_dict[name]
            registry = registry.parent
        return None

    def get(self, key: str) -> Any:
        """Returns the class or function registered as ``key`` (``'Name'`` or ``'scope.Name'``).

        Raises:
            KeyError: When the name is in none of the registries searched; the message names
                the registry, the scopes searched and the closest registered names.
        """
        if not isinstance(key, str):
            raise TypeError(f"a registry key must be a string, got {type(key).__name__}")
        found = self._get_or_none(key)
        if found is not None:
            return found
        raise KeyError(self._not_found_message(key))

    def _searched(self, key: str) -> list[Registry]:
        scope, _ = self.split_scope_key(key)
        start = self if scope is None else (self.root._search_child(scope) or self)
        chain = []
        registry: Registry | None = start
        while registry is not None:
            chain.append(registry)
            registry = registry.parent
        return chain

    def _not_found_message(self, key: str) -> str:
        scope, name = self.split_scope_key(key)
        chain = self._searched(key)
        names: list[str] = []
        for registry in chain:
            names.extend(registry._module_dict)
        if scope is not None and self.root._search_child(scope) is None:
            where = f"no registry in the {self._label} tree has scope {scope!r}"
        else:
            where = "scopes searched: " + ", ".join(r.scope for r in chain)
        message = f"{name!r} is not in the {self._label} registry ({where})."
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        lower = [n for n in names if n.lower() == name.lower() and n not in close]
        close = lower + close
        if close:
            message += " Did you mean " + " or ".join(repr(c) for c in close[:3]) + "?"
        else:
            message += (
                " Register it with @REGISTRY.register_module(), or import the module that "
                "registers it (custom_imports in the config)."
            )
        return message

    # ------------------------------------------------------------------ build / register
    def build(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        """Builds an object from ``cfg`` (a dict with ``type``) with this registry's build function."""
        return self.build_func(cfg, *args, **kwargs, registry=self)

    def _register_module(
        self, module: Any, module_name: str | Iterable[str] | None = None, force: bool = False
    ) -> None:
        if not callable(module):
            raise TypeError(f"only classes and functions can be registered, got {module!r}")
        if module_name is None:
            module_name = module.__name__
        names = [module_name] if isinstance(module_name, str) else list(module_name)
        for name in names:
            if not force and name in self._module_dict and self._module_dict[name] is not module:
                existing = self._module_dict[name]
                raise KeyError(
                    f"{name!r} is already registered in the {self._label} registry (scope "
                    f"{self._scope!r}) by {existing.__module__}.{existing.__qualname__}; pass "
                    "force=True to replace it"
                )
            self._module_dict[name] = module

    def register_module(
        self,
        name: str | Iterable[str] | None = None,
        force: bool = False,
        module: Any = None,
    ) -> Any:
        """Registers a class or function, as a decorator or as a call.

        Args:
            name: The name(s) to register under; defaults to ``module.__name__``.
            force: Replace an existing entry of the same name.
            module: The object to register now (call form); without it, returns a decorator.
        """
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, got {force!r}")
        if name is not None and not isinstance(name, str):
            name = list(name)
            if not all(isinstance(n, str) for n in name):
                raise TypeError(f"name must be a string or a list of strings, got {name!r}")
        if module is not None:
            self._register_module(module, name, force)
            return module

        def _register(obj: Any) -> Any:
            self._register_module(obj, name, force)
            return obj

        return _register
