# scikit-learn's 8x8 digits: 1437 training and 360 validation images.
from torchrig.dataset import DefaultSampler, default_collate
from torchrig.testing.digits import Accuracy, DigitsDataset, PackDigitsInputs

dataset_type = DigitsDataset
pipeline = [dict(type=PackDigitsInputs)]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type=DefaultSampler, shuffle=True),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=dataset_type, split="train", pipeline=pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type=DefaultSampler, shuffle=False),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=dataset_type, split="val", pipeline=pipeline),
)
val_evaluator = dict(type=Accuracy)

test_dataloader = val_dataloader
test_evaluator = val_evaluator
