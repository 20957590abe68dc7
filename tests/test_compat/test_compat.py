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
    assert mmengine.Config is torchrig.Config and mmengine.runner is torchrig.runner
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
    code = (
        "import torchrig\n"
        "try:\n"
        "    import mmengine\n"
        "except ModuleNotFoundError:\n"
        "    print('NO MMENGINE')\n"
        "else:\n"  # the real one, where it is installed
        "    assert getattr(mmengine, 'Config', None) is not torchrig.Config\n"
        "    print('REAL MMENGINE')\n"
    )
    result = _run(code, {"TORCHRIG_MMENGINE_ALIAS": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() in ("NO MMENGINE", "REAL MMENGINE")


def _fake_mmengine(tmp_path) -> str:
    """A site directory holding an installed (fake) real mmengine."""
    fake = tmp_path / "site" / "mmengine"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n__version__ = '0.9.0'\n")
    return str(tmp_path / "site")


def test_alias_takes_precedence_over_an_installed_mmengine_and_says_so_once(tmp_path):
    code = (
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "from torchrig.compat import alias_mmengine, remove_alias\n"
        "alias_mmengine(); remove_alias(); alias_mmengine()\n"
        "import mmengine, torchrig\n"
        "assert not hasattr(mmengine, 'REAL') and mmengine.Config is torchrig.Config\n"
        "print('ALIASED', mmengine.__version__)\n"
    )
    result = _run(code, {}, pythonpath=[_fake_mmengine(tmp_path)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ALIASED 0.10.7" in result.stdout
    assert result.stderr.count("takes precedence over the real mmengine installed at") == 1
    assert str(tmp_path / "site" / "mmengine") in result.stderr


def test_environment_variable_never_makes_import_torchrig_fail(tmp_path):
    site = _fake_mmengine(tmp_path)
    # Installed, not imported: the alias wins.
    result = _run(
        "import torchrig, mmengine; print('REAL' if hasattr(mmengine, 'REAL') else 'ALIASED')",
        {"TORCHRIG_MMENGINE_ALIAS": "1"},
        pythonpath=[site],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ALIASED"
    # Already imported: torchrig imports, warns, and leaves the real one alone.
    result = _run(
        "import mmengine, torchrig; print('REAL' if hasattr(mmengine, 'REAL') else 'ALIASED')",
        {"TORCHRIG_MMENGINE_ALIAS": "1"},
        pythonpath=[site],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "REAL"
    assert "the alias is off: the real mmengine" in result.stderr
    assert "was already imported" in result.stderr


def test_alias_refuses_when_real_mmengine_was_imported(tmp_path):
    code = "import mmengine\nfrom torchrig.compat import alias_mmengine\nalias_mmengine()\n"
    result = _run(code, {}, pythonpath=[_fake_mmengine(tmp_path)])
    assert result.returncode != 0
    assert "was already imported in this process" in result.stderr


def test_python_m_compat_with_the_environment_variable_set(tmp_path):
    # The alias is switched on at ``import torchrig`` and again by ``-m torchrig.compat``.
    script = tmp_path / "tool.py"
    script.write_text(
        "import sys, mmengine\nprint('TOOL', mmengine.__version__, sys.argv[1:], sys.path[0])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), TORCHRIG_MMENGINE_ALIAS="1")
    result = subprocess.run(
        [sys.executable, "-m", "torchrig.compat", str(script), "--x", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"TOOL 0.10.7 ['--x', '1'] {tmp_path}" in result.stdout
    assert "RuntimeWarning" not in result.stderr  # runpy: compat was imported twice


def test_aliased_versions_are_mmengine_api_level():
    code = (
        "import torchrig\n"
        "import mmengine, mmengine.version\n"
        "from mmengine.utils import digit_version\n"
        "from torchrig.version import MMENGINE_API_VERSION\n"
        "assert mmengine.__version__ == MMENGINE_API_VERSION == '0.10.7'\n"
        "assert mmengine.version_info == (0, 10, 7)\n"
        "assert mmengine.version.__version__ == '0.10.7'\n"
        "assert mmengine.version.version_info == mmengine.version_info\n"
        "assert tuple(digit_version(mmengine.__version__))[:3] == mmengine.version_info\n"
        "assert digit_version(mmengine.__version__) >= digit_version('0.8.3')\n"
        "assert torchrig.__version__ != '0.10.7'\n"
        "assert torchrig.version.__version__ == torchrig.__version__\n"
        "assert mmengine.Config is torchrig.Config and mmengine.__file__ == torchrig.__file__\n"
        "print('VERSIONS OK')\n"
    )
    result = _run(code, {"TORCHRIG_MMENGINE_ALIAS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "VERSIONS OK" in result.stdout


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
