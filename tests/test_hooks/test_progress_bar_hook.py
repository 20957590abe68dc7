"""ProgressBarHook: what the display shows, when it stays silent, what it costs per iteration,
how it shares the screen with log lines, and that it gives the terminal back."""

from __future__ import annotations

import io
import logging
import re
import sys
import uuid
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console
from torch.utils.data import DataLoader

from torchrig.hooks import progress_bar_hook
from torchrig.hooks.progress_bar_hook import ProgressBarHook
from torchrig.logging import MessageHub

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NEVER = 3600.0  # a refresh interval long enough that only the test's own refresh() draws


def _text(console: Console) -> str:
    return _ANSI.sub("", console.file.getvalue())


def _console(**kwargs) -> Console:
    options = dict(force_terminal=True, force_interactive=True, width=160, color_system=None)
    options.update(kwargs)
    return Console(file=io.StringIO(), **options)


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch):
    """As on a developer's machine: no CI variables, nothing forcing rich's terminal checks."""
    for name in (
        *progress_bar_hook._CI_VARIABLES,
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def _runner(epoch_len: int = 4, max_epochs: int = 2, rank: int = 0) -> SimpleNamespace:
    logger = logging.Logger(f"progress-test-{uuid.uuid4().hex[:8]}")
    return SimpleNamespace(
        message_hub=MessageHub(f"progress-test-{uuid.uuid4().hex[:8]}"),
        logger=logger,
        rank=rank,
        epoch=0,
        iter=0,
        max_epochs=max_epochs,
        max_iters=max_epochs * epoch_len,
        train_loop=SimpleNamespace(),
        train_dataloader=list(range(epoch_len)),
        val_dataloader=[0, 1],
        test_dataloader=[0, 1, 2],
    )


def _train_iter(hook, runner, batch_idx, loss=0.25, lr=0.01, between=None):
    hub = runner.message_hub
    hub.update_scalar("train/lr", lr)
    hub.update_scalar("train/loss", torch.tensor(loss))
    hub.update_scalar("train/time", 0.001)
    hook.after_train_iter(runner, batch_idx, data_batch=None, outputs={"loss": loss})
    runner.iter += 1
    if between is not None:
        between()


def _train(hook, runner, between=None, loss=0.25):
    """The stages of an epoch-based train loop; ``between()`` runs after each iteration."""
    hook.before_run(runner)
    hook.before_train(runner)
    while runner.epoch < runner.max_epochs:
        hook.before_train_epoch(runner)
        for idx in range(len(runner.train_dataloader)):
            _train_iter(hook, runner, idx, loss=loss, between=between)
        hook.after_train_epoch(runner)
        runner.epoch += 1
    hook.after_train(runner)
    hook.after_run(runner)


def _evaluate(hook, runner, mode="val", between=None):
    getattr(hook, f"before_{mode}")(runner)
    getattr(hook, f"before_{mode}_epoch")(runner)
    dataloader = runner.val_dataloader if mode == "val" else runner.test_dataloader
    for idx in range(len(dataloader)):
        getattr(hook, f"after_{mode}_iter")(runner, idx, data_batch=None, outputs=[])
        if between is not None:
            between()
    getattr(hook, f"after_{mode}_epoch")(runner, metrics={"acc": 1.0})
    getattr(hook, f"after_{mode}")(runner)


def test_epoch_based_display_shows_epoch_iterations_loss_and_lr():
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=4, max_epochs=2)
    drawn = []

    def draw():
        before = len(console.file.getvalue())
        hook._display.refresh()
        drawn.append(_ANSI.sub("", console.file.getvalue()[before:]))

    _train(hook, runner, between=draw)
    # Each drawing shows what the first iteration after the previous drawing handed over.
    assert "Epoch 1/2" in drawn[0] and " 1/4 " in drawn[0]
    assert "Epoch 1/2" in drawn[1] and " 2/4 " in drawn[1]
    assert "Epoch 2/2" in drawn[4] and " 1/4 " in drawn[4]
    assert "loss 0.2500" in drawn[0] and "lr 1.000e-02" in drawn[0]
    assert "time" not in drawn[-1]  # losses and lr only, not the other scalars
    final = _text(console).rstrip().splitlines()[-1]
    assert "Epoch 2/2" in final and "4/4" in final
    assert "loss 0.2500" in final and "lr 1.000e-02" in final
    assert hook._display is None


