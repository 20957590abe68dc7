# The digits classifier as a pure-Python config, laid out as mmpretrain's are
# (mmpretrain/configs/resnet/resnet18_8xb16_cifar.py): bases imported in `read_base()`,
# classes instead of registry names. `torchrig train configs/lazy/digits_mlp_sgd.py`.
from torchrig.config import read_base

with read_base():
    from ._base_.datasets.digits_bs32 import *
    from ._base_.default_runtime import *
    from ._base_.models.digits_mlp import *
    from ._base_.schedules.digits_sgd import *

# Fields of an inherited dict are changed in place, as in any Python dict.
model.update(hidden_dims=[256])
train_dataloader.update(batch_size=64)
