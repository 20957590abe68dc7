import pytest

from torchrig.utils import ManagerMixin, digit_version, import_modules_from_strings


class Thing(ManagerMixin):
    def __init__(self, name: str = "", value: int = 0):
        super().__init__(name)
        self.value = value


def test_get_instance_creates_once_and_tracks_current():
    first = Thing.get_instance("first_t", value=1)
    assert Thing.get_instance("first_t", value=99).value == 1
    assert Thing.get_current_instance() is first
    second = Thing.get_instance("second_t", value=2)
    assert Thing.get_current_instance() is second
    Thing.get_instance("first_t")
    assert Thing.get_current_instance() is first
    assert Thing.check_instance_created("second_t")
    assert not Thing.check_instance_created("third_t")
    assert second.instance_name == "second_t"
    Thing._instance_dict.clear()
    assert Thing.get_current_instance() is None


def test_class_without_name_argument_is_refused():
    with pytest.raises(TypeError, match="name"):

        class Broken(ManagerMixin):
            def __init__(self, value):
                pass


def test_empty_name_is_refused():
    with pytest.raises(TypeError):
        Thing("")


def test_digit_version_orders_prereleases():
    assert digit_version("2.13.0+cpu") > digit_version("2.9.1")
    assert digit_version("2.1.0rc1") < digit_version("2.1.0")


def test_import_modules_from_strings():
    import json

    assert import_modules_from_strings("json") is json
    assert import_modules_from_strings(["json", "no_such_mod_x"], allow_failed_imports=True) == [
        json,
        None,
    ]
    with pytest.raises(ImportError, match="no_such_mod_x"):
        import_modules_from_strings(["no_such_mod_x"])
