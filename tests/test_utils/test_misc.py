"""MMEngine's ``mmengine.utils.misc`` helpers."""

from __future__ import annotations

import warnings
from collections import namedtuple

import pytest

from torchrig.utils import (
    apply_to,
    check_prerequisites,
    concat_list,
    deprecated_api_warning,
    deprecated_function,
    get_object_from_string,
    has_method,
    is_method_overridden,
    iter_cast,
    list_cast,
    requires_executable,
    requires_package,
    slice_list,
    to_1tuple,
    to_2tuple,
    to_4tuple,
    to_ntuple,
    tuple_cast,
)


def test_to_ntuple_repeats_scalars_and_keeps_iterables():
    assert to_2tuple(3) == (3, 3)
    assert to_1tuple("a") == "a"  # a string is iterable: passed through, as in MMEngine
    assert to_4tuple([1, 2]) == [1, 2]
    assert to_ntuple(3)(0.5) == (0.5, 0.5, 0.5)


def test_casts():
    assert list_cast(["1", "2"], int) == [1, 2]
    assert tuple_cast([1, 2], str) == ("1", "2")
    assert list(iter_cast((1.5, 2.5), int)) == [1, 2]
    with pytest.raises(TypeError, match="iterable"):
        iter_cast(1, int)
    with pytest.raises(TypeError, match="dst_type"):
        iter_cast([1], "int")


def test_slice_and_concat_list():
    assert slice_list([1, 2, 3, 4, 5, 6], [1, 2, 3]) == [[1], [2, 3], [4, 5, 6]]
    assert slice_list([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="does not match"):
        slice_list([1, 2, 3], [1, 1])
    with pytest.raises(TypeError, match="indices"):
        slice_list([1, 2], (1, 1))
    assert concat_list([[1, 2], [3], []]) == [1, 2, 3]


def test_requires_package_and_executable():
    @requires_package("json")
    def ok():
        return 1

    @requires_package(["json", "no_such_package_xyz"])
    def missing():
        return 1

    @requires_executable("no-such-program-xyz")
    def missing_exe():
        return 1

    assert ok() == 1
    with pytest.raises(RuntimeError, match="no_such_package_xyz.*missing"):
        missing()
    with pytest.raises(RuntimeError, match="no-such-program-xyz"):
        missing_exe()
    check = check_prerequisites("x", checker=lambda item: False, msg_tmpl="need {} in {}")

    def f():
        return 1

    with pytest.raises(RuntimeError, match="need x in f"):
        check(f)()


def test_deprecated_api_warning_renames_arguments():
    @deprecated_api_warning({"old": "new"}, cls_name="Thing")
    def func(new=0):
        return new

    with pytest.warns(DeprecationWarning, match='"old" is deprecated in `Thing.func`'):
        assert func(old=3) == 3
    with pytest.raises(TypeError, match="both"):
        func(old=1, new=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert func(new=5) == 5

    @deprecated_api_warning({"old": "new"})
    def legacy(old):
        return old

    with pytest.warns(DeprecationWarning, match='"old" is deprecated in `legacy`'):
        assert legacy(4) == 4


def test_deprecated_function_warns_and_documents():
    @deprecated_function("0.1", "0.3", "use g instead")
    def f():
        """Does f."""
        return 7

    with pytest.warns(
        DeprecationWarning, match="deprecated in version 0.1 .* removed in version 0.3"
    ):
        assert f() == 7
    assert "Does f." in f.__doc__ and "deprecated:: 0.1" in f.__doc__


def test_is_method_overridden_and_has_method():
    class Base:
        def foo(self):
            pass

    class Sub(Base):
        def foo(self):
            pass

    class Same(Base):
        pass

    assert is_method_overridden("foo", Base, Sub)
    assert is_method_overridden("foo", Base, Sub())
    assert not is_method_overridden("foo", Base, Same)
    with pytest.raises(TypeError):
        is_method_overridden("foo", Base(), Sub)
    assert has_method(Sub(), "foo") and not has_method(Sub(), "bar")


def test_apply_to_keeps_container_types():
    Point = namedtuple("Point", "x y")
    data = {"a": [1, "s", (2, Point(3, "t"))]}
    out = apply_to(data, lambda x: isinstance(x, int), lambda x: x * 10)
    assert out == {"a": [10, "s", (20, Point(30, "t"))]}
    assert isinstance(out["a"][2][1], Point)


def test_get_object_from_string():
    import os.path

    assert get_object_from_string("os.path.join") is os.path.join
    assert get_object_from_string("torchrig.utils.misc.to_2tuple") is to_2tuple
    assert get_object_from_string("no_such_module_xyz.a") is None
    assert get_object_from_string("os.path.no_such_name") is None
    assert get_object_from_string("torchrig.utils.dl_utils.time_counter.TimeCounter").__name__ == (
        "TimeCounter"
    )  # a submodule not imported yet is imported
    assert get_object_from_string("json") is __import__("json")
