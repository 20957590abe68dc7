# The runtime every config inherits, in OpenMMLab's layout.
default_scope = "torchrig"

default_hooks = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=1),
    # a live display on a terminal; nothing in files, pipes or CI
    progress=dict(type="ProgressBarHook"),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    # nccl on GPUs; gloo runs everywhere, CPU included.
    dist_cfg=dict(backend="gloo"),
)

vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends, name="visualizer")

log_processor = dict(type="LogProcessor", window_size=10, by_epoch=True)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0)
