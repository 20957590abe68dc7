"""Model wrappers for distributed training, and ``is_model_wrapper``."""

from torchrig.model.wrappers.distributed import MMDistributedDataParallel
from torchrig.model.wrappers.fully_sharded_distributed import MMFullyShardedDataParallel
from torchrig.model.wrappers.seperate_distributed import MMSeparateDistributedDataParallel
from torchrig.model.wrappers.utils import is_model_wrapper

__all__ = [
    "MMDistributedDataParallel",
    "MMFullyShardedDataParallel",
    "MMSeparateDistributedDataParallel",
    "is_model_wrapper",
]
