"""Visualizer: the façade that draws on images and sends data to the tracking backends."""

from __future__ import annotations

import os.path as osp
import time
from collections.abc import Sequence
from typing import Any

from torchrig.logging.logger import _rank_and_world
from torchrig.registry import VISBACKENDS, VISUALIZERS
from torchrig.utils import ManagerMixin
from torchrig.visualization._env import collect_env
from torchrig.visualization._values import snapshot, to_image
from torchrig.visualization._writer import BackendWorker, report
from torchrig.visualization.base_vis_backend import BaseVisBackend, NullVisBackend
from torchrig.visualization.drawing import ImageDrawer

__all__ = ["Visualizer"]


@VISUALIZERS.register_module()
class Visualizer(ManagerMixin, ImageDrawer):
    """Draws on images and sends scalars, images, configs and graphs to tracking backends.

    Every ``add_*`` call returns at once: each backend is fed through its own bounded queue by
    a background writer, so training never waits on a tracker, and a backend that raises is
    reported once and disabled while the others go on. :meth:`flush` blocks until everything
    sent so far is written durably (call it before a checkpoint); :meth:`close` flushes and
    finishes the runs. Only rank 0 sends anything: other ranks get do-nothing backends.

    Args:
        name: The instance's name (see :meth:`get_instance`).
        image: An image to start drawing on.
        vis_backends: Backend configs (``dict(type='WandbVisBackend', ...)``, one or a list)
            or backend objects; a config without ``save_dir`` gets ``<save_dir>/vis_data``.
            None sends nothing.
        save_dir: The visualizer's directory; backends write under ``<save_dir>/vis_data``.
        fig_save_cfg: Keyword arguments of the figure drawn into.
        fig_show_cfg: Keyword arguments of the figure :meth:`show` opens.
        flush_timeout: Seconds :meth:`flush` (called before each checkpoint) waits at most
            for the backends' queues; a tracker that does not answer in time does not hold
            training up: its queue is sent on when it answers, and the local backend keeps
            every value.
        close_timeout: Seconds :meth:`close` waits at most for each backend to finish.
    """

    def __init__(
        self,
        name: str = "visualizer",
        image: Any = None,
        vis_backends: dict | BaseVisBackend | Sequence[dict | BaseVisBackend] | None = None,
        save_dir: str | None = None,
        fig_save_cfg: dict | None = None,
        fig_show_cfg: dict | None = None,
        flush_timeout: float = 5.0,
        close_timeout: float = 60.0,
    ) -> None:
        ManagerMixin.__init__(self, name)
        ImageDrawer.__init__(
            self,
            fig_save_cfg if fig_save_cfg is not None else {"frameon": False},
            fig_show_cfg if fig_show_cfg is not None else {"frameon": False},
        )
        self._dataset_meta: dict | None = None
        self._save_dir = save_dir
        self.flush_timeout = flush_timeout
        self.close_timeout = close_timeout
        self._vis_backends: dict[str, BaseVisBackend] = self._build_backends(vis_backends, save_dir)
        self._workers = {
            name: BackendWorker(name, backend)
            for name, backend in self._vis_backends.items()
            if not isinstance(backend, NullVisBackend)
        }
        if image is not None:
            self.set_image(image)

    @staticmethod
    def _build_backends(vis_backends: Any, save_dir: str | None) -> dict[str, BaseVisBackend]:
        if vis_backends is None:
            return {}
        if isinstance(vis_backends, (dict, BaseVisBackend)):
            vis_backends = [vis_backends]
        specs = [b if isinstance(b, BaseVisBackend) else dict(b) for b in vis_backends]
        names = [_backend_name(spec) for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(
                f"Visualizer: two vis_backends share a name ({names}); give each a distinct "
                "`name` key, e.g. dict(type='WandbVisBackend', name='wandb_2', ...)"
            )
        backend_dir = osp.join(save_dir, "vis_data") if save_dir is not None else None
        # Before the process group exists (a Visualizer made first thing in a script started
        # by torchrun), torchrun's RANK says which process this is.
        rank = _rank_and_world()[0]
        backends: dict[str, BaseVisBackend] = {}
        for name, spec in zip(names, specs):
            if rank != 0:
                backends[name] = NullVisBackend()
                continue
            if isinstance(spec, BaseVisBackend):
                backends[name] = spec
                continue
            spec.pop("name", None)
            if spec.get("save_dir") is None:
                if backend_dir is None:
                    report(
                        f"Visualizer: vis_backend {name!r} has no save_dir and the visualizer "
                        "has none either; it is not built (pass save_dir=...)"
                    )
                    continue
                spec["save_dir"] = backend_dir
            backends[name] = VISBACKENDS.build(spec)
        return backends

    # -- dataset meta, backends ------------------------------------------------------------
    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the dataset (class names, palette, ...)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta

    def get_backend(self, name: str) -> BaseVisBackend | None:
        """The backend called ``name`` (its ``name`` key, else its type name), or None."""
        return self._vis_backends.get(name)

    # -- sending ---------------------------------------------------------------------------
    def _send(self, method: str, *args: Any, **kwargs: Any) -> None:
        for worker in self._workers.values():
            worker.submit(method, *args, **kwargs)

    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Record the full config and the environment (versions, git commit) in every backend.

        Args:
            config: A :class:`~torchrig.config.Config` (or a dict); objects in it are described
                by type and simple attributes where a tracker needs plain values.
            **kwargs: Passed to the backends.
        """
        if not self._workers:
            return
        kwargs.setdefault("env", collect_env())
        self._send("add_config", config, **kwargs)

    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
        """Record the model's graph (TensorBoard) or watch it (W&B with ``watch_kwargs``)."""
        self._send("add_graph", model, data_batch, **kwargs)

    def add_image(self, name: str, image: Any, step: int = 0) -> None:
        """Record an image (HWC uint8 RGB) at ``step``."""
        if self._workers:
            self._send("add_image", name, to_image(image), step=step)

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Record one scalar at ``step`` (the global training iteration)."""
        if self._workers:
            self._send("add_scalar", name, snapshot(value), step=step, **kwargs)

    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Record several scalars at ``step`` (the global training iteration).

        Args:
            scalar_dict: Keys and values (numbers, numpy scalars or one-element tensors; a
                tensor is read on the writer thread, so logging never syncs a device).
            step: The global training iteration.
            file_path: An extra JSON file for the local backend.
            **kwargs: Passed to the backends.
        """
        workers = self._workers
        if workers:
            kwargs.update(step=step, file_path=file_path)
            item = ("add_scalars", (snapshot(scalar_dict),), kwargs)
            for worker in workers.values():
                worker.put(item)

    def add_datasample(
        self,
        name: str,
        image: Any,
        data_sample: Any = None,
        draw_gt: bool = True,
        draw_pred: bool = True,
        show: bool = False,
        wait_time: int = 0,
        step: int = 0,
    ) -> None:
        """Draw a data sample's annotations and predictions; downstream visualizers implement it."""

    def log_checkpoint(
        self, path: str, aliases: Sequence[str] = ("latest",), metadata: dict | None = None
    ) -> None:
        """Upload a checkpoint to the backends that keep them (W&B with ``log_checkpoint=True``).

        Args:
            path: The checkpoint file (it must stay in place until :meth:`flush` returns).
            aliases: E.g. ``('latest',)``, or ``('latest', 'best')`` for a new best.
            metadata: Stored with the checkpoint (step, metric values).
        """
        for worker in self._workers.values():
            if hasattr(worker.backend, "log_checkpoint"):
                worker.submit("log_checkpoint", path, tuple(aliases), metadata)

    # -- durability, resume, end -----------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queue is drained and what was sent is durable, for at most
        ``timeout`` seconds (``flush_timeout`` when None) for the backends together.

        Returns:
            True when every working backend is flushed; False when one failed or is still
            sending (it goes on in the background).
        """
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        done = [
            worker.flush(max(0.0, deadline - time.monotonic())) for worker in self._workers.values()
        ]
        return all(done)

    def state_dict(self) -> dict:
        """Each backend's run id and bookkeeping, to store in a checkpoint (plain values)."""
        states = {}
        for name, backend in self._vis_backends.items():
            try:
                states[name] = backend.state_dict()
            except Exception as err:  # noqa: BLE001 - a checkpoint must not fail for a tracker
                report(f"Visualizer: state_dict of backend {name!r} failed ({err!r}); not saved")
                states[name] = {}
        return {"backends": states}

    def load_state_dict(self, state: dict) -> None:
        """Continue the tracked runs of ``state`` (call before the first ``add_*``).

        Args:
            state: What :meth:`state_dict` returned, from the checkpoint being resumed.
        """
        for name, backend_state in (state or {}).get("backends", {}).items():
            backend = self._vis_backends.get(name)
            if backend is not None and backend_state:
                backend.load_state_dict(backend_state)

    def pause(self) -> None:
        """Send everything queued and stop the writer threads, leaving the tracked runs
        open: a later ``add_*`` (``runner.test()`` after ``runner.train()``) continues the
        same runs. They are finished by :meth:`close`, or when the process exits."""
        fresh = {}
        for name, worker in self._workers.items():
            worker.stop(timeout=self.close_timeout)
            fresh[name] = BackendWorker(name, worker.backend)
            fresh[name].error = worker.error
            if worker.backend._env_initialized:
                fresh[name].close_at_exit()
        self._workers = fresh

    def close(self, exit_code: int = 0) -> None:
        """Flush every queue, finish every run (W&B records ``exit_code``), stop the writers.

        The visualizer stays usable: a later ``add_*`` continues the same runs (W&B resumes the
        run id). To keep the runs open between a Runner's ``train()`` and ``test()``, the
        LoggerHook calls :meth:`pause` instead.

        Args:
            exit_code: 0 after a normal end; non-zero after an exception.
        """
        states = self.state_dict()
        for worker in self._workers.values():
            worker.close(exit_code, timeout=self.close_timeout)
        fresh = {}
        for name, old in self._workers.items():
            backend = old.backend
            if backend._env_initialized:
                backend._env_initialized = False
                backend.load_state_dict(states["backends"].get(name, {}))
            fresh[name] = BackendWorker(name, backend)
            fresh[name].error = old.error
        self._workers = fresh


def _backend_name(spec: dict | BaseVisBackend) -> str:
    if isinstance(spec, BaseVisBackend):
        return type(spec).__name__
    if "name" in spec:
        return str(spec["name"])
    kind = spec.get("type")
    if kind is None:
        raise KeyError(f"Visualizer: vis_backend config {spec} has no 'type' key")
    return kind if isinstance(kind, str) else kind.__name__
