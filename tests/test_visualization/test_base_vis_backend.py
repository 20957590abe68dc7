"""BaseVisBackend's defaults."""

from __future__ import annotations

from torchrig.visualization import BaseVisBackend


def test_a_backend_with_only_add_scalar_gets_each_scalar_of_add_scalars():
    class OnlyScalar(BaseVisBackend):
        def __init__(self) -> None:
            super().__init__(None)
            self.got: list[tuple] = []

        @property
        def experiment(self):
            return self

        def _init_env(self) -> None:
            pass

        def add_scalar(self, name, value, step=0, **kwargs):
            self.got.append((name, value, step))

    backend = OnlyScalar()
    backend.add_scalars({"loss": 0.5, "lr": 0.1}, step=3)
    assert backend.got == [("loss", 0.5, 3), ("lr", 0.1, 3)]
