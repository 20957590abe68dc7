from __future__ import annotations

import io
import math

import pytest
import torch

from torchrig.hooks import EarlyStoppingHook


def _run(make_runner, loops, hook, scores, key="acc"):
    runner = make_runner(max_epochs=len(scores), epoch_len=1, hooks=[hook])
    loops.train_by_epoch(runner, [{key: s} for s in scores])
    return runner


def test_stops_after_patience_evaluations_without_improvement(make_runner, loops):
    hook = EarlyStoppingHook("acc", patience=2, min_delta=0.01)
    runner = _run(make_runner, loops, hook, [0.5, 0.6, 0.605, 0.6, 0.9, 0.9])
    # 0.605 is within min_delta of 0.6: no improvement; 0.6: second -> stop after epoch 4
    assert runner.train_loop.stop_training
    assert runner.epoch == 4
    assert hook.best_score == pytest.approx(0.6) and hook.wait_count == 2
    runner.logger.info.assert_any_call(
        "the monitored metric acc did not improve in the last 2 records. best score: 0.600."
    )


def test_improvement_resets_the_count_and_rule_less_is_inferred(make_runner, loops):
    hook = EarlyStoppingHook("val_loss", patience=2, min_delta=0.1)
    assert hook.rule == "less"
    runner = _run(make_runner, loops, hook, [1.0, 0.95, 0.7, 0.65, 0.5], key="val_loss")
    assert not runner.train_loop.stop_training
    assert hook.best_score == pytest.approx(0.5) and hook.wait_count == 0


def test_threshold_and_non_finite_stop_at_once(make_runner, loops):
    hook = EarlyStoppingHook("acc", stopping_threshold=0.8)
    runner = _run(make_runner, loops, hook, [0.5, 0.85, 0.9])
    assert runner.train_loop.stop_training and runner.epoch == 2

    hook = EarlyStoppingHook("acc", patience=10)
    runner = _run(make_runner, loops, hook, [0.5, math.nan, 0.9])
    assert runner.train_loop.stop_training and runner.epoch == 2


def test_missing_metric_warns_or_raises(make_runner, loops):
    hook = EarlyStoppingHook("acc")
    with pytest.warns(UserWarning, match="'acc'"):
        _run(make_runner, loops, hook, [0.5], key="top1")
    hook = EarlyStoppingHook("acc", strict=True)
    with pytest.raises(RuntimeError, match="strict=False"):
        _run(make_runner, loops, hook, [0.5], key="top1")


def test_rule_errors():
    with pytest.raises(ValueError, match="rule="):
        EarlyStoppingHook("fancy")
    with pytest.raises(ValueError, match="'greater' or 'less'"):
        EarlyStoppingHook("acc", rule="max")


def test_state_dict_round_trip(make_runner, loops):
    hook = EarlyStoppingHook("acc", patience=3)
    _run(make_runner, loops, hook, [0.5, 0.4, 0.3])
    buffer = io.BytesIO()
    torch.save(hook.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = EarlyStoppingHook("acc", patience=3)
    resumed.load_state_dict(state)
    assert resumed.best_score == pytest.approx(0.5) and resumed.wait_count == 2
    runner = _run(make_runner, loops, resumed, [0.45])
    assert runner.train_loop.stop_training  # the third evaluation without improvement


def test_train_loop_without_stop_flag_is_rejected(make_runner):
    runner = make_runner()
    del runner.train_loop.stop_training
    with pytest.raises(TypeError, match="stop_training"):
        EarlyStoppingHook("acc").before_train(runner)
