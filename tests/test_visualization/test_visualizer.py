"""The Visualizer façade: building backends, the background writers, failure isolation,
ranks, and the seed's first example against real W&B (offline)."""

from __future__ import annotations

import sys
import threading
import types
import warnings

import numpy as np
import pytest

from tests.test_visualization._readers import (
    read_finished_wandb_run,
    read_local_scalars,
    wandb_run_files,
)
from torchrig.registry import VISBACKENDS
from torchrig.visualization import (
    BaseVisBackend,
    LocalVisBackend,
    NullVisBackend,
    Visualizer,
    WandbVisBackend,
)


class _GatedBackend(BaseVisBackend):
    """Records calls, but only once ``gate`` is set: a tracker that is slow or stuck."""

    def __init__(self, save_dir=None, gate=None):
        super().__init__(save_dir)
        self.gate = gate or threading.Event()
        self.rows = []

    @property
    def experiment(self):
        return self

    def _init_env(self):
        pass

    def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs):
        self.gate.wait()
        self.rows.append((step, dict(scalar_dict)))


def test_seed_example_get_instance_writes_readable_offline_run(wandb_offline):
    save_dir = str(wandb_offline / "runs" / "wandb")
    visualizer = Visualizer.get_instance(
        name="wandb_visualizer",
        vis_backends=[dict(type="WandbVisBackend", init_kwargs=dict(project="mmengine"))],
        save_dir=save_dir,
    )
    assert Visualizer.get_current_instance() is visualizer
    assert isinstance(visualizer.get_backend("WandbVisBackend"), WandbVisBackend)
    visualizer.add_config({"model": {"type": "MLP", "hidden": 128}, "optim": {"lr": 0.1}})
    for it in range(1, 21):
        visualizer.add_scalars({"loss": 1.0 / it, "lr": 0.1, "epoch": 0, "iter": it}, step=it)
        if it % 10 == 0:  # validation at the iteration where it ran: same step, same row
            visualizer.add_scalars({"accuracy": it / 20, "epoch": 1, "iter": it}, step=it)
    visualizer.add_image("sample", np.full((6, 4, 3), 200, np.uint8), step=20)
    visualizer.close()

    (run_file,) = wandb_run_files(save_dir + "/vis_data")
    run = read_finished_wandb_run(run_file)
    assert [row["iter"] for row in run.history if "loss" in row] == list(range(1, 21))
    # Validation at the iteration where it ran: the same x-axis value.
    assert [(row["iter"], row["accuracy"]) for row in run.history if "accuracy" in row] == [
        (10, 0.5),
        (20, 1.0),
    ]
    assert run.history[-1]["sample/_type"] == "image-file" and run.history[-1]["iter"] == 20
    assert run.config["model"] == {"type": "MLP", "hidden": 128}
    assert run.config["environment"]["python"] == sys.version.split()[0]
    assert run.summary["accuracy"]["max"] == 1.0
    assert run.summary["loss"]["min"] == pytest.approx(0.05)
    assert any(path.startswith("media/images/sample") for path in run.files)
    assert run.exit_code == 0


def test_without_backends_nothing_is_sent_and_no_thread_starts(tmp_path):
    visualizer = Visualizer(name="quiet")
    before = threading.active_count()
    visualizer.add_scalars({"loss": 1.0}, step=1)
    visualizer.add_config({"a": 1})
    assert visualizer.flush()
    assert threading.active_count() == before
    assert visualizer.state_dict() == {"backends": {}}
    visualizer.close()
    assert list(tmp_path.iterdir()) == []


def test_dict_backends_get_the_visualizers_save_dir_and_names(tmp_path):
    visualizer = Visualizer(
        vis_backends=[
            dict(type="LocalVisBackend"),
            dict(type="LocalVisBackend", name="second", save_dir=str(tmp_path / "own")),
        ],
        save_dir=str(tmp_path),
    )
    assert visualizer.get_backend("LocalVisBackend")._save_dir == str(tmp_path / "vis_data")
    assert visualizer.get_backend("second")._save_dir == str(tmp_path / "own")
    with pytest.raises(ValueError, match="share a name"):
        Visualizer(vis_backends=[dict(type="LocalVisBackend")] * 2, save_dir=str(tmp_path))


def test_add_calls_do_not_wait_for_a_stuck_backend(tmp_path):
    gated = _GatedBackend()
    visualizer = Visualizer(
        vis_backends=[gated, dict(type="LocalVisBackend")], save_dir=str(tmp_path)
    )
    for it in range(1, 101):
        visualizer.add_scalars({"loss": float(it)}, step=it)  # returns although nothing is written
    assert gated.rows == []
    gated.gate.set()
    assert visualizer.flush()
    assert [step for step, _ in gated.rows] == list(range(1, 101))
    visualizer.close()


def test_values_are_taken_at_call_time(tmp_path):
    torch = pytest.importorskip("torch")
    gated = _GatedBackend()
    visualizer = Visualizer(vis_backends=[gated], save_dir=str(tmp_path))
    loss = torch.tensor(1.0)
    visualizer.add_scalars({"loss": loss}, step=1)
    loss2 = torch.tensor(2.0)
    visualizer.add_scalars({"loss": loss2}, step=2)
    gated.gate.set()
    visualizer.flush()
    assert [float(row["loss"]) for _, row in gated.rows] == [1.0, 2.0]
    visualizer.close()


