"""Inspection helpers for registry trees."""

from __future__ import annotations

from typing import Any

from torchrig.registry.default_scope import init_default_scope
from torchrig.registry.registry import Registry

__all__ = ["count_registered_modules", "init_default_scope", "traverse_registry_tree"]


def traverse_registry_tree(registry: Registry, verbose: bool = False) -> list[dict[str, Any]]:
    """Lists every registry in the tree below ``registry``'s root with its registered names."""
    rows: list[dict[str, Any]] = []
    pending = [registry.root]
    while pending:
        node = pending.pop(0)
        rows.append(
            {
                "name": node.name,
                "scope": node.scope,
                "num_modules": len(node.module_dict),
                "modules": sorted(node.module_dict),
            }
        )
        pending.extend(node.children.values())
    if verbose:
        for row in rows:
            print(f"{row['scope']}.{row['name']}: {row['num_modules']} modules")
    return rows


def count_registered_modules(verbose: bool = False) -> dict[str, Any]:
    """Counts the names registered in each of torchrig's root registries (and their children)."""
    from torchrig.registry import root

    counts: dict[str, Any] = {}
    for attr in root.__all__:
        registry = getattr(root, attr)
        registry.import_from_location()
        counts[registry.name] = traverse_registry_tree(registry, verbose)
    return counts
