"""The small abstract base every tracking backend implements, and the do-nothing backend."""

from __future__ import annotations

import functools
import importlib
import threading
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["BaseVisBackend", "NullVisBackend", "force_init_env", "import_tracker"]

_F = TypeVar("_F", bound=Callable[..., Any])


def import_tracker(module: str, extra: str, backend: str) -> Any:
    """Import a tracker library when a backend first needs it.

    Args:
        module: The module to import (``'wandb'``, ``'mlflow'``, ...).
        extra: The torchrig extra that installs it (``pip install torchrig[extra]``).
        backend: The backend asking, named in the error.

    Raises:
        ImportError: The library is missing; the message says how to install it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{backend} needs the '{module.split('.')[0]}' package, which is not installed: "
            f"run `pip install torchrig[{extra}]` (or `pip install {extra}`), or remove "
            f"{backend} from the visualizer's vis_backends"
        ) from err


def force_init_env(method: _F) -> _F:
    """Decorate a backend method so that the backend's environment is set up first.

    Backends start their tracker (import the library, open the run) on first use, not when
    they are built, so that building a config's visualizer costs nothing.
    """

    @functools.wraps(method)
    def wrapper(self: BaseVisBackend, *args: Any, **kwargs: Any) -> Any:
        self._ensure_env()
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class BaseVisBackend(metaclass=ABCMeta):
    """A place that visualization data is sent to (files, W&B, TensorBoard, MLflow).

    Subclasses implement :meth:`_init_env` (called once, on first use) and the ``add_*``
    methods they support; the rest do nothing. A backend is used from one thread at a time:
    the :class:`~torchrig.visualization.Visualizer` feeds it from its own writer thread, or,
    for a backend whose class sets ``threaded = False`` (its tracker's own calls already hand
    the data to a background process), from the thread that logs.

    Args:
        save_dir: Where the backend writes its files.
    """

    #: Whether the Visualizer feeds this backend from a writer thread of its own.
    threaded = True

    def __init__(self, save_dir: str | None = None) -> None:
        self._save_dir = save_dir
        self._env_initialized = False
        self._env_lock = threading.RLock()

    def _ensure_env(self) -> None:
        if self._env_initialized:
            return
        with self._env_lock:
            if not self._env_initialized:
                self._init_env()
                self._env_initialized = True

    @property
    @abstractmethod
    def experiment(self) -> Any:
        """The tracker's own object (a wandb run, a SummaryWriter, ...), for direct use."""

    @abstractmethod
    def _init_env(self) -> None:
        """Set up the tracker: import the library, create directories, open the run."""

    def add_config(self, config: Any, **kwargs: Any) -> None:  # noqa: B027 - optional
        """Record the experiment's config (and, in ``kwargs['env']``, its environment).

        Args:
            config: A :class:`~torchrig.config.Config` or a dict.
            **kwargs: ``env``: a dict describing the environment (versions, git commit).
        """

    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:  # noqa: B027 - optional
        """Record the model's graph.

        Args:
            model: The model.
            data_batch: A batch of inputs the graph can be traced with.
            **kwargs: Backend-specific options.
        """

    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:  # noqa: B027 - optional
        """Record an image.

        Args:
            name: The image's name.
            image: An HWC uint8 RGB array.
            step: The global training iteration.
            **kwargs: Backend-specific options.
        """

    def add_scalar(self, name: str, value: int | float | Any, step: int = 0, **kwargs: Any) -> None:  # noqa: B027 - optional
        """Record one scalar.

        Args:
            name: The scalar's key.
            value: The value (a number, numpy scalar or one-element tensor).
            step: The global training iteration.
            **kwargs: Backend-specific options.
        """

    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Record several scalars at one step: by default, :meth:`add_scalar` for each.

        Args:
            scalar_dict: Keys and values.
            step: The global training iteration.
            file_path: An extra JSON file to write them to (local backend only).
            **kwargs: Backend-specific options.
        """
        for key, value in scalar_dict.items():
            self.add_scalar(key, value, step)

    def after_batch(self) -> None:  # noqa: B027 - optional
        """Called by the visualizer's writer after each batch it took from the queue."""

    def flush(self) -> None:  # noqa: B027 - optional
        """Make everything sent so far durable (written to disk, or handed to the tracker)."""

    def close(self, exit_code: int = 0) -> None:  # noqa: B027 - optional
        """Finish the run and release the tracker.

        Args:
            exit_code: 0 for a run that ended normally; non-zero after an error.
        """

    def state_dict(self) -> dict:
        """What a resumed process needs to continue the same tracked run (plain values)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027 - optional
        """Continue the run described by ``state`` (call before the first ``add_*``).

        Args:
            state: What :meth:`state_dict` returned in the earlier process.
        """


class _DummyExperiment:
    """Accepts any attribute access or call and does nothing (non-zero ranks)."""

    def __getattr__(self, name: str) -> _DummyExperiment:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _DummyExperiment:
        return self

    def __getitem__(self, key: Any) -> _DummyExperiment:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class NullVisBackend(BaseVisBackend):
    """A backend that records nothing: what processes other than rank 0 get.

    Args:
        save_dir: Ignored.
        **kwargs: Ignored (the arguments of the backend it stands in for).
    """

    def __init__(self, save_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(save_dir)

    @property
    def experiment(self) -> Any:
        """An object that accepts every call and does nothing."""
        return _DummyExperiment()

    def _init_env(self) -> None:
        pass
