"""WandbVisBackend against real wandb in offline mode, read back from the run file."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest

from tests.test_visualization._readers import read_wandb_run, wandb_run_files
from torchrig.visualization import Visualizer, WandbVisBackend
from torchrig.visualization._wandb_store import Journal, history_steps, read_journal

_CRASH_SCRIPT = os.path.join(os.path.dirname(__file__), "_crash_run.py")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _all_steps(save_dirs: list[str], run_id: str) -> list[int]:
    steps: list[int] = []
    for save_dir in save_dirs:
        for path in wandb_run_files(save_dir, run_id):
            steps.extend(read_wandb_run(path).steps)
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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.add_scalars({"loss": 9.0}, step=3)  # older than the open row: W&B cannot place it
    assert any("step 3" in str(w.message) for w in caught)
    backend.add_image("pred", np.zeros((4, 4, 3), np.uint8))  # default step 0 -> the open row
    ckpt = wandb_offline / "iter_15.pth"
    ckpt.write_bytes(b"weights")
    backend.log_checkpoint(str(ckpt), aliases=("latest", "best"), metadata={"step": 15})
    run_id = backend.experiment.id
    backend.close(exit_code=3)

    (path,) = wandb_run_files(save_dir, run_id)
    run = read_wandb_run(path)
    assert run.steps == [5, 10, 15]
    assert [row["val/mIoU"] for row in run.history] == [0.05, 0.1, 0.15]
    assert run.history[-1]["pred/_type"] == "image-file"
    assert 9.0 not in [row["loss"] for row in run.history]
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
    assert _all_steps([first_dir + "/vis_data", second_dir + "/vis_data"], run_id) == list(
        range(1, 21)
    ) + [20]
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
    data = open(path, "rb").read()
    assert history_steps([path]) == set(range(1, 301))
    torn = wandb_offline / "torn.wandb"
    torn.write_bytes(data[: len(data) // 2])
    partial = history_steps([str(torn)])
    assert partial and partial == set(range(1, max(partial) + 1)) and max(partial) < 300
    torn.write_bytes(data[:7])
    assert history_steps([str(torn), str(wandb_offline / "missing.wandb")]) == set()


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
    return read_wandb_run(path)


def test_log_files_are_saved_and_console_capture_is_off_by_default(wandb_offline):
    log_dir = wandb_offline / "work" / "20260101_000000"
    save_dir = str(log_dir / "vis_data")
    log_dir.mkdir(parents=True)
    (log_dir / "20260101_000000.log").write_text("first line\n")
    backend = WandbVisBackend(save_dir)
    assert backend.experiment.settings.console == "off"
    print("a line on stdout")
    (log_dir / "late.log").write_text("written after the run started\n")
    backend.add_scalars({"loss": 1.0}, step=1)
    run = _run_of(backend, save_dir)
    assert {"20260101_000000.log", "late.log"} <= set(run.files)
    assert "output.log" not in run.files
    assert "output.log" not in os.listdir(backend.experiment.dir)
    (saved,) = [p for p in os.listdir(backend.experiment.dir) if p == "20260101_000000.log"]
    assert open(os.path.join(backend.experiment.dir, saved)).read() == "first line\n"

    (wandb_offline / "q").mkdir()
    (wandb_offline / "q" / "other.log").write_text("x\n")
    quiet = WandbVisBackend(str(wandb_offline / "q" / "vis_data"), save_log_files=False)
    assert "other.log" not in _run_of(quiet, str(wandb_offline / "q" / "vis_data")).files


@pytest.mark.parametrize(
    "init_kwargs",
    [dict(settings=dict(console="wrap")), dict(settings="wandb.Settings(console='wrap')")],
)
def test_console_capture_on_when_init_kwargs_ask(wandb_offline, init_kwargs):
    import wandb

    if isinstance(init_kwargs["settings"], str):
        init_kwargs = dict(settings=wandb.Settings(console="wrap", silent=True))
    save_dir = str(wandb_offline / "c" / "vis_data")
    backend = WandbVisBackend(save_dir, init_kwargs=init_kwargs)
    assert backend.experiment.settings.console == "wrap"
    print("captured line")
    backend.add_scalars({"loss": 1.0}, step=1)
    run_dir = backend.experiment.dir
    _run_of(backend, save_dir)
    with open(os.path.join(run_dir, "output.log"), encoding="utf-8") as f:
        assert "captured line" in f.read()


def test_wire_rows_equal_what_protobuf_builds(wandb_offline):
    from wandb.proto import wandb_server_pb2 as spb

    from torchrig.visualization._wandb_store import journal_line
    from torchrig.visualization._wandb_wire import RowEncoder, proto_request

    save_dir = str(wandb_offline / "e")
    backend = WandbVisBackend(save_dir)
    interface = backend.experiment._interface
    encoder = RowEncoder(interface)
    rows = [
        (1, {"loss": 0.1, "iter": 1}),
        (2**40, {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}),
        (3, {"big": 10**200, "neg": -(2**70), "x" * 5000: 1.5, "ünï/ködé": -0.0}),
        (4, {}),
    ]
    # Rows of seen keys come from their keys' plan: the same bytes, and the same journal line.
    rng = random.Random(0)
    numbers = [0.1, -0.0, 5e-324, 1e300, 1e-7, 123456789.25, float("nan"), 10**25, -7, 0]
    for _ in range(200):
        keys = rng.sample(["loss", "lr", "100%", "ünï/ködé", "k" * 120, "iter"], 3)
        rows.append((rng.randrange(2**35), {key: rng.choice(numbers) for key in keys}))
    for step, row in rows:
        lines: list[str] = []
        framed = encoder.encode(step, row, 1.5e9, lines)
        assert int.from_bytes(framed[1:5], "little") == len(framed) - 5
        assert spb.ServerRequest.FromString(framed[5:]) == proto_request(
            interface, step, row, 1.5e9
        )
        assert lines == [journal_line(step, row)]
        assert json.loads(lines[0])["step"] == step
    # Through the backend: these values reach the run file.
    backend.add_scalars(rows[0][1], step=1)
    backend.add_scalars(rows[1][1], step=2)
    backend.add_scalars(rows[2][1], step=3)
    backend.flush()
    journaled = read_journal(backend._journal.path, 0, 10)
    assert [step for step, _ in journaled] == [1, 2, 3] and journaled[0][1] == rows[0][1]
    history = _run_of(backend, save_dir).history
    assert [row["_step"] for row in history] == [1, 2, 3]
    assert history[1]["inf"] == float("inf") and history[1]["nan"] != history[1]["nan"]
    assert float(history[2]["big"]) == float(10**200) and history[2]["x" * 5000] == 1.5


_CONSOLE_SCRIPT = """
import os, sys
from torchrig.visualization import WandbVisBackend

