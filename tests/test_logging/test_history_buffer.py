from __future__ import annotations

import copy
import math
import pickle
from unittest import mock

import numpy as np
import pytest
import torch

from torchrig.logging import HistoryBuffer


def _reference(values: list[float], counts: list[float], window: int | None) -> float:
    """MMEngine's definition: sum of the window's values over the sum of its counts."""
    w = len(values) if window is None else window
    return float(np.sum(values[-w:]) / np.sum(counts[-w:]))


def test_statistics_match_definition() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=57).tolist()
    counts = rng.integers(1, 4, size=57).tolist()
    buf = HistoryBuffer()
    for v, c in zip(values, counts):
        buf.update(v, c)
    for window in (None, 1, 5, 56, 57, 100):
        assert buf.mean(window) == pytest.approx(_reference(values, counts, window), rel=1e-12)
    assert buf.max() == max(values) and buf.min() == min(values)
    assert buf.max(5) == max(values[-5:]) and buf.min(5) == min(values[-5:])
    assert buf.current() == values[-1]
    assert buf.statistics("mean", 5) == buf.mean(5)
    assert buf.statistics("current") == values[-1]
    logs, cnts = buf.data
    np.testing.assert_array_equal(logs, values)
    np.testing.assert_array_equal(cnts, counts)
    assert len(buf) == 57


def test_initial_history_and_max_length_eviction() -> None:
    buf = HistoryBuffer([1, 2, 3], [1, 1, 1], max_length=2)
    assert buf.data[0].tolist() == [2.0, 3.0]
    buf = HistoryBuffer(max_length=4)
    values = [5.0, 1.0, 9.0, 2.0, 3.0, 4.0, 0.5, 7.0, 6.0]
    for v in values:
        buf.update(v)
    kept = values[-4:]
    assert buf.data[0].tolist() == kept
    assert buf.mean() == pytest.approx(sum(kept) / 4)
    assert buf.mean(3) == pytest.approx(sum(kept[-3:]) / 3)
    # the max (9.0) and other old extremes were evicted: the answers follow the window
    assert buf.max() == max(kept) and buf.min() == min(kept)
    assert buf.current() == 6.0
    with pytest.raises(ValueError):
        HistoryBuffer([1], [1, 2])


def test_running_sums_do_not_drift_over_many_evictions() -> None:
    rng = np.random.default_rng(1)
    values = (rng.normal(size=20000) * 1e6 + 0.1).tolist()
    buf = HistoryBuffer(max_length=100)
    for v in values:
        buf.update(v)
    assert buf.mean() == pytest.approx(float(np.mean(values[-100:])), rel=1e-12)


def test_non_finite_values() -> None:
    buf = HistoryBuffer(max_length=3)
    for v in (1.0, math.inf, 2.0):
        buf.update(v)
    assert buf.mean() == math.inf
    buf.update(float("nan"))
    assert math.isnan(buf.mean()) and math.isnan(buf.max()) and math.isnan(buf.min(2))
    for v in (1.0, 2.0, 3.0):  # pushes inf and nan out of the window
        buf.update(v)
    assert buf.mean() == 2.0 and buf.max() == 3.0 and buf.min() == 1.0


def test_tensors_stay_tensors_until_a_statistic_is_asked() -> None:
    buf = HistoryBuffer()
    loss = torch.tensor(0.25, requires_grad=True) * 2
    with mock.patch.object(torch.Tensor, "item", side_effect=AssertionError("no .item()")):
        for i in range(5):
            buf.update(loss + i)
        buf.update(1.5)  # a plain float among tensors keeps its place
        buf.update(torch.tensor([3.0], dtype=torch.float64))
        assert len(buf._values) == 0  # nothing converted yet
        stack = torch.stack
        with mock.patch.object(torch, "stack", side_effect=stack) as stacked:
            assert buf.current() == 3.0
        # one conversion per (device, dtype) group, not one per value (after a first try at
        # stacking them all, which mixed values refuse)
        assert stacked.call_count == 3
    assert buf.data[0].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 1.5, 3.0]
    assert buf.mean() == pytest.approx(sum([0.5, 1.5, 2.5, 3.5, 4.5, 1.5, 3.0]) / 7)


