# The runtime, as a pure-Python config (MMEngine's newer style): every type is a class.
from torchrig.hooks import (
    CheckpointHook,
    DistSamplerSeedHook,
    IterTimerHook,
    LoggerHook,
    ParamSchedulerHook,
    RuntimeInfoHook,
)
from torchrig.runner import LogProcessor
from torchrig.visualization import LocalVisBackend, Visualizer

default_hooks = dict(
    runtime_info=dict(type=RuntimeInfoHook),
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=15),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, interval=1),
    sampler_seed=dict(type=DistSamplerSeedHook),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="gloo"),
)

vis_backends = [dict(type=LocalVisBackend)]
visualizer = dict(type=Visualizer, vis_backends=vis_backends)
log_processor = dict(type=LogProcessor, window_size=10, by_epoch=True)

log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
default_scope = None