def test_iteration_based_display_counts_all_iterations():
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER, by_epoch=False)
    runner = _runner(epoch_len=100, max_epochs=1)
    runner.max_iters = 10
    hook.before_run(runner)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    for _ in range(6):
        _train_iter(hook, runner, runner.iter)
    hook._display.refresh()
    assert "Iter" in _text(console) and "1/10" in _text(console)
    for _ in range(4):
        _train_iter(hook, runner, runner.iter)
    hook.after_train_epoch(runner)
    hook.after_train(runner)
    final = _text(console).rstrip().splitlines()[-1]
    assert final.startswith("Iter") and "10/10" in final and "Epoch" not in final


def test_latest_values_and_chosen_keys_are_shown():
    console = _console()
    hook = ProgressBarHook(
        console=console, refresh_interval=_NEVER, keys=["train/acc", "train/missing"]
    )
    runner = _runner(epoch_len=2, max_epochs=1)
    hook.before_train(runner)
    runner.message_hub.update_scalar("train/acc", torch.tensor(0.5))
    runner.message_hub.update_scalar("train/acc", torch.tensor(0.75))
    _train_iter(hook, runner, 0)
    hook._display.refresh()
    text = _text(console)
    assert "acc 0.7500" in text and "loss" not in text and "missing" not in text
    hook.close()


@pytest.mark.parametrize(
    "case",
    ["not a terminal", "dumb terminal", "CI", "disabled", "other rank"],
)
def test_silent_unless_an_interactive_terminal_on_rank_zero(case, monkeypatch):
    console = _console()
    kwargs = {}
    rank = 0
    if case == "not a terminal":
        console = Console(file=io.StringIO(), width=160)
    elif case == "dumb terminal":
        monkeypatch.setenv("TERM", "dumb")
        console = Console(file=io.StringIO(), force_terminal=True, width=160)
    elif case == "CI":
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    elif case == "disabled":
        kwargs["enable"] = False
    else:
        kwargs["enable"] = True
        rank = 1
    hook = ProgressBarHook(console=console, refresh_interval=0.01, **kwargs)
    runner = _runner(rank=rank)
    stdout = sys.stdout
    _train(hook, runner)
    _evaluate(hook, runner, "test")
    assert console.file.getvalue() == ""
    assert hook._display is None and not hook._due
    assert sys.stdout is stdout


def test_default_console_stays_off_when_stdout_is_not_a_terminal(capsys):
    hook = ProgressBarHook()
    runner = _runner()
    _train(hook, runner)
    assert hook._display is None
    assert capsys.readouterr().out == ""


def test_forced_on_draws_without_a_terminal():
    console = Console(file=io.StringIO(), width=160)  # not a terminal
    hook = ProgressBarHook(console=console, enable=True, refresh_interval=_NEVER)
    runner = _runner(epoch_len=2, max_epochs=1)
    _train(hook, runner)
    assert "Epoch 1/1" in console.file.getvalue()


class _NoItem(torch.Tensor):
    """A tensor that fails the test if it is read one value at a time or formatted."""

    def item(self):
        raise AssertionError(".item() called on a logged tensor")

    def __format__(self, spec):
        raise AssertionError("a logged tensor was formatted")


