# The digits classifier, tracked in Weights & Biases: written as the W&B docs show for
# OpenMMLab libraries (a base runtime config, its visualizer's backends replaced).
# Without an account, set WANDB_MODE=offline: the run is written locally for `wandb sync`.
_base_ = ["./digits_mlp.py"]

_base_.visualizer.vis_backends = [
    dict(type="LocalVisBackend"),
    dict(type="WandbVisBackend", init_kwargs={"project": "torchrig-digits"}),
]

# At each validation, a W&B Table of 16 fixed validation digits with the model's predictions
# (and once, those digits with their class names); other backends get them as JSON lines.
custom_hooks = [dict(type="WandbTableHook", num_samples=16, input_shape=(8, 8))]
