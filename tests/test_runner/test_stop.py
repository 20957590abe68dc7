"""Graceful stop: a signal ends training at the next iteration boundary with a checkpoint,
the trackers closed and a non-zero exit; the run resumes from it exactly."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path

import pytest
import torch

from tests.test_e2e._resume_job import DropoutNet  # also registers its dataset, NoisyPoints
from torchrig.hooks import Hook
from torchrig.runner import Runner, TrainingStopped
from torchrig.runner._stop import GracefulStop, requeue_slurm_job, slurm_job_id


class _SignalAt(Hook):
    """Sends this process ``signum`` (``times`` times) during training iteration ``at``."""

    priority = "LOWEST"

    def __init__(self, at: int, signum: int, times: int = 1) -> None:
        self.at, self.signum, self.times = at, signum, times

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def _runner(work_dir: Path, by_epoch: bool = True, hooks=(), **kwargs) -> Runner:
    from torchrig.runner import set_random_seed

    set_random_seed(7)  # before the model is made, so every run starts from the same weights
    # From a config, as users write it: the Runner gives the dataloader its own generator
    # (a DataLoader made before the Runner draws its workers' seed from the global RNG).
    loader = dict(
        dataset=dict(type="NoisyPoints"),
        sampler=dict(type="DefaultSampler", shuffle=True),
        batch_size=4,
        collate_fn=dict(type="default_collate"),
    )
    train_cfg = (
        dict(by_epoch=True, max_epochs=2) if by_epoch else dict(by_epoch=False, max_iters=20)
    )
    return Runner(
        model=DropoutNet(),
        work_dir=str(work_dir),
        train_dataloader=loader,
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1, by_epoch=by_epoch)),
        custom_hooks=list(hooks),
        randomness=dict(seed=7),
        log_level="WARNING",
        **kwargs,
    )


def _weights(runner: Runner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize("by_epoch", [True, False])
def test_sigterm_saves_a_checkpoint_at_the_boundary_and_resume_is_exact(tmp_path, by_epoch):
    whole = _runner(tmp_path / "whole", by_epoch)
    whole.train()
    whole.visualizer.close()

    stopped = _runner(tmp_path / "stopped", by_epoch, [_SignalAt(13, signal.SIGTERM)])
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped) as caught:
        stopped.train()
    assert caught.value.code == 128 + signal.SIGTERM == 143
    assert caught.value.iteration == 13 and stopped.iter == 13
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is gone again
    checkpoint = tmp_path / "stopped" / "iter_13.pth"
    assert caught.value.checkpoint == str(checkpoint)
    assert (tmp_path / "stopped" / "last_checkpoint").read_text() == str(checkpoint)
    meta = torch.load(checkpoint, weights_only=True)["meta"]
    # 10 iterations an epoch: the middle of epoch 2 (iteration-based: one long epoch)
    assert (meta["epoch"], meta["iter"]) == ((1 if by_epoch else 0), 13)

    resumed = _runner(tmp_path / "stopped", by_epoch, resume=True)
    resumed.train()
    resumed.visualizer.close()
    assert resumed.iter == 20
    expected, got = _weights(whole), _weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_stop_without_checkpoint_hook_or_with_saving_off(tmp_path):
    loader = dict(
        dataset=dict(type="NoisyPoints"),
        sampler=dict(type="DefaultSampler", shuffle=False),
        batch_size=4,
        collate_fn=dict(type="default_collate"),
    )
    common = dict(
        model=DropoutNet(),
        train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[_SignalAt(2, signal.SIGINT)],
        log_level="WARNING",
    )
    runner = Runner(work_dir=str(tmp_path / "a"), **common)
    with pytest.raises(TrainingStopped) as caught:
        runner.train()
    assert caught.value.code == 130
    assert (tmp_path / "a" / "iter_2.pth").is_file()

    common["model"] = DropoutNet()
    off = dict(graceful_stop=dict(save_checkpoint=False))
    runner = Runner(work_dir=str(tmp_path / "b"), env_cfg=off, **common)
    with pytest.raises(TrainingStopped) as caught:
        runner.train()
    assert caught.value.checkpoint is None
    assert not list((tmp_path / "b").glob("*.pth"))


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt), whatever an earlier test's library left
    installed; the suite's conftest puts the previous one back afterwards."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_a_second_signal_stops_at_once(tmp_path, python_sigint):
    runner = _runner(tmp_path, hooks=[_SignalAt(3, signal.SIGINT, times=2)])
    with pytest.raises(KeyboardInterrupt):  # SIGINT's own handler, not a graceful stop
        runner.train()
    assert not (tmp_path / "iter_3.pth").exists()


def test_disabled_leaves_the_signal_alone(tmp_path, python_sigint):
    runner = _runner(
        tmp_path,
        hooks=[_SignalAt(3, signal.SIGINT)],
        env_cfg=dict(graceful_stop=dict(enable=False)),
    )
    with pytest.raises(KeyboardInterrupt):
        runner.train()


def test_bad_options_are_named():
    with pytest.raises(ValueError, match=r"graceful_stop.*unknown option.*'signal'"):
        GracefulStop.from_env_cfg(dict(graceful_stop=dict(signal="SIGTERM")))
    with pytest.raises(ValueError, match=r"unknown signal 'SIGFOO'"):
        GracefulStop(signals=["SIGFOO"])
    with pytest.raises(ValueError, match="sync_interval"):
        GracefulStop(sync_interval=0)


def _fake_scontrol(tmp_path: Path, monkeypatch, exit_code: int = 0) -> Path:
    """An ``scontrol`` on PATH that appends its arguments to a file."""
    record = tmp_path / "scontrol_calls"
    script = tmp_path / "bin" / "scontrol"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(record)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return record


def test_slurm_job_id_of_an_array_task():
    assert slurm_job_id({"SLURM_JOB_ID": "12"}) == "12"
    environ = {"SLURM_JOB_ID": "13", "SLURM_ARRAY_JOB_ID": "10", "SLURM_ARRAY_TASK_ID": "3"}
    assert slurm_job_id(environ) == "10_3"
    assert slurm_job_id({}) is None


def test_requeue_reports_a_failing_scontrol(tmp_path, monkeypatch, caplog):
    import logging

    record = _fake_scontrol(tmp_path, monkeypatch, exit_code=1)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    logger = logging.getLogger("test_stop")
    with caplog.at_level(logging.WARNING, logger="test_stop"):
        assert requeue_slurm_job(logger) is False
    assert record.read_text() == "requeue 4242\n"
    assert "requeueing SLURM job 4242 failed" in caplog.text


def test_sigusr1_under_slurm_checkpoints_and_requeues(tmp_path, monkeypatch):
    record = _fake_scontrol(tmp_path, monkeypatch)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    runner = _runner(tmp_path / "work", hooks=[_SignalAt(5, signal.SIGUSR1)])
    with pytest.raises(TrainingStopped) as caught:
        runner.train()
    assert caught.value.code == 128 + signal.SIGUSR1
    assert (tmp_path / "work" / "iter_5.pth").is_file()
    assert record.read_text() == "requeue 4242\n"


def test_sigusr1_outside_slurm_is_not_handled(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    stop = GracefulStop()
    assert stop.requeue is False
    with stop.installed():
        assert signal.getsignal(signal.SIGUSR1) is not stop._handle
        assert signal.getsignal(signal.SIGTERM) == stop._handle


def test_a_second_sigterm_kills_at_once():
    import subprocess

    script = (
        "import os, signal, time\n"
        "from torchrig.runner._stop import GracefulStop\n"
        "with GracefulStop().installed() as stop:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    assert stop.received == signal.SIGTERM  # the first one is only recorded\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    result = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert result.returncode == -signal.SIGTERM
