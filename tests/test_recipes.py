"""Every recipe end-to-end on a bundled task: support table, validation, label-blindness, resume."""

import pytest
import torch

from dabench.data import get_task, registry
from dabench.data.task import InMemoryDataset, Task
from dabench.methods import METHODS, Batch, get_method
from dabench.methods.base import sgd
from dabench.trainable import CHECKPOINT_FILE, resolve_config, run_trial

SUPPORT = {
    "closed": {"source_only", "target_oracle", "dann", "cdan", "adda", "bsp"},
    "open_set": {"source_only", "target_oracle", "dann", "osbp"},
    "partial": {"source_only", "target_oracle", "dann", "pada", "iwan"},
    "segmentation": {"source_only", "target_oracle", "advent"},
}
TASK_OF = {
    "closed": "moons/rot40",
    "open_set": "digits-openset/synth2blend",
    "partial": "digits-partial/synth2blend",
    "segmentation": "shapes/flat2textured",
}
PAIRS = [(method, setting) for setting, methods in SUPPORT.items() for method in sorted(methods)]
SHORT = {"steps": 6, "eval_every": 3, "batch_size": 8}
EXTRA = {"pada": {"class_weight_updates": 4.0}, "adda": {"pretrain_fraction": 0.5}}


@pytest.fixture(autouse=True)
def small_evaluation_splits(monkeypatch):
    """The bundled tasks with 64-sample validation and test splits: evaluation is most of a short
    run's time, and these tests check mechanics, not accuracy."""
    for name in TASK_OF.values():
        use(monkeypatch, name, shrink(get_task(name)))


def shrink(task: Task, size: int = 64) -> Task:
    splits = dict(task.splits)
    for split in ("source_val", "target_val", "target_test"):
        splits[split] = splits[split].subset(torch.arange(size))
    return Task(**{**task.__dict__, "splits": splits})


def use(monkeypatch, name: str, task: Task) -> None:
    """Make ``get_task(name)`` return ``task``."""
    spec = registry._REGISTRY[name]
    factory = lambda root, seed: task  # noqa: E731
    monkeypatch.setitem(
        registry._REGISTRY, name, spec.__class__(**{**spec.__dict__, "factory": factory})
    )


def short_config(method: str, setting: str, **overrides) -> dict:
    return {
        "method": method,
        "task": TASK_OF[setting],
        **SHORT,
        **EXTRA.get(method, {}),
        **overrides,
    }


def without_clock(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("time_s", "samples_per_s")}


def test_support_table_matches_the_registry():
    registered = {s: {n for n, r in METHODS.items() if s in r.settings} for s in SUPPORT}
    assert registered == SUPPORT


@pytest.mark.parametrize(("method", "setting"), PAIRS)
def test_every_method_runs_on_its_settings(method, setting):
    reports = []
    final = run_trial(short_config(method, setting), reports.append)
    assert [r["step"] for r in reports] == [3, 6] and final == reports[-1]
    metric = {"closed": "acc", "partial": "acc", "open_set": "h_score", "segmentation": "miou"}
    for split in ("target_val", "target_test"):
        assert 0 <= final[f"{split}_{metric[setting]}"] <= 100
    assert torch.isfinite(torch.tensor(final["train_loss"]))
    if method in ("dann", "cdan", "adda", "bsp", "pada", "iwan"):
        assert 0 <= final["disc_acc"] <= 100 and final["grl_coeff"] > 0


@pytest.mark.parametrize(
    ("method", "task"),
    [("cdan", "shapes/flat2textured"), ("osbp", "moons/rot40"), ("advent", "moons/rot40")],
)
def test_a_method_on_a_setting_it_does_not_support_is_rejected(method, task):
    with pytest.raises(ValueError, match=f"method '{method}' does not support"):
        resolve_config({"method": method, "task": task})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"method": "osbp", "osbp_t": 1.0}, r"'osbp_t' must be in \(0.0, 1.0\)"),
        ({"method": "pada", "temperature": 0.0}, r"'temperature' must be in \(0.0, inf\)"),
        ({"method": "pada", "class_weight_updates": 0.0}, "'class_weight_updates'"),
        ({"method": "cdan", "randomized": 1}, "'randomized' must be bool"),
        ({"method": "cdan", "randomized_dim": 0}, "'randomized_dim' must be in"),
        ({"method": "bsp", "adversary": "mdd"}, r"'adversary' must be one of \('dann', 'cdan'\)"),
        ({"method": "bsp", "trade_off_bsp": -1e-4}, "'trade_off_bsp' must be in"),
        ({"method": "adda", "pretrain_fraction": 0.0}, r"'pretrain_fraction' must be in \(0.0"),
        ({"method": "advent", "lr_d": -1.0}, "'lr_d' must be in"),
        ({"method": "dann", "lr_schedule": "cosine"}, "'lr_schedule' must be one of"),
        ({"method": "dann", "osbp_t": 0.5}, r"unknown config key\(s\) \['osbp_t'\]"),
    ],
)
def test_recipe_hyperparameters_are_validated_by_name(config, message):
    setting = next(s for s, methods in SUPPORT.items() if config["method"] in methods)
    with pytest.raises(ValueError, match=message):
        resolve_config({**config, "task": TASK_OF[setting]})