root = sys.argv[1]
quiet = WandbVisBackend(os.path.join(root, "a", "vis_data"))
quiet.experiment
print("not captured")
loud = WandbVisBackend(
    os.path.join(root, "b", "vis_data"), init_kwargs=dict(settings=dict(console="wrap"))
)
print("captured", loud.experiment.dir)
loud.close()
quiet.close()
print("after the runs")
"""


def test_console_captured_only_by_a_run_that_asks_for_it(wandb_offline):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_REPO, *sys.path]))
    done = subprocess.run(
        [sys.executable, "-c", _CONSOLE_SCRIPT, str(wandb_offline)],
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "not captured" in done.stdout and "after the runs" in done.stdout
    run_dir = done.stdout.split("captured ", 1)[1].split()[0]
    with open(os.path.join(run_dir, "output.log"), encoding="utf-8") as f:
        captured = f.read()
    assert "captured" in captured and "not captured" not in captured


@pytest.mark.parametrize("as_object", [False, True])
def test_console_off_kept_with_user_settings_that_do_not_name_it(wandb_offline, as_object):
    import wandb

    settings = wandb.Settings(silent=True) if as_object else dict(silent=True)
    backend = WandbVisBackend(str(wandb_offline / "s"), init_kwargs=dict(settings=settings))
    assert backend.experiment.settings.console == "off"
    assert backend.experiment.settings.silent is True
    backend.close()


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
