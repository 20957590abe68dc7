from __future__ import annotations

from unittest.mock import patch

from torchrig.hooks import EmptyCacheHook


def _count_calls(make_runner, loops, **kwargs):
    runner = make_runner(max_epochs=2, epoch_len=3, hooks=[EmptyCacheHook(**kwargs)])
    with patch("torchrig.hooks.empty_cache_hook._empty_cache") as empty:
        loops.train_by_epoch(runner, [{"acc": 1.0}, {"acc": 1.0}])
    return empty.call_count


def test_default_empties_after_each_epoch(make_runner, loops):
    assert _count_calls(make_runner, loops) == 4  # 2 train + 2 val epochs


def test_every_point_can_be_chosen(make_runner, loops):
    assert _count_calls(make_runner, loops, after_epoch=False) == 0
    # 6 train + 4 val iterations, 4 epochs before
    assert (
        _count_calls(make_runner, loops, before_epoch=True, after_epoch=False, after_iter=True)
        == 14
    )


def test_real_call_is_safe_without_a_gpu():
    from torchrig.hooks.empty_cache_hook import _empty_cache

    _empty_cache()
