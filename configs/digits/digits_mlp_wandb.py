# The digits classifier, tracked in Weights & Biases: written as the W&B docs show for
# OpenMMLab libraries (a base runtime config, its visualizer's backends replaced).
# Without an account, set WANDB_MODE=offline: the run is written locally for `wandb sync`.
_base_ = ["./digits_mlp.py"]

_base_.visualizer.vis_backends = [
    dict(type="LocalVisBackend"),
    dict(type="WandbVisBackend", init_kwargs={"project": "torchrig-digits"}),
]
