"""Data elements passed between datasets, models and metrics (MMEngine's ``structures``)."""

from torchrig.structures.base_data_element import BaseDataElement
from torchrig.structures.instance_data import InstanceData
from torchrig.structures.label_data import LabelData
from torchrig.structures.pixel_data import PixelData

__all__ = ["BaseDataElement", "InstanceData", "LabelData", "PixelData"]