def test_pending_scalars_of_one_kind_are_converted_in_one_stack() -> None:
    buf = HistoryBuffer()
    for i in range(50):
        buf.update(torch.tensor(float(i)))
    with mock.patch.object(torch, "stack", side_effect=torch.stack) as stacked:
        assert buf.mean(10) == pytest.approx(sum(range(40, 50)) / 10)
    assert stacked.call_count == 1
    assert buf.max() == 49.0 and buf.min() == 0.0
    assert buf.mean() == pytest.approx(sum(range(50)) / 50)


def test_non_finite_values_in_a_batch_of_pending_values() -> None:
    buf = HistoryBuffer()
    for value in (1.0, float("inf"), 2.0):
        buf.update(value)
    assert buf.mean() == float("inf") and buf.max() == float("inf") and buf.min() == 1.0
    buf.update(float("nan"))
    buf.update(3.0)
    assert math.isnan(buf.mean()) and math.isnan(buf.max())
    assert buf.mean(1) == 3.0


def test_pending_tensors_are_bounded() -> None:
    from torchrig.logging import history_buffer

    buf = HistoryBuffer()
    for _ in range(history_buffer._MAX_PENDING + 5):
        buf.update(torch.tensor(1.0))
    assert len(buf._pending) == 5


def test_bad_values() -> None:
    buf = HistoryBuffer()
    with pytest.raises(TypeError):
        buf.update("1.0")
    with pytest.raises(TypeError):
        buf.update(torch.ones(2))
    buf.update(np.float32(2.0), np.int64(2))
    assert buf.mean() == 1.0
    with pytest.raises(ValueError):
        HistoryBuffer().current()
    with pytest.raises(ValueError):
        HistoryBuffer().max()
    assert math.isnan(HistoryBuffer().mean())
    with pytest.raises(TypeError):
        buf.mean("epoch")
    with pytest.raises(KeyError, match="no statistic"):
        buf.statistics("median")


def test_register_statistics() -> None:
    def spread(buffer: HistoryBuffer, window_size: int | None = None) -> float:
        return buffer.max(window_size) - buffer.min(window_size)

    HistoryBuffer.register_statistics(spread)
    try:
        buf = HistoryBuffer([1.0, 4.0, 2.0], [1, 1, 1])
        assert buf.statistics("spread") == 3.0
        assert buf.statistics("spread", window_size=2) == 2.0
        with pytest.raises(KeyError, match="already registered"):
            HistoryBuffer.register_statistics(spread)
    finally:
        HistoryBuffer._statistics_methods.pop("spread")


def test_state_dict_round_trip_and_weights_only_load(tmp_path) -> None:
    buf = HistoryBuffer(max_length=5)
    for i in range(8):
        buf.update(torch.tensor(float(i)), 1 + i % 2)
    state = buf.state_dict()
    assert state == {
        "log_history": [3.0, 4.0, 5.0, 6.0, 7.0],
        "count_history": [2.0, 1.0, 2.0, 1.0, 2.0],
        "max_length": 5,
    }
    path = tmp_path / "buf.pth"
    torch.save(state, path)
    restored = HistoryBuffer.from_state_dict(torch.load(path, weights_only=True))
    assert restored.state_dict() == state
    assert restored.mean(3) == buf.mean(3) and restored.max() == buf.max()
    for clone in (copy.deepcopy(buf), pickle.loads(pickle.dumps(buf))):
        assert clone.state_dict() == state
        clone.update(100.0)
        assert clone.current() == 100.0 and buf.current() == 7.0


def test_windowed_mean_read_after_every_update() -> None:
    # A log line every iteration: one pending value, then the window's mean (zero counts and
    # NaN included, as MMEngine's sum(values) / sum(counts)).
    from torchrig.logging.history_buffer import _divide

    values = [1.0, 2.0, 3.0, float("nan"), 4.0, 5.0, 6.0, 7.0, -1.0]
    counts = [1, 0, 0, 1, 0, 0, 0, 2, 1]
    buf = HistoryBuffer()
    for i, (value, count) in enumerate(zip(values, counts)):
        buf.update(torch.tensor(value) if i % 2 else value, count)
        start = max(i + 1 - 3, 0)
        expected = _divide(sum(values[start : i + 1]), sum(counts[start : i + 1]))
        got = buf.mean(3)
        assert got == expected or (math.isnan(got) and math.isnan(expected)), (i, got, expected)
