"""WandbVisBackend against real wandb in offline mode, read back from the run file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_visualization._readers import (
    read_finished_wandb_run,
    read_wandb_run,
    wandb_run_files,
)
from torchrig.visualization import Visualizer, WandbVisBackend
from torchrig.visualization._wandb_store import Journal, history_rows, read_journal

_CRASH_SCRIPT = os.path.join(os.path.dirname(__file__), "_crash_run.py")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _all_steps(save_dirs: list[str], run_id: str, key: str = "loss") -> list[int]:
    """The ``iter`` of every row holding ``key`` in the run files of ``run_id``."""
    steps: list[int] = []
    for save_dir in save_dirs:
        for path in wandb_run_files(save_dir, run_id):
            rows = read_finished_wandb_run(path, timeout=10).history
            steps.extend(row["iter"] for row in rows if key in row)
    return sorted(steps)


def test_steps_images_summary_checkpoints_and_config_from_objects(wandb_offline):
    torch = pytest.importorskip("torch")
    save_dir = str(wandb_offline / "w")
    backend = WandbVisBackend(
        save_dir,
        init_kwargs=dict(project="p", name="n"),
        define_metric_cfg=[dict(name="val/mIoU", summary="max")],
        log_checkpoint=True,
    )
    model = torch.nn.Linear(2, 3)
    backend.add_config(
        {"model": model, "optim": torch.optim.SGD(model.parameters(), lr=0.5)},
        env={"git_commit": "abc"},
    )
    for it in (5, 10, 15):
        backend.add_scalars({"loss": 1.0 / it, "iter": it}, step=it)
        backend.add_scalars({"val/mIoU": it / 100}, step=it)
    backend.add_image("pred", np.zeros((4, 4, 3), np.uint8), step=15)
    ckpt = wandb_offline / "iter_15.pth"
    ckpt.write_bytes(b"weights")
    backend.log_checkpoint(str(ckpt), aliases=("latest", "best"), metadata={"step": 15})
    run_id = backend.experiment.id
    backend.close(exit_code=3)

    (path,) = wandb_run_files(save_dir, run_id)
    run = read_finished_wandb_run(path)
    assert run.iters == [5, 5, 10, 10, 15, 15, 15]  # every metric's x-axis
    assert [row["val/mIoU"] for row in run.history if "val/mIoU" in row] == [0.05, 0.1, 0.15]
    assert [row["loss"] for row in run.history if "loss" in row] == [0.2, 0.1, 1.0 / 15]
    assert run.history[-1]["pred/_type"] == "image-file"
    assert run.summary["val/mIoU"] == {"max": 0.15}
    assert run.config["model"]["type"] == "torch.nn.modules.linear.Linear"
    assert run.config["model"]["in_features"] == 2
    assert "SGD" in run.config["optim"]["type"]
    assert run.config["environment"] == {"git_commit": "abc"}
    assert {"name": f"model-{run_id}", "type": "model", "aliases": ["best", "latest"]} in [
        {**a, "aliases": sorted(a["aliases"])} for a in run.artifacts
    ]
    assert run.exit_code == 3


def test_resume_continues_the_same_run_and_close_reopens(wandb_offline):
    first_dir, second_dir = str(wandb_offline / "a"), str(wandb_offline / "b")
    first = Visualizer(vis_backends=dict(type="WandbVisBackend"), save_dir=first_dir)
    for it in range(1, 11):
        first.add_scalars({"loss": 1.0 / it}, step=it)
    first.flush()
    state = json.loads(json.dumps(first.state_dict()))  # checkpoints hold plain values
    first.close()

    fresh = Visualizer(vis_backends=dict(type="WandbVisBackend"), save_dir=str(wandb_offline / "c"))
    fresh.add_scalars({"loss": 1.0}, step=1)
    fresh.flush()
    assert (
        fresh.state_dict()["backends"]["WandbVisBackend"]["run_id"]
        != state["backends"]["WandbVisBackend"]["run_id"]
    )
    fresh.close()

    second = Visualizer(vis_backends=dict(type="WandbVisBackend"), save_dir=second_dir)
    second.load_state_dict(state)
    for it in range(11, 21):
        second.add_scalars({"loss": 1.0 / it}, step=it)
    second.close()
    second.add_scalars({"test/accuracy": 0.9}, step=20)  # e.g. runner.test() after train()
    second.close()

    run_id = state["backends"]["WandbVisBackend"]["run_id"]
    assert second.get_backend("WandbVisBackend").state_dict()["run_id"] == run_id
    dirs = [first_dir + "/vis_data", second_dir + "/vis_data"]
    assert _all_steps(dirs, run_id) == list(range(1, 21))
    assert _all_steps(dirs, run_id, "test/accuracy") == [20]
    files = wandb_run_files(second_dir + "/vis_data", run_id)
    assert any(row.get("test/accuracy") == 0.9 for f in files for row in read_wandb_run(f).history)


def test_sigkilled_run_resumed_holds_every_step_up_to_the_checkpoint_once(wandb_offline, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_REPO, *sys.path]))
    state_file = str(tmp_path / "state.json")
    # One save_dir for both processes, as with a fixed save_dir="runs/wandb": the resumed
    # process appends to the same journal and writes a second run directory for the same id.
    dirs = [str(tmp_path / "runs"), str(tmp_path / "runs")]
    killed = subprocess.run(
        [sys.executable, _CRASH_SCRIPT, dirs[0], state_file, "1", "70", "60", "1"],
        env=env,
        timeout=120,
    )
    assert killed.returncode == -9
    with open(state_file, encoding="utf-8") as f:
        state = json.load(f)["backends"]["WandbVisBackend"]
    assert state["step"] == 60
    resumed = subprocess.run(
        [sys.executable, _CRASH_SCRIPT, dirs[1], state_file, "61", "80", "80", "0"],
        env=env,
        timeout=120,
    )
    assert resumed.returncode == 0
    steps = _all_steps([dirs[0] + "/vis_data"], state["run_id"])
    assert [s for s in steps if s <= 60] == list(range(1, 61))
    assert set(range(61, 81)) <= set(steps)


def test_history_steps_stops_at_a_torn_tail(wandb_offline):
    backend = WandbVisBackend(str(wandb_offline / "t"))
    for it in range(1, 301):
        backend.add_scalars({"loss": float(it)}, step=it)
    run_id = backend.experiment.id
    backend.close()
    (path,) = wandb_run_files(str(wandb_offline / "t"), run_id)
    read_finished_wandb_run(path)
    data = open(path, "rb").read()
    assert history_rows([path], "iter") == {
        (it, frozenset(["loss", "iter"])) for it in range(1, 301)
    }
    torn = wandb_offline / "torn.wandb"
    torn.write_bytes(data[: len(data) // 2])
    partial = {it for it, _ in history_rows([str(torn)], "iter")}
    assert partial and partial == set(range(1, max(partial) + 1)) and max(partial) < 300
    torn.write_bytes(data[:7])
    assert history_rows([str(torn), str(wandb_offline / "missing.wandb")], "iter") == set()


def test_journal_segments_survive_a_torn_line(tmp_path):
    path = str(tmp_path / "j.jsonl")
    first = Journal(path)
    for step in (1, 2, 3):
        first.append(step, {"loss": float(step)})
    first.sync()
    first._file.write('{"step": 4, "ro')  # killed mid-line
    first._file.flush()
    second = Journal(path)
    second.append(5, {"loss": 5.0})
    second.close()
    assert (second.start, second.entries) == (4, 1)
    assert read_journal(path, 0, 2) == [(1, {"loss": 1.0}), (2, {"loss": 2.0})]
    assert read_journal(path, second.start, second.entries) == [(5, {"loss": 5.0})]


def _run_of(backend: WandbVisBackend, save_dir: str):
    run_id = backend.experiment.id
    backend.close()
    (path,) = wandb_run_files(save_dir, run_id)
    return read_finished_wandb_run(path)


def test_rows_logged_before_a_later_step_are_kept_with_their_iteration(wandb_offline):
    # W&B drops a row whose step is behind its own; the backend gives it W&B's current step
    # instead, and its ``iter`` (the charts' x-axis) says where it belongs.
    save_dir = str(wandb_offline / "late")
    backend = WandbVisBackend(save_dir)
    backend.add_scalars({"loss": 0.5}, step=10)
    backend.add_scalars({"loss": 0.4}, step=11)
    backend.add_scalars({"accuracy": 0.9}, step=10)  # e.g. sent late by a slow evaluation
    backend.add_scalars({"loss": 0.3}, step=12)
    rows = _run_of(backend, save_dir).history
    assert [(row.get("loss"), row.get("accuracy"), row["iter"]) for row in rows] == [
        (0.5, None, 10),
        (0.4, None, 11),
        (None, 0.9, 10),
        (0.3, None, 12),
    ]


def test_the_users_wandb_log_lands_in_the_current_row_and_drops_nothing(wandb_offline):
    import wandb

    save_dir = str(wandb_offline / "user")
    backend = WandbVisBackend(save_dir)
    for it in range(1, 31):
        backend.add_scalars({"loss": 1.0 / it, "iter": it}, step=it)
        wandb.log({"user/grad_norm": float(it)})  # the global run is torchrig's
        if it % 10 == 0:  # a user logging more often than torchrig: W&B's step runs ahead
            for extra in range(5):
                wandb.log({"user/extra": extra})
    wandb.summary["user/best"] = 7
    wandb.config.update({"user_param": 3})
    rows = _run_of(backend, save_dir).history
    loss_iters = [row["iter"] for row in rows if "loss" in row]
    assert loss_iters == list(range(1, 31))  # none of torchrig's rows dropped
    for row in rows:
        if "user/grad_norm" in row:  # at the iteration of torchrig's last row
            assert row["iter"] == row["user/grad_norm"]
    assert sum("user/grad_norm" in row for row in rows) == 30
    assert sum("user/extra" in row for row in rows) == 15


def test_a_run_the_user_opened_is_joined_and_left_open(wandb_offline):
    import wandb

    run = wandb.init(project="mine", config={"user_param": 1}, dir=str(wandb_offline))
    save_dir = str(wandb_offline / "joined")
    visualizer = Visualizer(vis_backends=dict(type="WandbVisBackend"), save_dir=save_dir)
    visualizer.add_config({"model": {"type": "MLP"}})
    for it in range(1, 6):
        visualizer.add_scalars({"loss": 1.0 / it, "iter": it}, step=it)
    assert visualizer.get_backend("WandbVisBackend").experiment is run
    visualizer.close()
    assert wandb.run is run  # finishing it is the user's call
    run.log({"after": 1})
    run.finish()
    (path,) = glob_run_files(str(wandb_offline), run.id)
    record = read_finished_wandb_run(path)
    assert [row["iter"] for row in record.history if "loss" in row] == [1, 2, 3, 4, 5]
    assert record.config["user_param"] == 1 and record.config["model"] == {"type": "MLP"}
    assert any("after" in row for row in record.history)


def glob_run_files(root: str, run_id: str) -> list[str]:
    import glob

    found = glob.glob(os.path.join(root, "**", f"run-{run_id}.wandb"), recursive=True)
    return sorted(path for path in found if "latest-run" not in path)


def test_console_is_captured_and_log_files_are_saved_live(wandb_offline):
    log_dir = wandb_offline / "work" / "20260101_000000"
    save_dir = str(log_dir / "vis_data")
    log_dir.mkdir(parents=True)
    log_file = log_dir / "20260101_000000.log"
    log_file.write_text("first line\n")
    backend = WandbVisBackend(save_dir)
    run_dir = backend.experiment.dir
    print("a line on stdout")
    with open(log_file, "a", encoding="utf-8") as f:  # written on: the run's copy follows it
        f.write("second line\n")
    backend.add_scalars({"loss": 1.0}, step=1)
    run = _run_of(backend, save_dir)
    assert "20260101_000000.log" in run.files
    with open(os.path.join(run_dir, "20260101_000000.log"), encoding="utf-8") as f:
        assert f.read() == "first line\nsecond line\n"
    assert "a line on stdout" in run.output  # W&B's Logs tab


def test_console_capture_off_by_w_and_bs_own_switch(wandb_offline):
    (wandb_offline / "q").mkdir()
    (wandb_offline / "q" / "other.log").write_text("x\n")
    save_dir = str(wandb_offline / "q" / "vis_data")
    quiet = WandbVisBackend(
        save_dir, init_kwargs=dict(settings=dict(console="off")), save_log_files=False
    )
    run_dir = quiet.experiment.dir
    assert quiet.experiment.settings.console == "off"
    print("not captured")
    quiet.add_scalars({"loss": 1.0}, step=1)
    run = _run_of(quiet, save_dir)
    assert "other.log" not in run.files and "not captured" not in run.output
    output = os.path.join(run_dir, "output.log")
    assert not os.path.exists(output) or "not captured" not in open(output).read()


def test_resume_reads_a_killed_runs_file_only_once_its_writer_is_done(tmp_path):
    import threading
    import time

    from torchrig.visualization._wandb_store import wait_until_settled

    path = tmp_path / "run-x.wandb"
    path.write_bytes(b"header")
    stream = open(path, "ab")  # a writer (W&B's service) still holds the file open
    started = time.monotonic()

    def finish_writing() -> None:
        time.sleep(0.8)
        stream.write(b"last rows")
        stream.close()

    writer = threading.Thread(target=finish_writing)
    writer.start()
    assert wait_until_settled([str(path)], timeout=10.0, quiet=0.3)
    writer.join()
    assert time.monotonic() - started >= 0.8  # it waited for the writer to let go
    assert path.read_bytes() == b"headerlast rows"
    assert wait_until_settled([str(tmp_path / "missing.wandb")], timeout=1.0, quiet=0.1)


def test_rows_to_resend_falls_back_to_the_public_api_for_unknown_versions(tmp_path, monkeypatch):
    # With a W&B version the run-file reader is not tested with (or a file whose header it
    # does not know), the rows after the last ``iter`` the resumed run's summary reports are
    # re-sent: W&B's public API, no file read.
    import types

    from torchrig.visualization import _wandb_store as store

    journal = Journal(str(tmp_path / "j.jsonl"))
    for it in range(1, 6):
        journal.append(it, {"loss": 1.0 / it, "iter": it})
    journal.close()
    run_file = tmp_path / "run-x.wandb"
    run_file.write_bytes(b":W&B\xe1\xbe\x00")  # W&B's header: readable, and holds no row
    state = {"segments": [{"journal": journal.path, "start": 0, "entries": 5}]}
    state["segments"][0]["run_file"] = str(run_file)
    resumed = types.SimpleNamespace(summary={"iter": 3})
    assert store.readable([str(run_file)])
    assert [s for s, _ in store.rows_to_resend(state, resumed, "iter")] == [1, 2, 3, 4, 5]
    monkeypatch.setattr(store, "_READ_VERSIONS", ((0, 0, 1), (0, 0, 2)))
    assert not store.readable([str(run_file)])
    assert [s for s, _ in store.rows_to_resend(state, resumed, "iter")] == [4, 5]
    run_file.write_bytes(b":W&B\xe1\xbe\x01")  # a format version it does not know
    monkeypatch.undo()
    assert not store.readable([str(run_file)])
