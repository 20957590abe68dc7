from torchrig.config import read_base

with read_base():
    from .base import *
    from .extra import extra_value as renamed

from torchrig.fileio import PickleHandler

max_epochs = 20
model.depth = 34
pickle_cfg = dict(type=PickleHandler)
total = max_epochs + renamed
