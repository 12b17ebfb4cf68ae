"""Defaults per model family and budget-relative schedules (reports/recipes.md says why)."""

import pytest
import torch

from dabench import models
from dabench.catalog.defaults import FAMILY_DEFAULTS, REFERENCE_STEPS
from dabench.data import get_task
from dabench.methods import METHODS, get_method
from dabench.methods.base import Stage
from dabench.trainable import default_config, resolve_config

SCRATCH_TASK = {
    "closed": "digits/synth2hand",
    "open_set": "digits-openset/synth2blend",
    "partial": "digits-partial/synth2blend",
    "segmentation": "shapes/flat2textured",
}
FINETUNE_TASK = {
    "closed": "office31/A2W",
    "open_set": "office31-openset/A2W",
    "partial": "office31-partial/A2W",
}
CPU = torch.device("cpu")


def test_the_task_model_decides_the_family():
    assert [models.family(m) for m in ("mlp", "lenet", "dtn", "small_fcn")] == ["scratch"] * 4
    assert {models.family(m) for m in (*models.RESNETS, "deeplabv2_resnet101")} == {"finetune"}
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.family("vgg")


@pytest.mark.parametrize(
    ("method", "setting"),
    [(m, s) for m, recipe in sorted(METHODS.items()) for s in recipe.settings],
)
def test_family_defaults_resolve_per_task(method, setting):
    """A bundled task (small network from scratch) gets the scratch defaults over the recipe's;
    a ResNet task keeps the reference's fine-tuning values."""
    recipe = METHODS[method]
    scratch = {
        **FAMILY_DEFAULTS["scratch"].get(setting, {}),
        **recipe.family_defaults.get("scratch", {}),
    }
    resolved = resolve_config({"method": method, "task": SCRATCH_TASK[setting]})
    assert {k: resolved[k] for k in scratch} == scratch
    if setting in FINETUNE_TASK:
        reference = {**recipe.defaults, **recipe.setting_defaults.get(setting, {})}
        finetune = resolve_config({"method": method, "task": FINETUNE_TASK[setting]})
        assert {k: finetune[k] for k in reference} == reference
    user = resolve_config({"method": method, "task": SCRATCH_TASK[setting], "lr": 0.123})
    assert user["lr"] == 0.123  # the config wins over every default


def reference_recipe(method: str, task: str, steps: int):
    """``method`` with its fine-tuning (reference) defaults, built on bundled ``task``."""
    finetune = {"closed": "office31/A2W", "partial": "office31-partial/A2W"}
    setting = get_task(task).setting
    hp = {**default_config(method, finetune[setting]), "task": task, "steps": steps}
    return get_method(method)(get_task(task), hp, CPU)


def lr_at(recipe, stage: Stage, step: int) -> float:
    """The base learning rate (before group multipliers) of ``stage`` at ``step``."""
    _, scheduler = recipe.optimizers(stage)[0]
    return scheduler.lr_lambdas[0](step)


def test_budget_relative_keys_reproduce_the_reference_schedule_at_its_step_count():
    # DANN: lr 0.01·(1 + 0.001 x)^-0.75 and a GRL with max_iters 1000, over 20,000 steps
    dann = reference_recipe("dann", "moons/rot40", REFERENCE_STEPS)
    main = dann.stages(REFERENCE_STEPS)[0]
    for step, expected in ((0, 0.01), (1000, 0.005946), (20000, 0.001019)):  # spec §1.8
        assert lr_at(dann, main, step) == pytest.approx(expected, abs=1e-6)
    assert dann.domain_adv.grl.max_iters == pytest.approx(1000)
    # ADDA and BSP: 3,000 pre-training steps then 20,000 adversarial ones, γ 0.0003 / 0.001
    for method, gamma, lr in (("adda", 0.0003, 0.001), ("bsp", 0.001, 0.003)):
        recipe = reference_recipe(method, "moons/rot40", 23000)
        pretrain, adapt = recipe.stages(23000)
        assert (pretrain.steps, adapt.steps) == (3000, 20000)
        assert lr_at(recipe, pretrain, 3000) == pytest.approx(0.001 * (1 + gamma * 3000) ** -0.75)
        assert lr_at(recipe, adapt, 20000) == pytest.approx(lr * (1 + gamma * 20000) ** -0.75)
        assert recipe.domain_adv.grl.max_iters == pytest.approx(1000)
    # PADA: class weights every 500 steps
    pada = reference_recipe("pada", "digits-partial/synth2blend", REFERENCE_STEPS)
    assert pada.class_weights.update_steps == 500


def test_budget_relative_keys_keep_the_shape_at_any_budget():
    long, short = (reference_recipe("dann", "moons/rot40", n) for n in (REFERENCE_STEPS, 300))
    for fraction in (0.0, 0.1, 0.5, 1.0):
        assert lr_at(short, Stage("main", 300), round(300 * fraction)) == pytest.approx(
            lr_at(long, Stage("main", REFERENCE_STEPS), round(REFERENCE_STEPS * fraction))
        )
    assert short.domain_adv.grl.max_iters == pytest.approx(300 * 0.05)
    pada = reference_recipe("pada", "digits-partial/synth2blend", 300)
    assert pada.class_weights.update_steps == round(300 / 40)


def test_methods_command_shows_which_defaults_apply_to_which_task(capsys):
    from dabench.cli import main

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    finetune = next(line for line in out.splitlines() if line.strip().startswith("finetune"))
    scratch = next(line for line in out.splitlines() if line.strip().startswith("scratch "))
    assert "office31/*" in finetune and "digits/synth2hand" in scratch
    assert main(["methods", "--task", "digits-partial/synth2blend"]) == 0
    out = capsys.readouterr().out
    assert "scratch defaults" in out and out.count("\n") == 1 + 5  # the partial methods
    expected = default_config("iwan", "digits-partial/synth2blend")["lr"]
    assert f"lr={expected:.4g}" in next(
        line for line in out.splitlines() if line.startswith("iwan")
    )
