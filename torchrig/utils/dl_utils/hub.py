"""Model-zoo downloads (MMEngine's ``mmengine.utils.dl_utils.hub``, which exports no names of
its own): ``load_url`` is torch's :func:`torch.hub.load_state_dict_from_url`, public through
:mod:`torchrig.utils.dl_utils`."""

from __future__ import annotations

from torch.hub import load_state_dict_from_url as load_url

__all__: list[str] = []

_ = load_url  # re-exported by torchrig.utils.dl_utils
