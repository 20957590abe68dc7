from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.config import Config, ConfigDict, ConfigParsingError, LazyAttr, LazyObject
from torchrig.fileio import JsonHandler, PickleHandler, YamlHandler

ROOT = Path(__file__).resolve().parents[2]
LAZY = ROOT / "tests" / "data" / "config" / "lazy"


def test_read_base_star_and_named_imports():
    cfg = Config.fromfile(LAZY / "child.py")
    assert cfg.max_epochs == 20  # overridden in the child
    assert cfg.model.depth == 34  # attribute assignment on the inherited dict
    assert cfg.model.layers == [1, 2]
    assert cfg.renamed == 5 and cfg.total == 25
    for name in ("base.py", "extra.py", "child.py"):
        assert str(LAZY / name) in cfg.text


def test_imports_are_lazy_objects_built_on_access():
    cfg = Config.fromfile(LAZY / "child.py")
    raw = cfg.to_dict()
    assert raw["handler"]["type"] == LazyObject("torchrig.fileio", "JsonHandler")
    assert isinstance(raw["other"]["type"], LazyAttr)
    assert cfg.handler.type is JsonHandler
    assert cfg.other.type is YamlHandler
    assert cfg.pickle_cfg["type"] is PickleHandler
    # imported names are kept only on request
    assert "JsonHandler" not in raw
    assert "JsonHandler" in cfg.to_dict(keep_imported=True)


def test_build_through_registry_accepts_lazy_type():
    from torchrig.registry import Registry

    registry = Registry("test_lazy")
    cfg = Config.fromfile(LAZY / "child.py")
    assert isinstance(registry.build(cfg.handler), JsonHandler)
    assert isinstance(registry.build(cfg.other), YamlHandler)
    built = registry.build(cfg.container)
    assert type(built) is ConfigDict and built.to_dict() == {"a": 1, "b": [1, 2]}