def test_reference_defaults_per_method_and_setting():
    """The fine-tuning family (the ResNet tasks) keeps the reference's values."""
    closed, partial = "office31/A2W", "office31-partial/A2W"
    adda = resolve_config({"method": "adda", "task": closed})
    assert (adda["lr"], adda["lr_anneal"], adda["grl_hi"]) == (0.001, 6.9, 2.0)  # 0.0003 · 23,000
    assert adda["pretrain_lr"] == 0.001 and adda["source_dropout"] is True
    assert resolve_config({"method": "bsp", "task": closed})["trade_off_bsp"] == 2e-4
    pada = resolve_config({"method": "pada", "task": partial})
    assert (pada["batch_size"], pada["lr"], pada["class_weight_updates"]) == (36, 0.002, 40)
    iwan = resolve_config({"method": "iwan", "task": partial})
    assert (iwan["trade_off"], iwan["trade_off_entropy"], iwan["lr"]) == (3.0, 0.1, 0.001)
    osbp = resolve_config({"method": "osbp", "task": "office31-openset/A2W"})
    assert (osbp["lr"], osbp["weight_decay"], osbp["osbp_t"]) == (0.001, 5e-4, 0.5)


@pytest.mark.parametrize(("method", "setting"), [p for p in PAIRS if p[0] != "target_oracle"])
def test_training_never_reads_target_adapt_labels(method, setting, monkeypatch):
    """Scrambling the target-adapt labels changes nothing: only the oracle may read them."""
    name = TASK_OF[setting]
    task = get_task(name)
    adapt = task.splits["target_adapt"]
    generator = torch.Generator().manual_seed(9)
    scrambled = InMemoryDataset(
        adapt.inputs, adapt.labels[torch.randperm(len(adapt.labels), generator=generator)]
    )
    poisoned = Task(**{**task.__dict__, "splits": {**task.splits, "target_adapt": scrambled}})
    spec = registry._REGISTRY[name]
    results = []
    for version in (task, poisoned):
        factory = lambda root, seed, version=version: version  # noqa: E731
        monkeypatch.setitem(
            registry._REGISTRY, name, spec.__class__(**{**spec.__dict__, "factory": factory})
        )
        results.append(
            without_clock(run_trial(short_config(method, setting, steps=4, eval_every=4)))
        )
    assert results[0] == results[1]


