"""The installed torchrig version."""

__version__ = "0.1.0"

# The MMEngine release whose public API torchrig implements: ``mmengine.__version__`` under
# the alias (torchrig.compat), which OpenMMLab packages compare with their minimum.
MMENGINE_API_VERSION = "0.10.7"
