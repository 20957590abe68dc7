"""``MMFullyShardedDataParallel``: torch's FSDP2 (``fully_shard``) behind the loops' interface.

FSDP is selected from the config, on the same Runner as DDP::

    model_wrapper_cfg = dict(
        type='MMFullyShardedDataParallel',
        auto_wrap_policy=dict(type='module_classes', classes=['TransformerBlock']),
        mixed_precision=dict(param_dtype='bfloat16', reduce_dtype='float32'),
        state_dict_type='full',  # or 'sharded'
    )

The wrapper applies ``torch.distributed.fsdp.fully_shard`` in place, first to the submodules the
auto-wrap policy picks (deepest first), then to the root. Its parameters become ``DTensor``
shards, so the optimizer must be built after wrapping (the Runner does).

Checkpoints: :meth:`state_dict` / :meth:`load_state_dict` give and take FULL state dicts (plain
CPU tensors, the keys of the bare model), so a checkpoint loads into an unwrapped model, and an
ordinary checkpoint loads into an FSDP model. :meth:`optim_state_dict` /
:meth:`load_optim_state_dict` do the same for the optimizer (keyed by parameter names). With
``state_dict_type='sharded'``, :meth:`save_sharded_checkpoint` / :meth:`load_sharded_checkpoint`
write and read a ``torch.distributed.checkpoint`` directory, each rank its own shards;
:func:`sharded_to_full_checkpoint` turns such a directory into an ordinary checkpoint file.

Gathering and scattering state dicts are collectives: every rank must call them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys

from torchrig.registry import MODEL_WRAPPERS

__all__ = ["MMFullyShardedDataParallel", "sharded_to_full_checkpoint"]

_STATE_DICT_TYPES = ("full", "sharded")
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
}

WrapPolicy = Callable[[nn.Module], bool]


def _dtype(value: str | torch.dtype | None, key: str) -> torch.dtype | None:
    if value is None or isinstance(value, torch.dtype):
        return value
    name = str(value).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(
            f"mixed_precision.{key}: unknown dtype {value!r}; use one of {sorted(_DTYPES)}"
        )
    return _DTYPES[name]


def _mixed_precision_policy(mixed_precision: dict | Any | None) -> Any:
    """A ``MixedPrecisionPolicy`` from a config dict (dtype names allowed) or as given."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if mixed_precision is None:
        return MixedPrecisionPolicy()
    if isinstance(mixed_precision, MixedPrecisionPolicy):
        return mixed_precision
    if not isinstance(mixed_precision, dict):
        raise TypeError(
            "mixed_precision must be a dict such as dict(param_dtype='bfloat16', "
            f"reduce_dtype='float32') or a MixedPrecisionPolicy, got {mixed_precision!r}"
        )
    known = ("param_dtype", "reduce_dtype", "output_dtype", "cast_forward_inputs")
    unknown = sorted(set(mixed_precision) - set(known))
    if unknown:
        raise ValueError(f"mixed_precision: unknown keys {unknown}; use {list(known)}")
    kwargs: dict[str, Any] = {
        key: _dtype(mixed_precision.get(key), key)
        for key in known[:3]
        if mixed_precision.get(key) is not None
    }
    if "cast_forward_inputs" in mixed_precision:
        kwargs["cast_forward_inputs"] = bool(mixed_precision["cast_forward_inputs"])
    return MixedPrecisionPolicy(**kwargs)


def _class_matcher(classes: Iterable[type | str]) -> WrapPolicy:
    wanted = tuple(classes)
    types = tuple(c for c in wanted if isinstance(c, type))
    names = {c for c in wanted if isinstance(c, str)}
    return lambda module: isinstance(module, types) or type(module).__name__ in names


def _size_matcher(min_num_params: int) -> WrapPolicy:
    # Parameters already sharded by a deeper module are not counted again.
    def policy(module: nn.Module) -> bool:
        from torch.distributed.fsdp import FSDPModule

        count = 0
        stack = [module]
        while stack:
            current = stack.pop()
            count += sum(p.numel() for p in current.parameters(recurse=False))
            stack.extend(c for c in current.children() if not isinstance(c, FSDPModule))
        return count >= min_num_params

    return policy


