"""Small utilities shared by every torchrig package (no torch import here)."""

from torchrig.utils.manager import ManagerMeta, ManagerMixin
from torchrig.utils.misc import (
    digit_version,
    import_modules_from_strings,
    is_list_of,
    is_seq_of,
    is_str,
    is_tuple_of,
    mkdir_or_exist,
)

__all__ = [
    "ManagerMeta",
    "ManagerMixin",
    "digit_version",
    "import_modules_from_strings",
    "is_list_of",
    "is_seq_of",
    "is_str",
    "is_tuple_of",
    "mkdir_or_exist",
]
