import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MMENGINE_SNIPPET = textwrap.dedent(
    """
    import torch
    from mmengine.config import Config
    from mmengine.model import BaseModel
    from mmengine.registry import MODELS, Registry
    from mmengine.runner import Runner

    MY_MODELS = Registry('model', parent=MODELS, scope='mylib')

    @MY_MODELS.register_module()
    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return dict(loss=((out - data_samples) ** 2).mean())
            return out

    cfg = Config(dict(model=dict(type='mylib.Tiny')))
    model = MODELS.build(cfg.model)
    samples = [dict(inputs=torch.randn(2), data_samples=torch.randn(1)) for _ in range(12)]
    data = torch.utils.data.DataLoader(
        samples, batch_size=4, collate_fn=torch.utils.data.default_collate)
    runner = Runner(
        model=model, work_dir={work_dir!r}, train_dataloader=data,
        train_cfg=dict(by_epoch=False, max_iters=3, val_interval=10),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
    )
    runner.train()
    import mmengine, torchrig
    assert mmengine is torchrig
    print('ALIAS OK', runner.iter)
    """
)


def _run(code: str, env_extra: dict[str, str], pythonpath: list[str] | None = None):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([*(pythonpath or []), str(REPO)])
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_alias_runs_an_unedited_mmengine_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(MMENGINE_SNIPPET.format(work_dir=str(tmp_path / "work")))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "torchrig.compat", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ALIAS OK 3" in result.stdout
    assert (tmp_path / "work" / "iter_3.pth").exists()


def test_alias_from_environment_variable_at_import_torchrig():
    code = (
        "import torchrig\n"
        "from mmengine.config import Config\n"
        "from mmengine.registry import MODELS\n"
        "import torchrig.config\n"
        "assert Config is torchrig.config.Config\n"
        "print('ENV ALIAS OK')\n"
    )
    result = _run(code, {"TORCHRIG_MMENGINE_ALIAS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ENV ALIAS OK" in result.stdout


def test_alias_is_opt_in():
    result = _run("import torchrig; import mmengine", {"TORCHRIG_MMENGINE_ALIAS": "0"})
    assert result.returncode != 0
    assert "No module named 'mmengine'" in result.stderr


def test_alias_refuses_when_real_mmengine_is_installed(tmp_path):
    fake = tmp_path / "site" / "mmengine"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    code = "from torchrig.compat import alias_mmengine\nalias_mmengine()\n"
    result = _run(code, {}, pythonpath=[str(tmp_path / "site")])
    assert result.returncode != 0
    assert "the real mmengine is installed" in result.stderr


def test_alias_and_remove_in_process():
    from torchrig import compat

    if compat.is_aliased():
        pytest.skip("alias already active in this process")
    compat.alias_mmengine()
    try:
        import mmengine.registry as aliased  # noqa: PLC0415

        import torchrig.registry

        assert aliased is torchrig.registry
        with pytest.raises(ModuleNotFoundError, match="torchrig.no_such_part"):
            import mmengine.no_such_part  # noqa: F401, PLC0415
    finally:
        compat.remove_alias()
    assert "mmengine" not in sys.modules
