from __future__ import annotations

import argparse

import pytest

from torchrig.config import DictAction


def _parse(*pairs: str) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    return parser.parse_args(["--cfg-options", *pairs]).cfg_options


def test_scalars():
    options = _parse("i=1", "f=0.5", "e=1e-3", "t=true", "F=False", "n=None", "s=hello")
    assert options == {"i": 1, "f": 0.5, "e": 1e-3, "t": True, "F": False, "n": None, "s": "hello"}
    assert type(options["i"]) is int and type(options["f"]) is float


def test_lists_tuples_and_nesting():
    options = _parse(
        "a=1,2,3", "b=[1,2]", "c=(1,2)", "d=[(1,2),(3,4)]", "e=[[1,[2,3]],(a,b)]", "f=[]"
    )
    assert options["a"] == [1, 2, 3]
    assert options["b"] == [1, 2]
    assert options["c"] == (1, 2)
    assert options["d"] == [(1, 2), (3, 4)]
    assert options["e"] == [[1, [2, 3]], ("a", "b")]
    assert options["f"] == []


def test_quotes_spaces_and_dotted_keys():
    options = _parse("model.backbone.depth=101", "work_dir='my dir'", 'x="[1, 2]"', "y=a=b")
    assert options == {
        "model.backbone.depth": 101,
        "work_dir": "my dir",
        "x": [1, 2],
        "y": "a=b",
    }


def test_later_pairs_override_and_repeated_options_accumulate():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    ns = parser.parse_args(["--cfg-options", "a=1", "a=2", "--cfg-options", "b=3"])
    assert ns.cfg_options == {"a": 2, "b": 3}


@pytest.mark.parametrize("bad", ["no_equals_sign", "=1", "model..depth=1", "a=[1,2"])
def test_unparsable_pairs_are_usage_errors_naming_the_pair(bad, capsys):
    with pytest.raises(SystemExit):
        _parse(bad)
    assert repr(bad) in capsys.readouterr().err
