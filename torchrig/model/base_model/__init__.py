"""``BaseModel`` and the data preprocessors."""

from torchrig.model.base_model.base_model import BaseModel
from torchrig.model.base_model.data_preprocessor import BaseDataPreprocessor, ImgDataPreprocessor

__all__ = ["BaseDataPreprocessor", "BaseModel", "ImgDataPreprocessor"]
