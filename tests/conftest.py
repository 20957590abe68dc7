"""Suite-wide guards: a test must not leak environment variables, signal handlers, process
groups, torchrig threads or global named instances into the tests after it."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

# Variables whose leak changes how later tests (or torchrig itself) behave.
_WATCHED_ENV = {
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "CUDA_VISIBLE_DEVICES",
    "WANDB_MODE",
    "WANDB_DIR",
    "WANDB_PROJECT",
    "WANDB_RUN_ID",
    "WANDB_RESUME",
    "MLFLOW_TRACKING_URI",
    "TORCHRIG_MMENGINE_ALIAS",
}


@pytest.fixture(autouse=True)
def _no_leaked_env():
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    leaked = sorted(key for key in _WATCHED_ENV if before.get(key) != after.get(key))
    os.environ.clear()
    os.environ.update(before)
    if leaked:
        pytest.fail(f"the test changed environment variables without restoring them: {leaked}")


# Handlers the graceful stop installs and restores; a tracker library a test starts (ClearML,
# W&B) may install its own and never restore them, which would change how later tests stop.
_WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    before = {signum: signal.getsignal(signum) for signum in _WATCHED_SIGNALS}
    yield
    for signum, handler in before.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)


@pytest.fixture(autouse=True)
def _no_leaked_process_group():
    yield
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        pytest.fail("the test left a torch.distributed process group initialised")


@pytest.fixture(autouse=True)
def _no_leaked_torchrig_threads():
    before = set(threading.enumerate())
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before and t.name.startswith("torchrig") and t.is_alive()
    ]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    if still:
        pytest.fail(f"the test left torchrig threads running: {still}")


@pytest.fixture(autouse=True)
def _restore_global_instances():
    from torchrig.utils.manager import ManagerMixin

    def classes(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from classes(sub)

    saved = {cls: dict(cls._instance_dict) for cls in classes(ManagerMixin)}
    yield
    for cls in classes(ManagerMixin):
        cls._instance_dict.clear()
        cls._instance_dict.update(saved.get(cls, {}))