def test_iterations_between_drawings_do_no_conversion_or_formatting(monkeypatch):
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=500, max_epochs=2)
    updates = []
    metrics = []
    original_update, original_metrics = hook._update_train, hook._metrics
    monkeypatch.setattr(
        hook, "_update_train", lambda *a, **k: updates.append(a) or original_update(*a, **k)
    )
    monkeypatch.setattr(hook, "_metrics", lambda hub: metrics.append(hub) or original_metrics(hub))
    hub = runner.message_hub
    hook.before_run(runner)
    hook.before_train(runner)
    for epoch in range(2):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        for idx in range(500):
            loss = torch.tensor(0.5).as_subclass(_NoItem)
            hub.update_scalar("train/loss", loss)
            hook.after_train_iter(runner, idx, data_batch=None, outputs={"loss": loss})
            runner.iter += 1
        hook.after_train_epoch(runner)
    runner.epoch = 2
    # 1000 iterations, two drawings (at start, and one in between): two hand-overs, one at
    # the end of each epoch (exact counts while nothing trains), the final one at the end.
    assert len(updates) == 3
    hook._display.refresh()
    hook.after_train_iter(runner, 499, data_batch=None, outputs=None)
    assert len(updates) == 4
    hook.after_train(runner)
    assert len(updates) == 5 and len(metrics) == 5
    assert "loss 0.5000" in _text(console)


def test_validation_bar_is_transient_and_test_runs_alone():
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=2, max_epochs=1)
    hook.before_run(runner)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    _train_iter(hook, runner, 0)
    hook.before_val(runner)
    hook.before_val_epoch(runner)
    display = hook._display
    assert [row.description for row in display.rows.values()] == ["Epoch 1/1", "Val"]
    hook._display.refresh()
    hook.after_val_iter(runner, 0, data_batch=None, outputs=[])
    hook._display.refresh()
    assert re.search(r"Val\s.*1/2", _text(console))
    hook.after_val_epoch(runner, metrics={"acc": 1.0})
    hook.after_val(runner)
    assert [row.description for row in display.rows.values()] == ["Epoch 1/1"]
    hook.after_train(runner)
    assert hook._display is None

    test_console = _console()
    hook = ProgressBarHook(console=test_console, refresh_interval=_NEVER)
    hook.before_run(runner)

    def draw():
        hook._display.refresh()

    _evaluate(hook, runner, "test", between=draw)
    assert re.search(r"Test\s.*3/3", _text(test_console))
    assert hook._display is None


def test_log_lines_and_prints_appear_above_the_bar_at_the_next_redraw():
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=3, max_epochs=1)
    handler = logging.StreamHandler(console.file)
    handler.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))
    runner.logger.addHandler(handler)
    stdout = sys.stdout
    queued_only = []

    def log_and_print():
        hook._display.refresh()
        before = console.file.getvalue()
        runner.logger.info(f"Epoch(train) [1][{runner.iter}/3]  loss: 0.2500")
        print("a user's print")
        queued_only.append(console.file.getvalue() == before)

    _train(hook, runner, between=log_and_print)
    assert queued_only == [True, True, True]  # the loop only queued them
    lines = _text(console).splitlines()
    logged = [line for line in lines if "Epoch(train)" in line]
    # Every log line arrives whole, on its own line, in order with the prints, and the bar
    # is drawn again below them.
    assert logged == [f"INFO - Epoch(train) [1][{i}/3]  loss: 0.2500" for i in (1, 2, 3)]
    for line in logged:
        index = lines.index(line)
        assert lines[index + 1] == "a user's print"
        assert lines[index + 2].startswith("Epoch 1/1")
    assert handler.stream is console.file and sys.stdout is stdout