@pytest.mark.parametrize(("method", "setting"), PAIRS)
def test_resuming_from_a_checkpoint_reproduces_the_uninterrupted_run(method, setting, tmp_path):
    config = short_config(method, setting, steps=8, eval_every=2, pretrain_fraction=0.25)
    if method not in ("adda", "bsp"):
        config.pop("pretrain_fraction")
    uninterrupted = run_trial(config, checkpoint_dir=tmp_path / "full")

    class KilledError(Exception):
        pass

    def die_at(step):
        def report(metrics):
            if metrics["step"] == step:
                raise KilledError

        return report

    # step 2 ends ADDA's and BSP's pre-training stage; step 4 is inside their adaptation stage
    # (one stage for the other methods: a kill inside it is the case)
    for kill in (2, 4) if method in ("adda", "bsp") else (4,):
        directory = tmp_path / f"killed_at_{kill}"
        with pytest.raises(KilledError):
            run_trial(config, die_at(kill), checkpoint_dir=directory)
        resumed_reports = []
        resumed = run_trial(
            config, resumed_reports.append, checkpoint_dir=directory, resume_from=directory
        )
        assert [r["step"] for r in resumed_reports] == list(range(kill + 2, 9, 2))
        assert without_clock(resumed) == without_clock(uninterrupted), f"killed at {kill}"


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    config = short_config("dann", "closed")
    run_trial(config, checkpoint_dir=tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).is_file()
    with pytest.raises(ValueError, match=r"another config: \['trade_off'\] differ"):
        run_trial({**config, "trade_off": 0.5}, resume_from=tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        run_trial(config, resume_from=tmp_path / "nothing")
    # a finished trial resumes to its final metrics at once
    assert without_clock(run_trial(config, resume_from=tmp_path)) == without_clock(
        run_trial(config)
    )


def test_adda_stages_freeze_the_source_model_and_keep_the_head():
    reports = []
    config = short_config("adda", "closed", steps=8, eval_every=2, pretrain_fraction=0.5)
    run_trial(config, reports.append)
    assert [r["stage"] for r in reports] == ["pretrain", "pretrain", "adapt", "adapt"]
    hp = resolve_config(config)
    lr, gamma = hp["pretrain_lr"], hp["lr_anneal"] / 8  # the schedule spans the trial's 8 steps
    assert [r["lr_now"] for r in reports][:2] == [
        pytest.approx(lr * (1 + gamma * 2) ** -0.75),
        pytest.approx(lr * (1 + gamma * 4) ** -0.75),
    ]


def _recipe(method: str, setting: str, **overrides):
    config = resolve_config(short_config(method, setting, **overrides))
    task = get_task(config["task"])
    torch.manual_seed(0)
    return get_method(method)(task, config, torch.device("cpu")), task


def test_adda_adapt_step_trains_the_target_encoder_only():
    recipe, task = _recipe("adda", "closed")
    stage_pre, stage_adapt = recipe.stages(6)
    recipe.begin_stage(stage_pre)
    with torch.no_grad():
        for p in recipe.model.parameters():
            p.add_(0.01)
    recipe.end_stage(stage_pre)
    recipe.begin_stage(stage_adapt)
    recipe.train(True)
    source_state = {k: v.clone() for k, v in recipe.source_model.state_dict().items()}
    assert all(torch.equal(source_state[k], v) for k, v in recipe.model.state_dict().items())
    head = [p.clone() for p in recipe.model.head.parameters()]
    ((optimizer, _),) = recipe.optimizers(stage_adapt)
    x = task.splits["source_train"].batch(torch.arange(8))
    x_t = task.splits["target_adapt"].batch(torch.arange(8))[0]
    loss, _ = recipe.loss(Batch(x[0], x[1], x_t))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert all(torch.equal(source_state[k], v) for k, v in recipe.source_model.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(head, recipe.model.head.parameters(), strict=True))
    assert not torch.equal(
        source_state["bottleneck.0.weight"], recipe.model.state_dict()["bottleneck.0.weight"]
    )


def test_advent_gives_each_network_the_reference_gradients():
    """One backward of the summed loss equals the reference's three separate backwards."""
    recipe, task = _recipe("advent", "segmentation")
    recipe.begin_stage(recipe.stages(6)[0])
    recipe.train(True)
    source, target = task.splits["source_train"], task.splits["target_adapt"]
    x_s, y_s = source.batch(torch.arange(2))
    x_t = target.batch(torch.arange(2))[0]
    params = {"seg": list(recipe.model.parameters()), "disc": list(recipe.domain_adv.parameters())}

    def grads():
        return {
            k: [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in v]
            for k, v in params.items()
        }

    def zero():
        for p in params["seg"] + params["disc"]:
            p.grad = None

    state = torch.get_rng_state()
    zero()
    loss, _ = recipe.loss(Batch(x_s, y_s, x_t))
    loss.backward()
    ours = grads()

    torch.set_rng_state(state)
    zero()
    adv = recipe.domain_adv
    pred_s, pred_t = recipe.model(x_s), recipe.model(x_t)
    adv.eval()
    (recipe.classification_loss(pred_s, y_s) + 1e-3 * adv(pred_t, "source")).backward()
    adv.train()
    (0.5 * (adv(pred_s.detach(), "source") + adv(pred_t.detach(), "target"))).backward()
    reference = grads()
    for group in ("seg", "disc"):
        for a, b in zip(ours[group], reference[group], strict=True):
            torch.testing.assert_close(a, b)
    assert any(g.abs().sum() > 0 for g in ours["disc"])


def test_the_fused_optimiser_step_is_the_per_tensor_update_up_to_rounding():
    """``sgd`` builds torch's fused SGD (one pass per parameter); over steps with the reference's
    weight decay, momentum and Nesterov terms and per-group learning rates it moves the
    parameters as the per-tensor loop does, up to float32 rounding."""
    hp = resolve_config({"method": "dann", "task": "moons/rot40"})
    runs = []
    for fused in (True, False):
        params = [torch.nn.Parameter(torch.zeros(s)) for s in [(64, 32), (64,), (1, 64)]]
        groups = [{"params": params[:2], "lr": 0.1}, {"params": params[2:], "lr": 1.0}]
        if fused:
            optimizer, _ = sgd(groups, hp, steps=20)
            assert optimizer.defaults["fused"] is True
        else:  # the groups' "lr" are multipliers of the schedule's rate, at step 0 the base rate
            groups = [{**g, "lr": g["lr"] * hp["lr"]} for g in groups]
            optimizer = torch.optim.SGD(groups, hp["lr"], momentum=hp["momentum"], nesterov=True,
                                        weight_decay=hp["weight_decay"], foreach=False)  # fmt: skip
        for step in range(20):
            for i, p in enumerate(params):
                generator = torch.Generator().manual_seed(100 * step + i)
                p.grad = torch.randn(p.shape, generator=generator)
            optimizer.step()
        runs.append(params)
    for fused, loop in zip(*runs, strict=True):
        assert torch.allclose(fused, loop, atol=1e-6) and fused.abs().max() > 0.01
