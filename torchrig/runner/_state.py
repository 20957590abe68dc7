"""What a Runner's checkpoint holds, and how a resume puts it back.

A checkpoint holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``:

==================  ==============================================================
key                 content
==================  ==============================================================
meta                epoch, iter, seed, experiment_name, time, torchrig version, cfg text
state_dict          the model's weights (on the CPU)
message_hub         the message hub's history and runtime info
optimizer           the optim wrapper's state (with the AMP loss scaler)
param_schedulers    a list of scheduler states (a dict of lists for several wrappers)
rng                 python, numpy, torch (and CUDA) random states
sampler             the train sampler's state (seed, epoch)
hook_states         ``{'<HookClass>:<n>': hook.state_dict()}`` for hooks that have one
visualizer          the visualizer's state (each tracker's run id)
==================  ==============================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchrig.runner.checkpoint import get_state_dict, weights_to_cpu
from torchrig.runner.utils import get_rng_state, set_rng_state

if TYPE_CHECKING:
    from torchrig.runner.runner import Runner

__all__ = ["build_checkpoint", "restore_training_state"]


def _plain(value: Any) -> Any:
    """``value`` with containers made of lists/dicts and numpy values made Python's."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def _hook_state_key(runner: Runner) -> list[tuple[str, Any]]:
    """Each hook that keeps state, under its ``'<Class>:<n>'`` key."""
    keyed: list[tuple[str, Any]] = []
    counts: dict[str, int] = {}
    for hook in runner.hooks:
        name = type(hook).__name__
        index = counts.get(name, 0)
        counts[name] = index + 1
        if callable(getattr(hook, "state_dict", None)):
            keyed.append((f"{name}:{index}", hook))
    return keyed


def _train_sampler(runner: Runner) -> Any:
    from torchrig.runner._build.dataloader import sampler_of

    loop = runner._train_loop
    return None if loop is None else sampler_of(loop.dataloader)


def _scheduler_states(runner: Runner) -> list | dict[str, list] | None:
    schedulers = runner.param_schedulers
    if schedulers is None:
        return None
    if isinstance(schedulers, dict):
        return {name: [s.state_dict() for s in group] for name, group in schedulers.items()}
    return [scheduler.state_dict() for scheduler in schedulers]


def build_checkpoint(
    runner: Runner,
    meta: dict | None,
    save_optimizer: bool,
    save_param_scheduler: bool,
    by_epoch: bool,
    save_model: bool = True,
) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain values (see the module docstring).

    Args:
        runner: The runner being saved.
        meta: Extra meta values (``epoch``/``iter`` given here win).
        save_optimizer: Include the optim wrapper's state.
        save_param_scheduler: Include the schedulers' states.
        by_epoch: The checkpoint is taken at the end of an epoch (``epoch`` counts it as
            completed) rather than after an iteration.
        save_model: Include the model's weights (False when they were saved as shards).
    """
    from torchrig.version import __version__

    meta = dict(meta or {})
    if by_epoch:
        meta.setdefault("epoch", runner.epoch + 1)
        meta.setdefault("iter", runner.iter)
    else:
        meta.setdefault("epoch", runner.epoch)
        meta.setdefault("iter", runner.iter + 1)
    meta.update(
        cfg=runner.cfg.pretty_text,
        seed=runner.seed,
        experiment_name=runner.experiment_name,
        time=time.strftime("%Y%m%d_%H%M%S", time.localtime()),
        torchrig_version=__version__,
    )
    loop = runner._train_loop
    metainfo = getattr(getattr(loop, "dataloader", None), "dataset", None)
    metainfo = getattr(metainfo, "metainfo", None)
    if metainfo is not None:
        meta["dataset_meta"] = _plain(metainfo)
    checkpoint: dict[str, Any] = {"meta": meta}
    if save_model:
        checkpoint["state_dict"] = weights_to_cpu(get_state_dict(runner.model))
    checkpoint["message_hub"] = runner.message_hub.state_dict()
    checkpoint["rng"] = get_rng_state()
    if save_optimizer and runner._optim_wrapper is not None:
        if getattr(runner.model, "shards_parameters", False):  # FSDP: gathered, keyed by name
            checkpoint["optimizer"] = runner.model.optim_state_dict(runner.optim_wrapper)
        else:
            checkpoint["optimizer"] = runner.optim_wrapper.state_dict()
    if save_param_scheduler and runner._param_scheduler_cfg is not None:
        checkpoint["param_schedulers"] = _scheduler_states(runner)
    sampler = _train_sampler(runner)
    if callable(getattr(sampler, "state_dict", None)):
        checkpoint["sampler"] = sampler.state_dict()
    checkpoint["hook_states"] = {key: hook.state_dict() for key, hook in _hook_state_key(runner)}
    checkpoint["visualizer"] = runner.visualizer.state_dict()
    return checkpoint


def _load_schedulers(runner: Runner, states: Any) -> None:
    schedulers = runner.param_schedulers
    if schedulers is None or states is None:
        return
    if isinstance(schedulers, dict):
        for name, group in schedulers.items():
            for scheduler, state in zip(group, states.get(name, []), strict=False):
                scheduler.load_state_dict(state)
        return
    for scheduler, state in zip(schedulers, states, strict=False):
        scheduler.load_state_dict(state)


def restore_training_state(
    runner: Runner,
    checkpoint: dict[str, Any],
    resume_optimizer: bool = True,
    resume_param_scheduler: bool = True,
) -> None:
    """Puts a checkpoint's training state back (the weights are loaded by the caller).

    The random states are restored last, so nothing built before draws from them.

    Args:
        runner: The runner to restore (its train loop, optim wrapper and schedulers are
            built here if they were not yet).
        checkpoint: A checkpoint from :func:`build_checkpoint`.
        resume_optimizer: Restore the optim wrapper (and AMP scaler).
        resume_param_scheduler: Restore the schedulers.
    """
    meta = checkpoint.get("meta", {})
    loop = runner.train_loop
    loop._epoch = int(meta.get("epoch", 0))
    loop._iter = int(meta.get("iter", 0))
    if "message_hub" in checkpoint:
        runner.message_hub.load_state_dict(checkpoint["message_hub"])
    if resume_optimizer and "optimizer" in checkpoint:
        if getattr(runner.model, "shards_parameters", False):
            runner.model.load_optim_state_dict(runner.optim_wrapper, checkpoint["optimizer"])
        else:
            runner.optim_wrapper.load_state_dict(checkpoint["optimizer"])
    if resume_param_scheduler:
        _load_schedulers(runner, checkpoint.get("param_schedulers"))
    sampler = _train_sampler(runner)
    if "sampler" in checkpoint and callable(getattr(sampler, "load_state_dict", None)):
        sampler.load_state_dict(checkpoint["sampler"])
    hook_states = checkpoint.get("hook_states", {})
    for key, hook in _hook_state_key(runner):
        if key in hook_states and callable(getattr(hook, "load_state_dict", None)):
            hook.load_state_dict(hook_states[key])
    if "rng" in checkpoint:
        set_rng_state(checkpoint["rng"])