def test_an_exception_gives_the_terminal_back(monkeypatch):
    registered = []
    monkeypatch.setattr(
        progress_bar_hook,
        "atexit",
        SimpleNamespace(register=registered.append, unregister=registered.remove),
    )
    stdout, stderr = sys.stdout, sys.stderr
    for stop in ("on_exception", "interpreter exit"):
        console = _console()
        hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
        runner = _runner()
        handler = logging.StreamHandler(console.file)
        runner.logger.addHandler(handler)
        hook.before_run(runner)
        hook.before_train(runner)
        assert sys.stdout is not stdout and handler.stream is not console.file
        assert "\x1b[?25l" in console.file.getvalue()  # the cursor is hidden while drawing
        if stop == "on_exception":
            hook.on_exception(runner, RuntimeError("boom"))
            assert registered == []
        else:
            registered[0]()  # what atexit runs when the error ends the program
        assert sys.stdout is stdout and sys.stderr is stderr
        assert handler.stream is console.file
        assert console.file.getvalue().endswith("\x1b[?25h")  # and shown again
        hook.close()  # idempotent


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="refresh_interval"):
        ProgressBarHook(refresh_interval=0)
    with pytest.raises(TypeError, match="enable"):
        ProgressBarHook(enable="yes")
    with pytest.raises(TypeError, match="keys"):
        ProgressBarHook(keys="train/loss")
    with pytest.raises(TypeError, match="by_epoch"):
        ProgressBarHook(by_epoch=1)


def test_with_the_real_runner(tmp_path):
    runner_module = pytest.importorskip("torchrig.runner")
    testing = pytest.importorskip("torchrig.testing")
    from torchrig.hooks.hook import check_hook_stages
    from torchrig.registry import HOOKS

    assert isinstance(HOOKS.build(dict(type="ProgressBarHook")), ProgressBarHook)
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=0.005)
    check_hook_stages(hook)

    def loader():
        return DataLoader(testing.ToyDataset(), batch_size=3)

    runner = runner_module.Runner(
        model=testing.ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=loader(),
        val_dataloader=loader(),
        val_evaluator=[testing.ToyMetric()],
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        # As the default hook's replacement, so that there is one whether or not the Runner
        # adds a ProgressBarHook by default.
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=2), checkpoint=None, progress=hook
        ),
        experiment_name=f"progress_{uuid.uuid4().hex[:8]}",
    )
    for handler in runner.logger.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setStream(console.file)
    runner.train()
    lines = _text(console).splitlines()
    final = [line for line in lines if line.startswith("Epoch 2/2")][-1]
    assert "4/4" in final and "loss " in final and "lr 1.000e-01" in final
    logged = [line for line in lines if "Epoch(train)" in line]
    assert logged and all(re.search(r" - INFO - Epoch\(train\).*loss: [\d.]+$", x) for x in logged)
    assert hook._display is None


@pytest.mark.parametrize(("width", "two_losses"), [(80, True), (64, False)])
def test_loss_and_lr_stay_visible_in_a_narrow_terminal(width, two_losses):
    console = _console(width=width)
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=450, max_epochs=20)
    if two_losses:
        runner.message_hub.update_scalar("train/loss_cls", 0.5)
    hook.before_run(runner)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    for idx in range(3):
        _train_iter(hook, runner, idx, loss=0.123456, lr=0.003)
        hook._display.refresh()
    line = _text(console).rstrip().splitlines()[-1].lstrip("\r")
    assert "loss 0.1235" in line and "lr 3.000e-03" in line, line
    assert ("loss_cls 0.5000" in line) == two_losses
    assert "…" not in line and "..." not in line
    assert "Epoch 1/20" in line and "3/450" in line
    hook.close()


def test_train_counts_are_exact_while_validating():
    """A redraw during validation shows the epoch as finished, not the count of the last
    redraw before it (iterations hand over figures only after a redraw)."""
    console = _console()
    hook = ProgressBarHook(console=console, refresh_interval=_NEVER)
    runner = _runner(epoch_len=4, max_epochs=2)
    hook.before_run(runner)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    for idx in range(4):
        _train_iter(hook, runner, idx)
        if idx == 0:
            hook._display.refresh()  # the last redraw of the epoch: 1/4 handed over next
    hook.after_train_epoch(runner)
    runner.epoch += 1
    hook.before_val(runner)
    hook.before_val_epoch(runner)
    before = len(console.file.getvalue())
    hook._display.refresh()
    drawn = _ANSI.sub("", console.file.getvalue()[before:])
    assert re.search(r"Epoch 1/2\s+━+ 4/4 ", drawn), drawn
    hook.close()
