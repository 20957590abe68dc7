"""The seed's second example: a GAN with its own ``train_step``, one optimizer wrapper per
sub-network in an ``OptimWrapperDict``, a plain DataLoader and a visualizer instance."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from torchrig.model import BaseModel, ImgDataPreprocessor
from torchrig.optim import OptimWrapper, OptimWrapperDict
from torchrig.runner import Runner
from torchrig.visualization import Visualizer


class Points(Dataset):
    def __init__(self) -> None:
        self.images = torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 255

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.images[index])


class GAN(BaseModel):
    """MMEngine's GAN tutorial in small: a discriminator step, then a generator step."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        noise_size: int,
        data_preprocessor: nn.Module,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.generator = generator
        self.discriminator = discriminator
        self.noise_size = noise_size

    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> dict:
        inputs = self.data_preprocessor(data, True)["inputs"].flatten(1)
        noise = torch.randn(inputs.shape[0], self.noise_size)
        fake = self.generator(noise)
        with optim_wrapper["discriminator"].optim_context(self.discriminator):
            real_logits = self.discriminator(inputs)
            fake_logits = self.discriminator(fake.detach())
            loss_dis = F.binary_cross_entropy_with_logits(
                real_logits, torch.ones_like(real_logits)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            optim_wrapper["discriminator"].update_params(loss_dis)
        with optim_wrapper["generator"].optim_context(self.generator):
            logits = self.discriminator(self.generator(noise))
            loss_gen = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            optim_wrapper["generator"].update_params(loss_gen)
        return dict(loss_dis=loss_dis.detach(), loss_gen=loss_gen.detach())

    def forward(self, inputs=None, data_samples=None, mode="tensor"):
        return self.generator(torch.randn(4, self.noise_size))


def test_the_seed_gan_example_trains_both_networks(tmp_path: Path) -> None:
    generator = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    data_preprocessor = ImgDataPreprocessor(mean=[127.5], std=[127.5])
    model = GAN(generator, discriminator, 8, data_preprocessor)
    train_dataloader = DataLoader(Points(), batch_size=8, shuffle=True)
    train_cfg = dict(by_epoch=True, max_epochs=2)
    opt_g_wrapper = OptimWrapper(torch.optim.Adam(generator.parameters(), lr=2e-3))
    opt_d_wrapper = OptimWrapper(torch.optim.Adam(discriminator.parameters(), lr=1e-3))
    opt_wrapper_dict = OptimWrapperDict(generator=opt_g_wrapper, discriminator=opt_d_wrapper)
    visualizer = Visualizer.get_instance(
        name="gan_visualizer",
        vis_backends=[dict(type="LocalVisBackend")],
        save_dir=str(tmp_path / "vis"),
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}

    runner = Runner(
        model,
        work_dir=str(tmp_path / "runs/gan/"),
        train_dataloader=train_dataloader,
        train_cfg=train_cfg,
        optim_wrapper=opt_wrapper_dict,
        visualizer=visualizer,
        default_hooks=dict(logger=dict(type="LoggerHook", interval=1)),
    )
    runner.train()

    after = model.state_dict()
    for prefix in ("generator.", "discriminator."):
        changed = [
            k for k in after if k.startswith(prefix) and not torch.equal(after[k], before[k])
        ]
        assert changed, f"no {prefix[:-1]} weight changed"
    assert runner.iter == 8 and runner.epoch == 2
    rows = [
        json.loads(line)
        for path in (tmp_path / "vis").rglob("scalars.json")
        for line in path.read_text().splitlines()
    ]
    train_rows = [row for row in rows if "loss_gen" in row]
    assert [row["step"] for row in train_rows] == list(range(1, 9))
    assert all(
        row["generator.lr"] == 2e-3 and row["discriminator.lr"] == 1e-3 for row in train_rows
    )
    # The runner was built from objects: the recorded config describes them.
    assert runner.cfg.optim_wrapper["type"] == "OptimWrapperDict"
    assert runner.cfg.optim_wrapper["generator"]["optimizer"]["type"] == "Adam"
    assert runner.cfg.model["type"] == "GAN"
    assert runner.cfg.train_cfg == train_cfg
    checkpoint = torch.load(tmp_path / "runs/gan/epoch_2.pth", weights_only=True)
    assert set(checkpoint["optimizer"]) == {"generator", "discriminator"}