def test_lazy_config_does_not_import_torch_until_used(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text(
        "from torch.optim import SGD\nimport torch.nn as nn\n"
        "optimizer = dict(type=SGD, lr=0.1)\nact = dict(type=nn.ReLU)\n"
    )
    code = (
        "import sys\nfrom torchrig.config import Config\n"
        "cfg = Config.fromfile(sys.argv[1])\n"
        "print('torch' in sys.modules)\n"
        "print(cfg.optimizer.type.__name__, cfg.act.type.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["False", "SGD ReLU"]


def test_dump_and_reload_lazy_config(tmp_path):
    cfg = Config.fromfile(LAZY / "child.py")
    cfg.dump(tmp_path / "dumped.py")
    text = (tmp_path / "dumped.py").read_text()
    assert "from torchrig.fileio import JsonHandler" in text
    reloaded = Config.fromfile(tmp_path / "dumped.py")
    assert reloaded.to_dict() == cfg.to_dict()
    assert reloaded.handler.type is JsonHandler


def test_lazy_errors_name_file_and_line(tmp_path):
    missing = tmp_path / "missing.py"
    missing.write_text(
        "from torchrig.config import read_base\nwith read_base():\n    from .nope import *\n"
    )
    with pytest.raises(FileNotFoundError, match="nope.py"):
        Config.fromfile(missing)
    (tmp_path / "base.py").write_text("a = 1\n")
    bad_name = tmp_path / "bad_name.py"
    bad_name.write_text(
        "from torchrig.config import read_base\nwith read_base():\n    from .base import b\n"
    )
    with pytest.raises(KeyError, match=r"bad_name\.py, line 3.*'b'"):
        Config.fromfile(bad_name)
    star = tmp_path / "star.py"
    star.write_text("from torchrig.fileio import *\n")
    with pytest.raises(ConfigParsingError, match=r"star\.py, line 1"):
        Config.fromfile(star)
    unknown = tmp_path / "unknown.py"
    unknown.write_text("from no_such_pkg_xyz import Thing\nmodel = dict(type=Thing)\n")
    cfg = Config.fromfile(unknown)
    with pytest.raises(ImportError, match=r"no_such_pkg_xyz.*unknown\.py, line 1"):
        _ = cfg.model.type


def test_cycle_through_read_base(tmp_path):
    (tmp_path / "a.py").write_text(
        "from torchrig.config import read_base\nwith read_base():\n    from .b import *\n"
    )
    (tmp_path / "b.py").write_text(
        "from torchrig.config import read_base\nwith read_base():\n    from .a import *\n"
    )
    with pytest.raises(ConfigParsingError, match="Circular"):
        Config.fromfile(tmp_path / "a.py")


def test_lazy_objects_pickle_and_compare():
    import copy
    import pickle

    lazy = LazyObject("torchrig.fileio", "JsonHandler")
    assert pickle.loads(pickle.dumps(lazy)) == lazy
    assert copy.deepcopy(lazy) == lazy
    assert lazy != LazyObject("torchrig.fileio", "YamlHandler")
    assert str(lazy.JsonThing) == "torchrig.fileio.JsonHandler.JsonThing"
    with pytest.raises(RuntimeError, match="lazily"):
        lazy()


def test_from_dot_import_binds_a_whole_base_config(tmp_path):
    (tmp_path / "schedule.py").write_text("max_epochs = 12\nlr = 0.1\n")
    (tmp_path / "child.py").write_text(
        "from torchrig.config import read_base\n"
        "with read_base():\n    from . import schedule as sched\n"
        "max_epochs = sched.max_epochs * 2\n"
        "del sched\n"
    )
    cfg = Config.fromfile(tmp_path / "child.py")
    assert cfg.to_dict() == {"max_epochs": 24}


LAZY_CONFIGS = ROOT / "configs" / "lazy"


def _train(cfg: Config, work_dir: Path, **options):
    from torchrig.runner import Runner

    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    for key, value in options.items():
        cfg[key] = value
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_pure_python_config_trains_tests_and_resumes(tmp_path):
    """configs/lazy (mmpretrain's layout, every type a class) trains, tests, and a resumed run
    ends with the same weights as an uninterrupted one."""
    import torch

    from torchrig.runner import Runner

    cfg = Config.fromfile(LAZY_CONFIGS / "digits_mlp_sgd.py")
    assert isinstance(cfg.to_dict()["optim_wrapper"]["optimizer"]["type"], LazyObject)
    cfg.merge_from_dict({"train_cfg.max_epochs": 2})
    _train(cfg, tmp_path / "full")
    _train(cfg, tmp_path / "resumed", train_cfg=dict(cfg.train_cfg, max_epochs=1))
    _train(cfg, tmp_path / "resumed", resume=True)
    full = torch.load(tmp_path / "full" / "epoch_2.pth", weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "resumed" / "epoch_2.pth", weights_only=True)["state_dict"]
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)

    test_cfg = copy.deepcopy(cfg)
    test_cfg.work_dir = str(tmp_path / "test")
    test_cfg.load_from = str(tmp_path / "full" / "epoch_2.pth")
    metrics = Runner.from_cfg(test_cfg).test()
    assert metrics["accuracy/top1"] > 80


def test_lazy_types_everywhere_mmengine_allows_them(tmp_path):
    """Loops, hooks, wrappers, constructors, dataset wrappers, samplers, collate functions,
    transforms, metrics, visualizers and backends all given as classes or functions."""
    from torchrig.hooks import EMAHook
    from torchrig.runner import EpochBasedTrainLoop

    shutil.copytree(LAZY_CONFIGS, tmp_path / "lazy")
    config = tmp_path / "lazy" / "everything.py"
    config.write_text(
        "from torchrig.config import read_base\n"
        "with read_base():\n"
        "    from .digits_mlp_sgd import *\n"
        "from torchrig.dataset import RepeatDataset\n"
        "from torchrig.hooks import EMAHook\n"
        "from torchrig.optim import DefaultOptimWrapperConstructor\n"
        "from torchrig.runner import EpochBasedTrainLoop, TestLoop, ValLoop\n"
        "from torchrig.visualization import TensorboardVisBackend\n"
        "train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=1, val_interval=1)\n"
        "val_cfg = dict(type=ValLoop)\n"
        "test_cfg = dict(type=TestLoop)\n"
        "custom_hooks = [dict(type=EMAHook, momentum=0.01)]\n"
        "optim_wrapper.update(constructor=DefaultOptimWrapperConstructor)\n"
        "train_dataloader['dataset'] = dict(type=RepeatDataset, times=2,"
        " dataset=train_dataloader['dataset'])\n"
        "visualizer.update(vis_backends=[dict(type=LocalVisBackend),"
        " dict(type=TensorboardVisBackend)])\n"
        "param_scheduler = None\n"
    )
    runner = _train(Config.fromfile(config), tmp_path / "work")
    assert type(runner.train_loop) is EpochBasedTrainLoop
    assert any(type(hook) is EMAHook for hook in runner.hooks)
    assert len(runner.train_dataloader.dataset) == 2 * len(runner.train_dataloader.dataset.dataset)
    assert runner.message_hub.get_scalar("val/accuracy/top1").current() > 50
    assert list((tmp_path / "work").glob("*/vis_data/events.out.tfevents.*"))