def _raising_wandb() -> types.ModuleType:
    module = types.ModuleType("wandb")

    def fail(*args, **kwargs):
        raise ConnectionError("wandb is down")

    module.__getattr__ = lambda name: fail  # type: ignore[method-assign]
    module.run = None  # no run of the user's to join
    return module


def test_a_failing_tracker_is_reported_once_and_training_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", _raising_wandb())
    visualizer = Visualizer(
        vis_backends=[dict(type="WandbVisBackend"), dict(type="LocalVisBackend")],
        save_dir=str(tmp_path),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        visualizer.add_config({"a": 1})
        for it in range(1, 201):
            visualizer.add_scalars({"loss": 1.0 / it, "iter": it}, step=it)
            if it % 50 == 0:
                assert visualizer.flush() is False  # W&B failed; the local backend is flushed
        visualizer.close(exit_code=0)
    messages = [str(w.message) for w in caught if "failed in" in str(w.message)]
    assert len(messages) == 1
    assert "'WandbVisBackend'" in messages[0] and "wandb is down" in messages[0]
    rows = read_local_scalars(str(tmp_path / "vis_data" / "scalars.json"))
    assert [row["step"] for row in rows] == list(range(1, 201))


def test_other_ranks_get_do_nothing_backends(tmp_path, monkeypatch):
    # Before the process group exists, torchrun's RANK says which process this is.
    monkeypatch.setenv("RANK", "1")
    visualizer = Visualizer(
        vis_backends=[dict(type="LocalVisBackend"), dict(type="WandbVisBackend")],
        save_dir=str(tmp_path),
    )
    backend = visualizer.get_backend("WandbVisBackend")
    assert isinstance(backend, NullVisBackend)
    backend.experiment.log({"a": 1})  # accepted, does nothing
    visualizer.add_scalars({"loss": 1.0}, step=1)
    visualizer.close()
    assert not (tmp_path / "vis_data").exists()


def test_registered_in_the_registries():
    assert VISBACKENDS.get("LocalVisBackend") is LocalVisBackend
    built = VISBACKENDS.build(dict(type="LocalVisBackend", save_dir="x"))
    assert isinstance(built, LocalVisBackend)


def test_backend_subclasses_are_called_through_their_own_methods(wandb_offline):
    tmp_path = wandb_offline
    # As MMEngine backends do: a subclass overrides add_scalars, add_scalar, add_image or
    # add_config (and need not call the parent's).
    calls = []

    class Mine(LocalVisBackend):
        def add_config(self, config, **kwargs):
            calls.append(("config", dict(config)))

        def add_scalar(self, name, value, step=0, **kwargs):
            calls.append(("scalar", name, step))

        def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs):
            calls.append(("scalars", dict(scalar_dict), step))
            super().add_scalars(scalar_dict, step=step, file_path=file_path, **kwargs)

        def add_image(self, name, image, step=0, **kwargs):
            calls.append(("image", name, image.shape, step))

    class MyWandb(WandbVisBackend):  # called on the logging thread: the same rule holds
        def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs):
            calls.append(("wandb", step))

    visualizer = Visualizer(
        vis_backends=[Mine(str(tmp_path / "mine")), MyWandb(str(tmp_path / "w"))],
        save_dir=str(tmp_path),
    )
    visualizer.add_scalars({"loss": 1.0}, step=1)
    visualizer.add_scalars({"loss": 0.5}, step=2)
    visualizer.add_scalar("lr", 0.1, step=2)
    visualizer.add_image("x", np.zeros((2, 3, 3), np.uint8), step=2)
    visualizer.add_config({"a": 1})
    visualizer.close()
    mine = [call for call in calls if call[0] != "wandb"]
    assert mine[:4] == [
        ("scalars", {"loss": 1.0}, 1),
        ("scalars", {"loss": 0.5}, 2),
        ("scalar", "lr", 2),
        ("image", "x", (2, 3, 3), 2),
    ]
    assert mine[4][0] == "config" and mine[4][1] == {"a": 1}
    # (W&B's add_scalar goes through add_scalars)
    assert [call for call in calls if call[0] == "wandb"] == [("wandb", s) for s in (1, 2, 2)]
    assert [row["step"] for row in read_local_scalars(str(tmp_path / "mine" / "scalars.json"))] == [
        1,
        2,
    ]


def test_pause_keeps_runs_open_and_close_finishes_them(wandb_offline):
    # LoggerHook.after_run pauses: runner.test() after runner.train() continues the same run
    # (one run directory); close() finishes it.
    import wandb

    save_dir = str(wandb_offline / "p")
    visualizer = Visualizer(vis_backends=dict(type="WandbVisBackend"), save_dir=save_dir)
    visualizer.add_scalars({"loss": 1.0}, step=1)
    visualizer.pause()
    run = visualizer.get_backend("WandbVisBackend").experiment
    assert wandb.run is run
    visualizer.add_scalars({"test/accuracy": 0.9}, step=1)
    visualizer.close()
    assert wandb.run is None
    (run_file,) = wandb_run_files(save_dir + "/vis_data")
    history = read_finished_wandb_run(run_file).history
    assert history[0]["loss"] == 1.0 and history[1]["test/accuracy"] == 0.9
