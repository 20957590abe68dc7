from __future__ import annotations

import copy
import pickle

import pytest

from torchrig.config import ConfigDict, LazyObject


def test_attribute_and_item_access_and_nested_conversion():
    cfg = ConfigDict(model=dict(type="ResNet", layers=[dict(ch=1), (dict(ch=2),)]))
    assert cfg.model.type == "ResNet"
    assert cfg["model"]["type"] == "ResNet"
    assert isinstance(cfg.model, ConfigDict)
    assert isinstance(cfg.model.layers[0], ConfigDict)
    assert isinstance(cfg.model.layers[1][0], ConfigDict)
    assert cfg.model.layers[1][0].ch == 2


def test_set_by_attribute_converts_dicts():
    cfg = ConfigDict()
    cfg.optim = {"lr": 0.1}
    cfg["sched"] = [{"type": "Step"}]
    assert isinstance(cfg.optim, ConfigDict)
    assert cfg.optim.lr == 0.1
    assert cfg.sched[0].type == "Step"
    del cfg.optim
    assert "optim" not in cfg


def test_missing_attribute_is_attribute_error_naming_the_key():
    cfg = ConfigDict(a=1)
    with pytest.raises(AttributeError, match="no_such_key"):
        _ = cfg.no_such_key
    with pytest.raises(KeyError):
        _ = cfg["no_such_key"]
    assert getattr(cfg, "no_such_key", "default") == "default"
    assert not hasattr(cfg, "b")


def test_update_merges_recursively_and_delete_replaces():
    cfg = ConfigDict(model=dict(a=1, b=dict(c=2)))
    cfg.update(model=dict(b=dict(d=3)))
    assert cfg.to_dict() == {"model": {"a": 1, "b": {"c": 2, "d": 3}}}
    cfg.update(model=dict(_delete_=True, x=1))
    assert cfg.to_dict() == {"model": {"x": 1}}


def test_to_dict_gives_plain_types():
    cfg = ConfigDict(a=dict(b=[dict(c=1)]))
    plain = cfg.to_dict()
    assert type(plain) is dict
    assert type(plain["a"]) is dict
    assert type(plain["a"]["b"][0]) is dict
    assert plain == {"a": {"b": [{"c": 1}]}}


def test_copy_deepcopy_and_pickle():
    cfg = ConfigDict(a=dict(b=[1, 2]))
    shallow = copy.copy(cfg)
    assert isinstance(shallow, ConfigDict) and shallow.a is cfg.a
    deep = copy.deepcopy(cfg)
    assert deep == cfg and deep.a is not cfg.a and isinstance(deep.a, ConfigDict)
    loaded = pickle.loads(pickle.dumps(cfg))
    assert loaded == cfg and isinstance(loaded.a, ConfigDict)


def test_lazy_values_are_built_when_read_but_kept_raw_in_to_dict():
    lazy = LazyObject("json", "dumps")
    cfg = ConfigDict(fn=lazy, nested=dict(type=lazy))
    import json

    assert cfg.fn is json.dumps
    assert cfg["nested"]["type"] is json.dumps
    assert cfg.nested.get("type") is json.dumps
    assert dict(cfg.nested.items())["type"] is json.dumps
    assert cfg.to_dict()["fn"] == lazy
    assert cfg.nested.copy().pop("type") is json.dumps


def test_merge_with_dotted_keys():
    cfg = ConfigDict(model=dict(backbone=dict(depth=50, frozen=True)))
    cfg.merge({"model.backbone.depth": 101})
    assert cfg.model.backbone.to_dict() == {"depth": 101, "frozen": True}