def _wrap_policy(auto_wrap_policy: Any) -> WrapPolicy | None:
    """Normalise ``auto_wrap_policy`` into ``module -> bool`` (None shards the root only).

    Accepted: None; a callable ``module -> bool``; a module class, a class name or a list of
    them; ``dict(type='module_classes', classes=[...])``; ``dict(type='size_based',
    min_num_params=N)``.
    """
    if auto_wrap_policy is None:
        return None
    if isinstance(auto_wrap_policy, (type, str)):
        return _class_matcher([auto_wrap_policy])
    if isinstance(auto_wrap_policy, (list, tuple, set)):
        return _class_matcher(auto_wrap_policy)
    if isinstance(auto_wrap_policy, dict):
        cfg = dict(auto_wrap_policy)
        kind = cfg.pop("type", None)
        if kind == "module_classes" and set(cfg) == {"classes"}:
            return _class_matcher(cfg["classes"])
        if kind == "size_based" and set(cfg) == {"min_num_params"}:
            return _size_matcher(int(cfg["min_num_params"]))
        raise ValueError(
            f"auto_wrap_policy {auto_wrap_policy!r} is not understood; use "
            "dict(type='module_classes', classes=[...]) or dict(type='size_based', "
            "min_num_params=N), a list of module classes or names, or a callable module -> bool"
        )
    if callable(auto_wrap_policy):
        return auto_wrap_policy  # type: ignore[no-any-return]
    raise TypeError(
        f"auto_wrap_policy must be a dict, list, class, name or callable, got {auto_wrap_policy!r}"
    )


