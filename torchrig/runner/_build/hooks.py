"""Building hooks, keeping them ordered by priority, and listing who runs at which stage."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.hooks import Hook

__all__ = [
    "DEFAULT_HOOKS",
    "build_hook",
    "default_hook_cfgs",
    "hooks_info",
    "insert_by_priority",
    "stage_callers",
]

DEFAULT_HOOKS: dict[str, dict[str, Any]] = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    logger=dict(type="LoggerHook"),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=1),
    progress=dict(type="ProgressBarHook"),
)
"""MMEngine's default hooks, plus a progress display that is on only on a terminal;
``default_hooks=dict(name=None)`` drops one, a dict replaces it."""


def default_hook_cfgs(default_hooks: dict[str, Any] | None) -> list[Hook | dict]:
    """The default hooks with the user's ``default_hooks`` merged in (None removes one)."""
    merged: dict[str, Any] = copy.deepcopy(DEFAULT_HOOKS)
    for name, hook in (default_hooks or {}).items():
        merged[name] = hook
    return [hook for hook in merged.values() if hook is not None]


def build_hook(hook: Hook | dict, priority: int | str | Any = None) -> Hook:
    """Builds a hook, checks its stage names, and sets its priority.

    A ``priority`` key in a config wins over the ``priority`` argument.

    Args:
        hook: A hook or its config.
        priority: Overrides the hook's own priority when given.

    Raises:
        TypeError: ``hook`` is neither, or it defines a method named like a stage that is
            not one (a typo such as ``after_train_iterr``).
    """
    from torchrig.config.lazy import resolve_lazy
    from torchrig.hooks import Hook
    from torchrig.hooks.hook import check_hook_stages
    from torchrig.registry import HOOKS

    if isinstance(hook, dict):
        cfg = dict(resolve_lazy(hook))
        priority = cfg.pop("priority", priority)
        hook = HOOKS.build(cfg)
    if not isinstance(hook, Hook):
        raise TypeError(f"a hook must be a Hook or a dict config, got {type(hook).__name__}")
    check_hook_stages(hook)
    if priority is not None:
        hook.priority = priority
    return hook


def insert_by_priority(hooks: list[Hook], hook: Hook) -> None:
    """Inserts ``hook`` after every hook of lower or equal priority (a stable order)."""
    from torchrig.runner.priority import get_priority

    rank = get_priority(hook.priority)
    index = len(hooks)
    while index > 0 and get_priority(hooks[index - 1].priority) > rank:
        index -= 1
    hooks.insert(index, hook)


def _triggered_stages(hook: Hook) -> list[str]:
    stages = list(hook.get_triggered_stages())
    # A stage method set on the instance (a test's mock, a patched hook) counts too.
    patched = [stage for stage in hook.stages if stage in vars(hook) and stage not in stages]
    return stages + patched


def stage_callers(hooks: Sequence[Hook]) -> dict[str, tuple[Callable[..., Any], ...]]:
    """For each stage, the bound methods of the hooks that act at it, in priority order.

    Hooks that do nothing at a stage are left out, so a stage nobody uses costs nothing.
    """
    from torchrig.hooks import Hook

    callers: dict[str, list[Callable[..., Any]]] = {stage: [] for stage in Hook.stages}
    for hook in hooks:
        for stage in _triggered_stages(hook):
            callers.setdefault(stage, []).append(getattr(hook, stage))
    return {stage: tuple(methods) for stage, methods in callers.items()}


def hooks_info(hooks: Sequence[Hook]) -> str:
    """The readable listing of which hook runs at which stage, by priority."""
    from torchrig.hooks import Hook
    from torchrig.runner.priority import Priority, get_priority

    lines_by_stage: dict[str, list[str]] = {stage: [] for stage in Hook.stages}
    for hook in hooks:
        value = get_priority(hook.priority)
        try:
            priority = Priority(value).name
        except ValueError:
            priority = str(value)
        for stage in _triggered_stages(hook):
            lines_by_stage.setdefault(stage, []).append(
                f"({priority:<12}) {type(hook).__name__:<35}"
            )
    blocks = [
        f"{stage}:\n" + "\n".join(lines) + "\n -------------------- "
        for stage, lines in lines_by_stage.items()
        if lines
    ]
    return "\n".join(blocks)
