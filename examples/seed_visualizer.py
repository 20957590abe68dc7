"""The W&B docs' first MMEngine example, with the import path changed: a visualizer built from
a dict through the global-instance manager. Run with WANDB_MODE=offline to stay local."""

from torchrig.visualization import Visualizer

# the visualization config
visualization_cfg = dict(
    name="wandb_visualizer",
    vis_backends=[
        dict(
            type="WandbVisBackend",
            init_kwargs=dict(project="mmengine"),
        )
    ],
    save_dir="runs/wandb",
)

# get the visualizer from the config
visualizer = Visualizer.get_instance(**visualization_cfg)

if __name__ == "__main__":
    visualizer.add_scalars({"hello": 1.0}, step=1)
    visualizer.close()
    print("logged to", visualization_cfg["save_dir"])
