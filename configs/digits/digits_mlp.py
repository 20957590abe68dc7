# A 64-128-10 perceptron on scikit-learn's 8x8 digits; about 30 s on 2 CPU cores.
_base_ = ["../_base_/default_runtime.py"]

custom_imports = dict(imports=["torchrig.testing.digits"], allow_failed_imports=False)

model = dict(type="DigitsClassifier", hidden_dims=[128], num_classes=10)

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="DigitsDataset", split="train"),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="DigitsDataset", split="val"),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="Accuracy")
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=2)
val_cfg = dict()
test_cfg = dict()

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=3e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=45),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=1, end=20, eta_min=1e-5),
]

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=15),
    checkpoint=dict(type="CheckpointHook", interval=5, max_keep_ckpts=2, save_best="accuracy/top1"),
)
