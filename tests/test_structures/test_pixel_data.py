from __future__ import annotations

import numpy as np
import pytest
import torch

from torchrig.structures import PixelData


def test_fields_are_chw_with_one_height_and_width():
    pixels = PixelData(metainfo=dict(img_id=1))
    assert pixels.shape is None
    pixels.sem_seg = torch.zeros(3, 20, 40)
    assert pixels.shape == (20, 40)
    with pytest.warns(UserWarning, match=r"\(H, W\) to \(1, H, W\)"):
        pixels.mask = np.zeros((20, 40))
    assert pixels.mask.shape == (1, 20, 40)

    with pytest.raises(AssertionError, match="not consistent"):
        pixels.other = torch.zeros(1, 20, 41)
    with pytest.raises(AssertionError, match="only support"):
        pixels.other = [1, 2]
    with pytest.raises(AssertionError, match="dim of value"):
        PixelData().heat = torch.zeros(1, 1, 2, 2)


def test_slicing_crops_every_field():
    pixels = PixelData(sem_seg=torch.arange(24).view(1, 4, 6), depth=np.ones((2, 4, 6)))
    crop = pixels[1:3, 2:]
    assert crop.shape == (2, 4)
    assert torch.equal(crop.sem_seg, pixels.sem_seg[:, 1:3, 2:])
    assert crop.depth.shape == (2, 2, 4)
    with pytest.raises(TypeError):
        pixels[0]
    with pytest.raises(AssertionError):
        pixels[0, 1, 2]
