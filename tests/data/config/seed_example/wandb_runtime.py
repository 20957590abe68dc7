_base_ = ["../_base_/default_runtime.py"]
_base_.visualizer.vis_backends = [
    dict(type="WandbVisBackend", init_kwargs={"project": "mmdet", "entity": "someone"}),
]
