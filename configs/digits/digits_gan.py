# A small GAN on the digits: one optimizer wrapper per sub-network (an OptimWrapperDict) and a
# grid of generated digits logged as an image after each epoch.
_base_ = ["../_base_/default_runtime.py"]

custom_imports = dict(imports=["torchrig.testing.digits"], allow_failed_imports=False)

model = dict(type="DigitsGAN", noise_size=16, hidden=128)

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="DigitsDataset", split="all"),
)
train_cfg = dict(by_epoch=True, max_epochs=10)

# One wrapper per sub-module, named as the model's attributes: an OptimWrapperDict.
optim_wrapper = dict(
    generator=dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-3, betas=(0.5, 0.999))),
    discriminator=dict(
        type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-3, betas=(0.5, 0.999))
    ),
)

custom_hooks = [dict(type="GeneratedDigitsHook", num_images=16)]
default_hooks = dict(logger=dict(type="LoggerHook", interval=10))
