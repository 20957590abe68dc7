"""The JSON handler's default= for values json does not know."""

from __future__ import annotations

import pytest

from torchrig.fileio.handlers.json_handler import set_default


def test_json_set_default():
    import numpy as np

    assert set_default({1}) == [1] and set_default(range(2)) == [0, 1]
    assert set_default(np.array([1, 2])) == [1, 2] and set_default(np.float32(1.5)) == 1.5
    with pytest.raises(TypeError):
        set_default(object())
