import pickle
import subprocess
import sys

import pytest

from torchrig.registry import (
    HOOKS,
    MODELS,
    VISBACKENDS,
    DefaultScope,
    Registry,
    build_from_cfg,
    init_default_scope,
)


@pytest.fixture
def tree():
    root = Registry("thing", scope="root_scope")
    child = Registry("thing", parent=root, scope="childlib")
    grandchild = Registry("thing", parent=child, scope="grandlib")
    return root, child, grandchild


def test_register_decorator_call_names_and_force(tree):
    root, _, _ = tree

    @root.register_module()
    class A:
        pass

    @root.register_module(name=["B1", "B2"])
    class B:
        pass

    def func():
        return 3

    root.register_module(module=func)
    assert root.get("A") is A and root.get("B1") is B and root.get("B2") is B
    assert root.get("func") is func
    assert "A" in root and "Z" not in root and len(root) == 4

    with pytest.raises(KeyError, match="already registered"):

        @root.register_module(name="A")
        class A2:
            pass

    @root.register_module(name="A", force=True)
    class A3:
        pass

    assert root.get("A") is A3
    with pytest.raises(TypeError):
        root.register_module(force="yes")


def test_scoped_lookup_and_parent_fallback(tree):
    root, child, grandchild = tree

    @root.register_module()
    class Base:
        pass

    @child.register_module()
    class Child:
        pass

    @grandchild.register_module()
    class Grand:
        pass

    assert grandchild.get("Base") is Base  # walks up to the parent
    assert root.get("childlib.Child") is Child  # scope prefix finds the child
    assert child.get("grandlib.Grand") is Grand
    assert grandchild.get("root_scope.Base") is Base
    with pytest.raises(KeyError):
        root.get("Child")  # a parent does not see its children's names without a scope


def test_unknown_type_names_registry_scopes_and_close_match():
    with pytest.raises(KeyError) as info:
        VISBACKENDS.get("WandBVisBackend")
    message = str(info.value)
    assert "'WandBVisBackend' is not in the VISBACKENDS registry" in message
    assert "torchrig" in message
    assert "Did you mean 'WandbVisBackend'" in message


def test_unknown_scope_is_named(tree):
    root, _, _ = tree
    with pytest.raises(KeyError, match="no registry .* has scope 'nolib'"):
        root.get("nolib.Thing")


def test_build_type_as_name_or_class_and_default_args(tree):
    root, _, _ = tree

    @root.register_module()
    class Point:
        def __init__(self, x, y=0):
            self.x, self.y = x, y

    p = root.build(dict(type="Point", x=1), default_args=dict(y=5))
    assert (p.x, p.y) == (1, 5)
    p = build_from_cfg(dict(type=Point, x=2, y=3), root, dict(y=9))
    assert (p.x, p.y) == (2, 3)  # the config wins over default_args
    with pytest.raises(KeyError, match="has no 'type'"):
        root.build(dict(x=1))
    with pytest.raises(TypeError, match="must be a dict"):
        root.build(["Point"])


def test_failing_constructor_names_type_and_config_and_chains(tree):
    root, _, _ = tree

    @root.register_module()
    class Fragile:
        def __init__(self, value):
            raise ValueError(f"bad value {value}")

    with pytest.raises(ValueError) as info:
        root.build(dict(type="Fragile", value=7))
    assert "Fragile" in str(info.value) and "'value': 7" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "bad value 7"


def test_default_scope_switches_registry(tree):
    root, child, _ = tree

    @root.register_module(name="Net")
    class RootNet:
        pass

    @child.register_module(name="Net")
    class ChildNet:
        pass

    assert isinstance(root.build(dict(type="Net")), RootNet)
    with DefaultScope.overwrite_default_scope("childlib"):
        assert isinstance(root.build(dict(type="Net")), ChildNet)
    assert isinstance(root.build(dict(type="Net", _scope_="childlib")), ChildNet)
    assert isinstance(root.build(dict(type="Net")), RootNet)


def test_init_default_scope_makes_it_current():
    before = dict(DefaultScope._instance_dict)
    try:
        init_default_scope("somelib")
        assert DefaultScope.get_current_instance().scope_name == "somelib"
        init_default_scope("otherlib")
        init_default_scope("somelib")
        assert DefaultScope.get_current_instance().scope_name == "somelib"
    finally:
        DefaultScope._instance_dict.clear()
        DefaultScope._instance_dict.update(before)


def test_child_without_scope_or_locations_is_refused(tree):
    root, _, _ = tree
    with pytest.raises(ValueError, match="scope="):
        Registry("thing", parent=root)
    lib = Registry("thing", parent=root, locations=["mylib.models"])
    assert lib.scope == "mylib"


def test_locations_are_imported_on_first_lookup(tmp_path, monkeypatch):
    pkg = tmp_path / "lazylib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "registry.py").write_text(
        "from torchrig.registry import Registry\n"
        "THINGS = Registry('thing', scope='lazylib', locations=['lazylib.things'])\n"
    )
    (pkg / "things.py").write_text(
        "from lazylib.registry import THINGS\n@THINGS.register_module()\nclass Lazy:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from lazylib.registry import THINGS  # noqa: PLC0415

    assert "lazylib.things" not in sys.modules
    assert THINGS.get("Lazy").__name__ == "Lazy"
    assert "lazylib.things" in sys.modules
    for name in [m for m in sys.modules if m.startswith("lazylib")]:
        del sys.modules[name]


def test_root_registries_find_torchrig_builtins_lazily():
    code = (
        "import sys\n"
        "from torchrig.registry import HOOKS\n"
        "assert 'torchrig.hooks' not in sys.modules\n"
        "assert HOOKS.get('CheckpointHook').__name__ == 'CheckpointHook'\n"
        "assert 'torchrig.hooks' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_registry_does_not_import_torch():
    code = "import sys, torchrig.registry, torchrig.utils; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_is_usable_after_pickle_of_built_objects(tree):
    root, _, _ = tree
    assert pickle.loads(pickle.dumps(dict(type="X")))["type"] == "X"
    assert MODELS.name == "model" and HOOKS.scope == "torchrig"
