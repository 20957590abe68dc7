# SGD with momentum, the learning rate divided by 10 after epochs 2 and 3.
from torch.optim import SGD

from torchrig.optim import MultiStepLR, OptimWrapper

optim_wrapper = dict(type=OptimWrapper, optimizer=dict(type=SGD, lr=0.1, momentum=0.9))
param_scheduler = dict(type=MultiStepLR, by_epoch=True, milestones=[2, 3], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
val_cfg = dict()
test_cfg = dict()

# Scales the learning rate to the total batch size when enabled (`--auto-scale-lr`).
auto_scale_lr = dict(base_batch_size=32)
