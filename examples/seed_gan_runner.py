"""The W&B docs' second MMEngine example, with the import path changed: a Runner built from
objects (a GAN with its own train_step, one optimizer wrapper per sub-network in an
OptimWrapperDict, a plain DataLoader, a train_cfg dict and the visualizer of the first example),
then trained. Run with WANDB_MODE=offline to stay local (no account needed)."""

import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

from torchrig.optim import OptimWrapper, OptimWrapperDict
from torchrig.runner import Runner
from torchrig.testing.digits import DigitsGAN
from torchrig.visualization import Visualizer

visualization_cfg = dict(
    name="wandb_visualizer",
    vis_backends=[dict(type="WandbVisBackend", init_kwargs=dict(project="mmengine"))],
    save_dir="runs/wandb",
)
visualizer = Visualizer.get_instance(**visualization_cfg)

digits = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
train_dataloader = DataLoader(
    TensorDataset(digits),
    batch_size=64,
    shuffle=True,
    collate_fn=lambda batch: dict(inputs=torch.stack([item[0] for item in batch])),
)
train_cfg = dict(by_epoch=True, max_epochs=5)

model = DigitsGAN(noise_size=16, hidden=128)
opt_wrapper_dict = OptimWrapperDict(
    generator=OptimWrapper(
        torch.optim.Adam(model.generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    ),
    discriminator=OptimWrapper(
        torch.optim.Adam(model.discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    ),
)

# build the Runner (MMEngine's training helper for PyTorch)
runner = Runner(
    model,
    work_dir="runs/gan/",
    train_dataloader=train_dataloader,
    train_cfg=train_cfg,
    optim_wrapper=opt_wrapper_dict,
    visualizer=visualizer,  # the visualizer
)

# start training
runner.train()
