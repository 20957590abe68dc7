"""Makes ``epoch_2.pth`` with the REAL MMEngine 0.10.7 (not run by the test suite).

Run it where the real mmengine is installed, without torchrig's alias::

    python -m venv --system-site-packages /tmp/mme
    /tmp/mme/bin/pip install --no-deps mmengine==0.10.7 addict termcolor yapf \
        opencv-python-headless
    /tmp/mme/bin/python tests/data/mmengine_ckpt/make_checkpoint.py

It trains ``Tiny`` (below; ``tests/test_compat/test_mmengine_checkpoint.py`` defines the same
model) for 2 epochs of 3 iterations with SGD (momentum) and a MultiStepLR schedule, validating
each epoch, and keeps the last checkpoint. The file's message hub holds MMEngine's
``HistoryBuffer`` objects and numpy values, as every MMEngine checkpoint does.
"""

import os
import shutil
import tempfile

import mmengine
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner

assert mmengine.__version__ == "0.10.7", mmengine.__version__
HERE = os.path.dirname(os.path.abspath(__file__))


class Tiny(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode="tensor"):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == "loss":
            return dict(loss=((out - targets) ** 2).mean())
        if mode == "predict":
            return [dict(error=float(((o - t) ** 2).sum())) for o, t in zip(out, targets)]
        return out


class MeanError(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(sample["error"] for sample in data_samples)

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results))


def _data():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(12, 2, generator=generator)
    targets = inputs.sum(dim=1, keepdim=True)
    samples = [dict(inputs=x, targets=y) for x, y in zip(inputs, targets)]
    return torch.utils.data.DataLoader(
        samples, batch_size=4, collate_fn=torch.utils.data.default_collate
    )


def main():
    work_dir = tempfile.mkdtemp()
    runner = Runner(
        model=Tiny(),
        work_dir=work_dir,
        train_dataloader=_data(),
        val_dataloader=_data(),
        val_evaluator=Evaluator(MeanError()),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        param_scheduler=dict(type="MultiStepLR", milestones=[1], gamma=0.5, by_epoch=True),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
        randomness=dict(seed=0),
        experiment_name="mmengine_0_10_7_tiny",
    )
    runner.train()
    shutil.copy(os.path.join(work_dir, "epoch_2.pth"), os.path.join(HERE, "epoch_2.pth"))
    shutil.rmtree(work_dir)
    print("wrote", os.path.join(HERE, "epoch_2.pth"))


if __name__ == "__main__":
    main()
