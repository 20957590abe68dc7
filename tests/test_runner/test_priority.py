from __future__ import annotations

import pytest

from torchrig.runner.priority import Priority, get_priority


def test_names_numbers_and_members_give_the_same_value():
    assert get_priority("NORMAL") == get_priority("normal") == get_priority(Priority.NORMAL) == 50
    assert get_priority(0) == 0
    assert get_priority(100) == 100
    assert [p.value for p in Priority] == [0, 10, 30, 40, 50, 60, 70, 90, 100]


@pytest.mark.parametrize("bad", [-1, 101])
def test_out_of_range_number_is_rejected(bad):
    with pytest.raises(ValueError, match="between 0 and 100"):
        get_priority(bad)


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="VERY_LOW"):
        get_priority("medium")


@pytest.mark.parametrize("bad", [1.5, None, True])
def test_other_types_are_rejected(bad):
    with pytest.raises(TypeError):
        get_priority(bad)
