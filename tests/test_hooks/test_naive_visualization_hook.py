from __future__ import annotations

import numpy as np
import torch

from torchrig.hooks import NaiveVisualizationHook
from torchrig.structures import BaseDataElement


def test_images_are_denormalized_unpadded_and_resized(make_runner):
    hook = NaiveVisualizationHook(interval=2)
    runner = make_runner()
    runner.iter = 40
    meta = dict(
        img_norm_cfg=dict(mean=(10.0, 10.0, 10.0), std=(2.0, 2.0, 2.0)),
        img_shape=(4, 6),
        pad_shape=(8, 8),
        ori_shape=(8, 12),
        img_path="/data/cat.png",
    )
    sample = BaseDataElement(metainfo=meta)
    batch = {"inputs": [torch.full((3, 8, 8), 5.0)], "data_samples": [sample]}
    hook.after_test_iter(runner, 0, batch, [sample])
    runner.visualizer.add_datasample.assert_not_called()  # not the interval's iteration
    hook.after_test_iter(runner, 1, batch, [sample])
    call = runner.visualizer.add_datasample.call_args
    name, image = call.args
    assert name == "cat.png"
    assert image.shape == (8, 12, 3) and image.dtype == np.uint8
    assert (image == 20).all()  # 5 * 2 + 10
    assert call.kwargs["data_sample"] is sample
    assert call.kwargs["draw_gt"] and call.kwargs["draw_pred"]
    assert call.kwargs["step"] == 40  # the training iteration, not the batch index


def test_list_batches_without_metadata(make_runner):
    hook = NaiveVisualizationHook(draw_gt=False)
    runner = make_runner()
    batch = [{"inputs": torch.zeros(1, 4, 4)}, {"inputs": torch.ones(1, 4, 4)}]
    hook.after_test_iter(runner, 0, batch, [None, None])
    calls = runner.visualizer.add_datasample.call_args_list
    assert [c.args[0] for c in calls] == ["test_0_0", "test_0_1"]
    assert calls[1].args[1].shape == (4, 4, 1) and calls[1].args[1].max() == 1
    assert calls[0].kwargs["draw_gt"] is False
