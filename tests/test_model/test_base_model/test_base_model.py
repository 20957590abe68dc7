from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.model import BaseDataPreprocessor, BaseModel, ImgDataPreprocessor
from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper


class ToyModel(BaseModel):
    def __init__(self, data_preprocessor=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.fc = nn.Linear(3, 1)
        self.modes: list[str] = []

    def forward(self, inputs, data_samples=None, mode="tensor"):
        self.modes.append(mode)
        out = self.fc(inputs)
        if mode == "loss":
            return {"loss_mse": ((out - data_samples) ** 2).mean(), "acc": out.detach().mean()}
        if mode == "predict":
            return [out]
        return out


def _batch() -> dict:
    torch.manual_seed(1)
    return {"inputs": torch.randn(4, 3), "data_samples": torch.randn(4, 1)}


def test_parse_losses_sums_loss_keys_and_detaches_log_vars():
    model = ToyModel()
    weight = torch.tensor([1.0, 2.0], requires_grad=True)
    losses = {
        "loss_a": weight * 2,  # mean -> 3
        "loss_list": [weight, weight * 0 + 1],  # 1.5 + 1 -> 2.5
        "acc": torch.tensor([0.5, 1.5]),  # logged, not summed
    }
    loss, log_vars = model.parse_losses(losses)
    assert loss.item() == pytest.approx(5.5)
    assert list(log_vars) == ["loss", "loss_a", "loss_list", "acc"]
    assert log_vars["acc"].item() == pytest.approx(1.0)
    assert log_vars["loss_list"].item() == pytest.approx(2.5)
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in log_vars.values())
    loss.backward()
    # d/dw of mean(2w) + mean(w) = 1 + 0.5 per element.
    assert torch.allclose(weight.grad, torch.tensor([1.5, 1.5]))


def test_parse_losses_without_loss_key_and_bad_values():
    model = ToyModel()
    loss, log_vars = model.parse_losses({"acc": torch.tensor(0.3)})
    assert loss.item() == 0.0 and log_vars["acc"].item() == pytest.approx(0.3)
    with pytest.raises(TypeError, match="'loss_x'"):
        model.parse_losses({"loss_x": 1.0})


def test_train_step_updates_as_a_manual_sgd_step():
    model = ToyModel()
    reference = ToyModel()
    reference.load_state_dict(model.state_dict())
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    batch = _batch()
    log_vars = model.train_step(batch, optim_wrapper)
    assert model.modes == ["loss"]
    assert set(log_vars) == {"loss", "loss_mse", "acc"}
    assert not log_vars["loss"].requires_grad

    ref_loss = ((reference.fc(batch["inputs"]) - batch["data_samples"]) ** 2).mean()
    ref_loss.backward()
    with torch.no_grad():
        for param in reference.parameters():
            param -= 0.1 * param.grad
    assert log_vars["loss"].item() == pytest.approx(ref_loss.item())
    for got, want in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(got, want)
        assert got.grad is None or torch.all(got.grad == 0)


def test_val_and_test_step_predict():
    model = ToyModel()
    batch = _batch()
    out = model.val_step(batch)
    assert torch.allclose(out[0], model.fc(batch["inputs"]))
    model.test_step(batch)
    assert model.modes == ["predict", "predict"]
    # A tuple batch goes in as positional arguments.
    assert torch.allclose(model.val_step((batch["inputs"], None))[0], out[0])
    with pytest.raises(TypeError, match="dict, list or tuple"):
        model._run_forward(batch["inputs"], mode="tensor")


def test_data_preprocessor_from_config_or_module():
    assert isinstance(ToyModel().data_preprocessor, BaseDataPreprocessor)
    built = ToyModel(data_preprocessor=dict(type="ImgDataPreprocessor", mean=[1.0], std=[2.0]))
    assert isinstance(built.data_preprocessor, ImgDataPreprocessor)
    given = BaseDataPreprocessor()
    assert ToyModel(data_preprocessor=given).data_preprocessor is given
    with pytest.raises(TypeError, match="data_preprocessor"):
        ToyModel(data_preprocessor="ImgDataPreprocessor")


def test_to_moves_the_preprocessor_device():
    model = ToyModel()
    model.to(torch.float64)  # a dtype alone leaves the device
    assert model.data_preprocessor.device == torch.device("cpu")
    model.to("meta")
    assert model.data_preprocessor.device == torch.device("meta")
    assert model.fc.weight.device.type == "meta"
    moved = model.data_preprocessor({"inputs": torch.ones(2)})
    assert moved["inputs"].device.type == "meta"
    other = ToyModel()
    other.data_preprocessor._device = torch.device("meta")
    other.cpu()
    assert other.data_preprocessor.device == torch.device("cpu")


def test_forward_is_abstract():
    with pytest.raises(TypeError):
        BaseModel()


def test_train_step_still_runs_forward_hooks_of_model_and_preprocessor():
    model = ToyModel()
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    seen: list[str] = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append("model") or None, with_kwargs=True
    )
    model.data_preprocessor.register_forward_hook(
        lambda module, args, output: seen.append("preprocessor")
    )
    model.train_step(_batch(), optim_wrapper)
    assert seen == ["preprocessor", "model"]
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, output: seen.append(type(module).__name__)
    )
    try:
        seen.clear()
        model.train_step(_batch(), optim_wrapper)
    finally:
        handle.remove()
    assert "ToyModel" in seen and "BaseDataPreprocessor" in seen
