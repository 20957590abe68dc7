import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: int = 300):
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true")
    env["PYTHONPATH"] = str(REPO)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "torchrig", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def test_config_prints_resolved_config_with_seed_style_assignment():
    result = run_cli("config", str(CONFIGS / "digits" / "digits_mlp_wandb.py"))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "WandbVisBackend" in text and "torchrig-digits" in text
    assert "DigitsClassifier" in text  # inherited from digits_mlp.py
    assert "RuntimeInfoHook" in text  # inherited from _base_/default_runtime.py
    namespace: dict = {}
    exec(compile(text, "<pretty_text>", "exec"), namespace)  # the output is valid Python
    assert namespace["visualizer"]["type"] == "Visualizer"
    assert [b["type"] for b in namespace["visualizer"]["vis_backends"]] == [
        "LocalVisBackend",
        "WandbVisBackend",
    ]


def test_config_applies_cfg_options():
    result = run_cli(
        "config",
        str(CONFIGS / "digits" / "digits_mlp.py"),
        "--cfg-options",
        "train_cfg.max_epochs=3",
    )
    assert result.returncode == 0, result.stderr
    namespace: dict = {}
    exec(result.stdout, namespace)
    assert namespace["train_cfg"]["max_epochs"] == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("train", "configs/no_such.py"), "config file not found: configs/no_such.py"),
        (("test", "configs/digits/digits_mlp.py", "nope.pth"), "checkpoint not found: nope.pth"),
        (("plot", "no_such_dir"), "work dir not found"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, expected):
    result = run_cli(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_type_names_registry_and_close_match(tmp_path):
    config = tmp_path / "bad.py"
    config.write_text(
        "_base_ = ['{}']\nmodel = dict(type='DigitsClassifer')\n".format(
            CONFIGS / "digits" / "digits_mlp.py"
        )
    )
    result = run_cli("train", str(config), "--work-dir", str(tmp_path / "work"))
    assert result.returncode == 2
    assert "DigitsClassifer" in result.stderr and "DigitsClassifier" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run_cli("--debug", "train", str(config), "--work-dir", str(tmp_path / "work"))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_main_job_shortened_trains_tracks_and_plots(tmp_path):
    work_dir = tmp_path / "digits"
    result = run_cli(
        "train",
        str(CONFIGS / "digits" / "digits_mlp_wandb.py"),
        "--work-dir",
        str(work_dir),
        "--cfg-options",
        "train_cfg.max_epochs=4",
        "train_cfg.val_interval=2",
        "default_hooks.checkpoint.interval=2",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "training finished" in result.stdout
    assert sorted(p.name for p in work_dir.glob("epoch_*.pth")) == ["epoch_2.pth", "epoch_4.pth"]
    assert list(work_dir.glob("*/*.log"))
    runs = list(work_dir.rglob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    scalars = [
        json.loads(line) for p in work_dir.glob("*/vis_data/scalars.json") for line in p.open()
    ]
    val = [r for r in scalars if "accuracy/top1" in r]
    assert [r["step"] for r in val] == [90, 180]  # 45 iterations an epoch, val every 2 epochs
    assert val[-1]["accuracy/top1"] > 85.0

    out = tmp_path / "curves.png"
    plot = run_cli("plot", str(work_dir), "--keys", "loss", "accuracy/top1", "--out", str(out))
    assert plot.returncode == 0, plot.stderr
    assert "loss" in plot.stdout and "accuracy/top1" in plot.stdout
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 500
    # matplotlib's first line colour (#1f77b4) is drawn in both panels (upper and lower half).
    blue = np.all(np.abs(image[..., :3] - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.08, axis=-1)
    half = image.shape[0] // 2
    assert blue[:half].sum() > 50 and blue[half:].sum() > 20


def test_gan_config_trains_both_wrappers_and_logs_generated_digits(tmp_path):
    work_dir = tmp_path / "gan"
    result = run_cli(
        "train",
        str(CONFIGS / "digits" / "digits_gan.py"),
        "--work-dir",
        str(work_dir),
        "--cfg-options",
        "train_cfg.max_epochs=2",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    import torch

    first = torch.load(work_dir / "epoch_1.pth", weights_only=True)
    last = torch.load(work_dir / "epoch_2.pth", weights_only=True)
    for prefix in ("generator.", "discriminator."):
        keys = [k for k in last["state_dict"] if k.startswith(prefix)]
        assert keys and any(
            not torch.equal(first["state_dict"][k], last["state_dict"][k]) for k in keys
        ), f"{prefix} weights did not change between epochs"
    scalars = [
        json.loads(line) for p in work_dir.glob("*/vis_data/scalars.json") for line in p.open()
    ]
    assert all("generator.lr" in r and "discriminator.lr" in r for r in scalars if "loss_gen" in r)
    images = sorted(work_dir.glob("*/vis_data/vis_image/generated_digits_*.png"))
    assert [p.stem for p in images] == ["generated_digits_29", "generated_digits_58"]
    import matplotlib.image

    grid = matplotlib.image.imread(images[-1])
    assert grid.shape[:2] == (148, 148) and grid.max() > 0.5  # 4x4 digits of 8x8 pixels, x4


def test_cfg_options_typo_is_an_error_with_close_match(tmp_path):
    args = ("train", str(CONFIGS / "digits" / "digits_mlp.py"), "--work-dir", str(tmp_path))
    result = run_cli(*args, "--cfg-options", "train_cgf.max_epochs=2")
    assert result.returncode == 2, result.stderr
    assert (
        "'train_cgf.max_epochs'" in result.stderr and "did you mean 'train_cfg'?" in result.stderr
    )
    assert "'+train_cgf.max_epochs'" in result.stderr
    assert not list(tmp_path.glob("*.pth"))  # nothing trained
    added = run_cli("config", args[1], "--cfg-options", "+my_note=hello")
    assert added.returncode == 0 and "my_note = 'hello'" in added.stdout


def test_messages_keep_their_quotes_and_debug_works_after_the_command(tmp_path):
    config = tmp_path / "bad.py"
    config.write_text(
        f"_base_ = ['{CONFIGS / 'digits' / 'digits_mlp.py'}']\nmodel = dict(type='DigitsClasifier')\n"
    )
    result = run_cli("train", str(config), "--work-dir", str(tmp_path / "work"))
    line = result.stderr.splitlines()[0]
    assert "'DigitsClasifier'" in line and line.count("'") % 2 == 0, line
    debug = run_cli("train", str(config), "--work-dir", str(tmp_path / "work"), "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_refused_checkpoint_points_to_convert_which_makes_it_loadable(tmp_path):
    import torch

    from torchrig.logging import HistoryBuffer

    # A checkpoint with objects weights_only=True refuses, as MMEngine writes them.
    work = tmp_path / "work"
    train = run_cli(
        "train", str(CONFIGS / "digits" / "digits_mlp.py"), "--work-dir", str(work),
        "--cfg-options", "train_cfg.max_epochs=1",
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    checkpoint = torch.load(work / "epoch_1.pth", weights_only=True)
    checkpoint["message_hub"] = {"log_scalars": {"loss": HistoryBuffer([1.0], [1])}}
    foreign = tmp_path / "foreign.pth"
    torch.save(checkpoint, foreign)
    refused = run_cli(
        "test",
        str(CONFIGS / "digits" / "digits_mlp.py"),
        str(foreign),
        "--work-dir",
        str(tmp_path / "t"),
    )
    assert refused.returncode == 2
    assert f"torchrig convert {foreign} <converted.pth>" in refused.stderr
    assert "\x1b[" not in refused.stderr
    converted = tmp_path / "converted.pth"
    result = run_cli("convert", str(foreign), str(converted))
    assert result.returncode == 0, result.stderr
    tested = run_cli(
        "test",
        str(CONFIGS / "digits" / "digits_mlp.py"),
        str(converted),
        "--work-dir",
        str(tmp_path / "t"),
    )
    assert tested.returncode == 0, tested.stderr
    assert "accuracy/top1" in tested.stdout


def _hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_resume_from_another_work_dir_leaves_the_source_alone(tmp_path):
    """--resume PATH into a new work dir: every backend (local, TensorBoard, MLflow, W&B)
    starts a new run there, continuing at the resumed iteration; nothing in the source
    work dir changes; the config names the source under resumed_from."""
    import torch
    from mlflow.tracking import MlflowClient

    from tests.test_visualization._readers import (
        read_local_scalars,
        read_tensorboard,
        read_wandb_run,
        wandb_run_files,
    )
    from torchrig.config import Config

    config = tmp_path / "four.py"
    config.write_text(
        f"_base_ = ['{CONFIGS / 'digits' / 'digits_mlp.py'}']\n"
        "train_cfg = dict(max_epochs=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=1, save_best=None))\n"
        "_base_.visualizer.vis_backends = [dict(type='LocalVisBackend'),"
        " dict(type='TensorboardVisBackend'), dict(type='MLflowVisBackend'),"
        " dict(type='WandbVisBackend', init_kwargs=dict(project='resume-test'))]\n"
    )
    source, target = tmp_path / "source", tmp_path / "target"
    first = run_cli("train", str(config), "--work-dir", str(source))
    assert first.returncode == 0, first.stderr
    before = _hashes(source)
    second = run_cli(
        "train", str(config), "--work-dir", str(target), "--resume", str(source / "epoch_1.pth")
    )
    assert second.returncode == 0, second.stderr
    assert _hashes(source) == before

    (vis_data,) = target.glob("*/vis_data")
    iters_per_epoch = torch.load(source / "epoch_1.pth", weights_only=True)["meta"]["iter"]
    local_steps = [row["step"] for row in read_local_scalars(str(vis_data / "scalars.json"))]
    assert min(local_steps) > iters_per_epoch and max(local_steps) == 2 * iters_per_epoch
    tb_steps = [step for step, _ in read_tensorboard(str(vis_data))["scalars"]["loss"]]
    assert min(tb_steps) > iters_per_epoch
    client = MlflowClient(tracking_uri=f"sqlite:///{vis_data}/mlflow.db")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    mlflow_steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss")]
    assert min(mlflow_steps) > iters_per_epoch
    (new_run,) = [read_wandb_run(p) for p in wandb_run_files(str(vis_data))]
    (old_run,) = [read_wandb_run(p) for p in wandb_run_files(str(next(source.glob("*/vis_data"))))]
    assert new_run.run_id != old_run.run_id
    assert min(i for i in new_run.iters if i is not None) > iters_per_epoch

    (recorded,) = target.glob("*/vis_data/config.py")
    resumed_from = Config.fromfile(recorded).resumed_from
    assert resumed_from.checkpoint == str(source / "epoch_1.pth")
    assert resumed_from.work_dir == str(source) and resumed_from.iter == iters_per_epoch
    assert resumed_from.runs  # the source's run ids, to link the runs


def test_readme_command_listing_matches_the_parser():
    """The README's listing of commands (a text block, not run) names real commands and options."""
    from torchrig.cli.main import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]  # noqa: SLF001
    readme = (REPO / "README.md").read_text()
    listed = [line for line in readme.splitlines() if line.startswith("torchrig ")]
    assert len(listed) >= 5
    for line in listed:
        name = line.split()[1]
        assert name in commands.choices, line
        known = set(commands.choices[name]._option_string_actions)  # noqa: SLF001
        for option in re.findall(r"(?<![\w-])(--[\w-]+)", line.split("#")[0]):
            assert option in known, (line, option)
