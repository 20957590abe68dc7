from torchrig.config import ConfigDict
from torchrig.fileio import JsonHandler

import torchrig.fileio.handlers as handlers

handler = dict(type=JsonHandler)
container = dict(type=ConfigDict, a=1, b=[1, 2])
other = dict(type=handlers.YamlHandler)
max_epochs = 10
model = dict(type="ToyModel", depth=18, layers=[1, 2])
