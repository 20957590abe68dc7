"""The package itself: version, cheap import, MMEngine's top-level names."""

import subprocess
import sys

import torchrig


def test_version_and_typed_marker():
    from importlib.resources import files

    assert torchrig.__version__.count(".") == 2
    assert files("torchrig").joinpath("py.typed").is_file()


def test_import_torchrig_is_light():
    code = (
        "import sys, torchrig\n"
        "heavy = [m for m in ('torch', 'wandb', 'tensorboard', 'mlflow', 'matplotlib') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_top_level_names_as_mmengine_exports_them():
    from torchrig import Config, Registry, dump, load, mkdir_or_exist, print_log

    assert Config is torchrig.config.Config
    assert Registry is torchrig.registry.Registry
    assert (dump, load) == (torchrig.fileio.dump, torchrig.fileio.load)
    assert mkdir_or_exist is torchrig.utils.mkdir_or_exist
    assert print_log is torchrig.logging.print_log
    try:
        torchrig.NoSuchName  # noqa: B018
    except AttributeError as err:
        assert "NoSuchName" in str(err)
    else:
        raise AssertionError("an unknown top-level name must raise AttributeError")