def _broadcast_from_rank0(module: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (FSDP2 does not sync them itself)."""
    from torchrig.dist import broadcast, get_world_size

    if get_world_size() == 1:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            broadcast(tensor.data)


def _optimizers(optim_wrapper: Any) -> dict[str, Any]:
    """``{name: wrapper or optimizer}``: one entry ``''`` unless it is an ``OptimWrapperDict``."""
    wrappers = getattr(optim_wrapper, "optim_wrappers", None)
    if isinstance(wrappers, dict):
        return dict(wrappers)
    return {"": optim_wrapper}


@MODEL_WRAPPERS.register_module()
class MMFullyShardedDataParallel(nn.Module):
    """Shards a ``BaseModel`` with FSDP2 and runs its steps so gradients are reduce-scattered.

    Args:
        module: The model (on its device; the Runner moves it there before wrapping).
        auto_wrap_policy: Which submodules get their own ``fully_shard`` (each is one unit of
            all-gather/free): None for the root only; a list of module classes or class names;
            ``dict(type='module_classes', classes=[...])``; ``dict(type='size_based',
            min_num_params=N)``; or a callable ``module -> bool``. The model's
            ``data_preprocessor`` is never wrapped.
        mixed_precision: ``dict(param_dtype='bfloat16', reduce_dtype='float32',
            output_dtype=None, cast_forward_inputs=True)`` or a ``MixedPrecisionPolicy``.
        reshard_after_forward: Free gathered parameters after forward (ZeRO-3, default) or keep
            them until backward (ZeRO-2: more memory, less communication).
        cpu_offload: Keep shards, gradients and optimizer state on the CPU.
        state_dict_type: ``'full'``: checkpoints hold the whole model (written by rank 0) and
            load into unwrapped models; ``'sharded'``: each rank writes its shards into a
            ``torch.distributed.checkpoint`` directory (for models too large to gather).
        sync_module_states: Broadcast rank 0's weights before sharding, so every rank starts
            from the same model whatever its random seed. The model's ``init_weights()`` (when
            it has one and it was not called yet) runs before that, on the unsharded model.
        **kwargs: Passed on to ``fully_shard`` (``mesh``, ``shard_placement_fn``, ...).
    """

    # Checkpoint code asks the wrapper for state dicts instead of the (sharded) bare model.
    shards_parameters = True

    def __init__(
        self,
        module: nn.Module,
        auto_wrap_policy: Any = None,
        mixed_precision: dict | Any | None = None,
        reshard_after_forward: bool | int = True,
        cpu_offload: bool = False,
        state_dict_type: str = "full",
        sync_module_states: bool = True,
        **kwargs: Any,
    ) -> None:
        from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard

        super().__init__()
        if state_dict_type not in _STATE_DICT_TYPES:
            raise ValueError(
                f"state_dict_type must be one of {_STATE_DICT_TYPES}, got {state_dict_type!r}"
            )
        self.state_dict_type = state_dict_type
        # Initialise before sharding, so the result equals a single process's initialisation
        # (the Runner does not initialise a sharded model again).
        init_weights = getattr(module, "init_weights", None)
        if callable(init_weights) and not getattr(module, "is_init", False):
            init_weights()
        if sync_module_states:
            _broadcast_from_rank0(module)
        shard_kwargs: dict[str, Any] = dict(
            mp_policy=_mixed_precision_policy(mixed_precision),
            reshard_after_forward=reshard_after_forward,
            **kwargs,
        )
        if cpu_offload:
            shard_kwargs["offload_policy"] = CPUOffloadPolicy()
        policy = _wrap_policy(auto_wrap_policy)
        if policy is not None:
            preprocessor = getattr(module, "data_preprocessor", None)
            skipped = set(preprocessor.modules()) if isinstance(preprocessor, nn.Module) else set()
            # Reversed pre-order: every submodule is sharded before the modules containing it.
            for name, submodule in reversed(list(module.named_modules())):
                if name and submodule not in skipped and policy(submodule):
                    fully_shard(submodule, **shard_kwargs)
        fully_shard(module, **shard_kwargs)
        self.module = module

    # ------------------------------------------------------------------ steps
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The sharded model's forward."""
        return self.module(*args, **kwargs)

    def train_step(self, data: dict | tuple | list, optim_wrapper: Any) -> dict[str, Any]:
        """One training step: preprocess, forward through the sharded root, parse, update.

        Args:
            data: A batch from the dataloader.
            optim_wrapper: The ``OptimWrapper`` (built after wrapping) that updates the shards.

        Returns:
            The log variables of ``parse_losses``.
        """
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode="loss")
        parsed_loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        return log_vars

    def val_step(self, data: dict | tuple | list) -> Any:
        """Predictions for a batch (the forward all-gathers the shards)."""
        data = self.module.data_preprocessor(data, training=False)
        return self._run_forward(data, mode="predict")

    def test_step(self, data: dict | tuple | list) -> Any:
        """Predictions for a batch, as :meth:`val_step`."""
        data = self.module.data_preprocessor(data, training=False)
        return self._run_forward(data, mode="predict")

    def _run_forward(self, data: dict | tuple | list, mode: str) -> Any:
        if isinstance(data, dict):
            return self.module(**data, mode=mode)
        if isinstance(data, (list, tuple)):
            return self.module(*data, mode=mode)
        raise TypeError(
            "the data_preprocessor must return a dict, list or tuple, but returned a "
            f"{type(data).__name__}"
        )

    @contextmanager
    def no_sync(self) -> Generator[None, None, None]:
        """Accumulate gradients without reduce-scattering them (``OptimWrapper`` enters this on
        accumulation steps that do not update the weights)."""
        self.module.set_requires_gradient_sync(False)  # type: ignore[operator]
        try:
            yield
        finally:
            self.module.set_requires_gradient_sync(True)  # type: ignore[operator]

    # ------------------------------------------------------------------ model state
    def state_dict(  # type: ignore[override]
        self, *args: Any, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """The FULL state dict of the bare model on the CPU (a collective: call on every rank).

        Rank 0 gets every tensor; the other ranks get an empty dict (only rank 0 writes). The
        keys are the bare model's, so the result loads into an unwrapped model.
        """
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        if args or keep_vars:
            raise TypeError("MMFullyShardedDataParallel.state_dict takes no positional arguments")
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state = get_model_state_dict(self.module, options=options)
        result = destination if destination is not None else {}
        result.update({prefix + key: value for key, value in state.items()})
        return result

    def load_state_dict(  # type: ignore[override]
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Loads a FULL state dict (as an unwrapped model's) into the shards.

        Every rank passes the whole state dict (each reads the checkpoint) and keeps its
        shards of it. A collective: call on every rank.

        Returns:
            ``missing_keys`` and ``unexpected_keys``, as ``nn.Module.load_state_dict``.
        """
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        if assign:
            raise ValueError("MMFullyShardedDataParallel.load_state_dict does not support assign")
        # torch keeps the current value of a key the state dict lacks without reporting it.
        missing = [key for key in self.module.state_dict() if key not in state_dict]
        if strict and missing:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self.module).__name__}: missing "
                f"key(s) in state_dict: {', '.join(missing)}"
            )
        options = StateDictOptions(full_state_dict=True, strict=strict)
        result = set_model_state_dict(self.module, dict(state_dict), options=options)
        missing += [key for key in result.missing_keys if key not in missing]
        return _IncompatibleKeys(missing, list(result.unexpected_keys))

    def sharded_state_dict(self) -> dict[str, Any]:
        """This rank's shards, as ``DTensor`` values (for ``torch.distributed.checkpoint``)."""
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(self.module)

    # ------------------------------------------------------------------ optimizer state
    def optim_state_dict(self, optim_wrapper: Any) -> dict[str, Any]:
        """The FULL optimizer state, keyed by parameter names, on the CPU (collective).

        Accepts an ``OptimWrapper`` (an ``AmpOptimWrapper``'s loss scaler is kept), an
        ``OptimWrapperDict`` (one entry per name, as its ``state_dict``) or a torch optimizer.
        Rank 0 gets the state; the other ranks' tensors are left out.
        """
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        states: dict[str, Any] = {}
        for name, wrapper in _optimizers(optim_wrapper).items():
            optimizer = getattr(wrapper, "optimizer", wrapper)
            state = dict(get_optimizer_state_dict(self.module, optimizer, options=options))
            scaler = getattr(wrapper, "loss_scaler", None)
            if scaler is not None:
                state["loss_scaler"] = scaler.state_dict()
            states[name] = state
        return states[""] if set(states) == {""} else states

    def load_optim_state_dict(self, optim_wrapper: Any, state: dict[str, Any]) -> None:
        """Loads :meth:`optim_state_dict`'s result (collective: every rank passes it whole)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        optimizers = _optimizers(optim_wrapper)
        states = {"": state} if set(optimizers) == {""} else state
        options = StateDictOptions(full_state_dict=True)
        for name, wrapper in optimizers.items():
            if name not in states:
                raise KeyError(
                    f"the optimizer state has no entry {name!r} (it has {sorted(states)})"
                )
            own = dict(states[name])
            scaler_state = own.pop("loss_scaler", None)
            scaler = getattr(wrapper, "loss_scaler", None)
            if scaler_state is not None and scaler is not None:
                scaler.load_state_dict(scaler_state)
            optimizer = getattr(wrapper, "optimizer", wrapper)
            set_optimizer_state_dict(self.module, optimizer, own, options=options)

    # ------------------------------------------------------------------ sharded checkpoints
    def save_sharded_checkpoint(self, directory: str, optim_wrapper: Any = None) -> None:
        """Every rank writes its shards (model, and optimizer if given) into ``directory``.

        Args:
            directory: A ``torch.distributed.checkpoint`` directory (created if missing).
            optim_wrapper: The optim wrapper whose state is saved too, or None.
        """
        import torch.distributed.checkpoint as dcp

        state = {"state_dict": self.sharded_state_dict()}
        if optim_wrapper is not None:
            state.update(self._sharded_optim_states(optim_wrapper))
        dcp.save(state, checkpoint_id=directory)

    def load_sharded_checkpoint(
        self, directory: str, optim_wrapper: Any = None, strict: bool = True
    ) -> None:
        """Reads this rank's shards back from :meth:`save_sharded_checkpoint`'s directory.

        Args:
            directory: The ``torch.distributed.checkpoint`` directory.
            optim_wrapper: Also restore this optim wrapper's state, or None for weights only.
            strict: Raise when the model's keys and the checkpoint's differ.
        """
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        if not os.path.isdir(directory):
            raise FileNotFoundError(f"sharded checkpoint directory {directory!r} does not exist")
        state = {"state_dict": self.sharded_state_dict()}
        optim_states = {} if optim_wrapper is None else self._sharded_optim_states(optim_wrapper)
        state.update(optim_states)
        dcp.load(state, checkpoint_id=directory)
        set_model_state_dict(
            self.module, state["state_dict"], options=StateDictOptions(strict=strict)
        )
        if optim_wrapper is None:
            return
        for name, wrapper in _optimizers(optim_wrapper).items():
            optimizer = getattr(wrapper, "optimizer", wrapper)
            key = f"optimizer.{name}" if name else "optimizer"
            set_optimizer_state_dict(self.module, optimizer, state[key])

    def _sharded_optim_states(self, optim_wrapper: Any) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        states = {}
        for name, wrapper in _optimizers(optim_wrapper).items():
            optimizer = getattr(wrapper, "optimizer", wrapper)
            key = f"optimizer.{name}" if name else "optimizer"
            states[key] = get_optimizer_state_dict(self.module, optimizer)
        return states


def sharded_to_full_checkpoint(directory: str, filename: str) -> None:
    """Converts a sharded checkpoint directory into an ordinary checkpoint file (one process).

    The file holds ``{'state_dict': weights, 'optimizer': state}`` (the optimizer keyed by
    parameter names) and loads with ``load_checkpoint`` / ``load_from`` into an unwrapped model.

    Args:
        directory: What :meth:`MMFullyShardedDataParallel.save_sharded_checkpoint` wrote.
        filename: The file to write (atomically).
    """
    import tempfile

    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from torchrig.runner.checkpoint import save_checkpoint

    if not os.path.isdir(directory):
        raise FileNotFoundError(f"sharded checkpoint directory {directory!r} does not exist")
    with tempfile.TemporaryDirectory() as scratch:
        gathered = os.path.join(scratch, "full.pth")
        dcp_to_torch_save(directory, gathered)
        state = torch.load(gathered, map_location="cpu", weights_only=True)
    save_checkpoint(state, filename)
