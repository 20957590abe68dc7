from torchrig.config import read_base

extra_value = 5
