from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchrig.config import Config, ConfigKeyError
from torchrig.config.options import RUNNER_KEYS

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "configs" / "digits" / "digits_mlp.py"


@pytest.mark.parametrize(
    ("option", "named", "suggested"),
    [
        ("train_cgf.max_epochs", "'train_cgf'", "'train_cfg'"),
        ("train_cfg.max_epoch", "'train_cfg.max_epoch'", "'train_cfg.max_epochs'"),
        ("model.hiden_dims", "'model.hiden_dims'", "'model.hidden_dims'"),
        (
            "default_hooks.chekpoint.interval",
            "'default_hooks.chekpoint'",
            "'default_hooks.checkpoint'",
        ),
    ],
)
def test_typo_is_an_error_naming_key_file_and_close_match(option, named, suggested):
    cfg = Config.fromfile(DIGITS)
    with pytest.raises(ConfigKeyError) as info:
        cfg.merge_from_dict({option: 2})
    message = str(info.value)
    assert f"the config has no {named}" in message and f"did you mean {suggested}" in message
    assert str(DIGITS) in message and f"'+{option}'" in message
    assert cfg.train_cfg.max_epochs == 20  # nothing merged


def test_unknown_top_level_key_without_close_match():
    cfg = Config(dict(model=dict(depth=50)))
    with pytest.raises(
        ConfigKeyError, match=r"has no 'depth'\. To add it on purpose, write '\+depth'"
    ):
        cfg.merge_from_dict({"depth": 3})


def test_new_keys_mmengine_configs_rely_on_are_accepted():
    cfg = Config.fromfile(DIGITS)
    del cfg["randomness"]
    cfg.merge_from_dict(
        {
            "randomness.seed": 3,  # a Runner key the config does not name
            "default_hooks.checkpoint.save_last": False,  # a new argument of a component
            "model.dropout": 0.1,
            "load_from": "x.pth",
        }
    )
    assert cfg.randomness.seed == 3 and cfg.load_from == "x.pth"
    assert cfg.default_hooks.checkpoint.save_last is False and cfg.model.dropout == 0.1


def test_plus_prefix_and_allow_new_keys_add_on_purpose():
    cfg = Config(dict(model=dict(depth=50)))
    cfg.merge_from_dict({"+extra.nested.value": 1, "+model.dpeth": 2})
    assert cfg.extra.nested.value == 1 and cfg.model.dpeth == 2 and cfg.model.depth == 50
    cfg.merge_from_dict({"other.x": 1}, allow_new_keys=True)
    assert cfg.other.x == 1


def test_runner_keys_cover_what_the_runner_reads():
    source = (ROOT / "torchrig" / "runner" / "runner.py").read_text()
    source += (ROOT / "torchrig" / "runner" / "_builders.py").read_text()
    read = set(re.findall(r"cfg(?:\.get\(|\[)\"(\w+)\"", source))
    assert read and read <= RUNNER_KEYS, read - RUNNER_KEYS
