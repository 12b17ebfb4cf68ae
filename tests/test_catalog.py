"""The catalog is the one home of what the registries register: every built-in recipe and task
takes its declaration from it, and a declaration that cannot be built is refused."""

import pytest

from dabench.catalog import methods as catalog_methods
from dabench.catalog import tasks as catalog_tasks
from dabench.catalog.defaults import config_defaults
from dabench.catalog.methods import MethodInfo, method_info
from dabench.catalog.tasks import TaskInfo, task_info
from dabench.data import get_task, list_tasks
from dabench.data.registry import register_builtin, task_spec
from dabench.methods import METHODS
from dabench.trainable import default_config


def test_every_recipe_is_its_declaration():
    assert set(METHODS) == set(catalog_methods.METHODS)
    for name, recipe in METHODS.items():
        info = catalog_methods.METHODS[name]
        assert recipe.name == info.name and recipe.settings == info.settings
        assert recipe.defaults is info.defaults  # the same object, not a copy that could drift
        assert recipe.setting_defaults is info.setting_defaults
        assert recipe.family_defaults is info.family_defaults


def test_every_registered_task_is_its_declaration():
    registered = {spec.name: spec for spec in list_tasks()}
    assert list(registered) == [info.name for info in catalog_tasks.list_tasks()]
    for name, spec in registered.items():
        info = catalog_tasks.TASKS[name]
        assert (spec.description, spec.setting, spec.model, spec.needs_root) == (
            info.description, info.setting, info.model, info.needs_root)  # fmt: skip
    moons = get_task("moons/rot40")
    assert (moons.setting, moons.model) == (task_info("moons/rot40").setting, "mlp")


@pytest.mark.parametrize("task", ["moons/rot40", "digits-partial/uci2mnist", "office31/A2W",
                                  "shapes/flat2textured", "digits/MNIST2SVHN"])  # fmt: skip
def test_the_listing_defaults_are_the_trials(task):
    info = task_info(task)
    for name, method in catalog_methods.METHODS.items():
        if info.setting in method.settings:
            assert config_defaults(method, info.setting, info.model) == default_config(name, task)


def test_unknown_names_are_refused_naming_what_is_accepted():
    with pytest.raises(ValueError, match=r"unknown task 'moons/rot4' \(did you mean 'moons/rot40'"):
        task_info("moons/rot4")
    with pytest.raises(ValueError, match=r"unknown task 'nope'") as catalog_error:
        task_info("nope")
    with pytest.raises(ValueError) as registry_error:
        task_spec("nope")
    assert str(catalog_error.value) == str(registry_error.value)
    with pytest.raises(ValueError, match=r"unknown method 'dan' \(did you mean 'dann'.*known "):
        method_info("dan")


def test_a_declaration_that_cannot_be_built_is_refused():
    with pytest.raises(ValueError, match="setting must be one of closed, open_set, partial, "
                       "segmentation; got 'semi'"):  # fmt: skip
        TaskInfo("x/y", "a task", "semi", "lenet")
    with pytest.raises(ValueError, match=r"model must be one of mlp, lenet, .*; got 'vgg16'"):
        TaskInfo("x/y", "a task", "closed", "vgg16")
    with pytest.raises(ValueError, match=r"settings must be among closed, .* got \('semi',\)"):
        MethodInfo("m", ("semi",))
    with pytest.raises(ValueError, match=r"'x/y' is not declared in dabench\.catalog\.tasks\.TASKS; "
                       "a task of one's own is registered with register_task"):  # fmt: skip
        register_builtin("x/y")
