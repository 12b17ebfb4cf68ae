import math

import pytest
import torch

from dabench.data import bundled, registry
from dabench.data.registry import task_spec
from dabench.data.task import InMemoryDataset, Task
from dabench.trainable import NonFiniteLossError, resolve_config, run_trial
from dabench.validators import COSTLY, validators_for

MOONS = {"task": "moons/rot40", "steps": 40, "eval_every": 20, "batch_size": 16}


@pytest.mark.parametrize("method", ["source_only", "target_oracle", "dann"])
def test_each_method_reports_at_every_evaluation(method):
    reports = []
    final = run_trial({**MOONS, "method": method}, reports.append)
    assert [r["step"] for r in reports] == [20, 40] and final == reports[-1]
    for key in (
        "train_loss",
        "source_val_acc",
        "target_val_acc",
        "target_test_acc",
        "time_s",
        "samples_per_s",
    ):
        assert key in final
    if method == "dann":
        assert 0 <= final["disc_acc"] <= 100 and 0 < final["grl_coeff"] < 1
    every = {v.key for v in validators_for("closed")}
    costly = {f"validator_{name}" for name in COSTLY}
    assert every - costly <= set(reports[0]) and not costly & set(reports[0])
    assert every <= set(final)  # the costly ones at the last evaluation only, by default


def test_costly_validators_every_scores_them_at_every_evaluation_and_never_not_at_all():
    reports = []
    run_trial({**MOONS, "method": "dann", "costly_validators": "every"}, reports.append)
    assert all({v.key for v in validators_for("closed")} <= set(r) for r in reports)
    reports.clear()
    run_trial({**MOONS, "method": "dann", "costly_validators": "never"}, reports.append)
    every = {v.key for v in validators_for("closed")}
    costly = {f"validator_{name}" for name in COSTLY}
    assert costly and all(every - costly <= set(r) and not costly & set(r) for r in reports)
    with pytest.raises(ValueError, match="costly_validators"):
        run_trial({**MOONS, "method": "dann", "costly_validators": "sometimes"})


@pytest.mark.parametrize(
    ("task", "method", "expected"),
    [
        ("digits-openset/synth2blend", "dann", {"validator_known_im", "predicted_unknown_pct",
                                                "target_test_h_score"}),
        ("digits-partial/synth2blend", "pada", {"validator_im", "target_test_acc"}),
        ("shapes/flat2textured", "advent", {"validator_pixel_im", "source_val_miou"}),
    ],
)  # fmt: skip
def test_other_settings_report_their_validators(task, method, expected):
    final = run_trial({"task": task, "method": method, "steps": 2, "eval_every": 2})
    keys = {v.key for v in validators_for(task_spec(task).setting)}
    assert keys | expected <= set(final)
    assert not any(math.isnan(final[k]) for k in keys)


def test_open_set_source_val_accuracy_does_not_count_rejections():
    """Source-val holds known classes only: the best known class is scored whether or not the
    model rejects the sample, so a model that never rejects is not preferred for it."""
    config = {"task": "digits-openset/synth2blend", "method": "source_only", "steps": 6,
              "eval_every": 6, "batch_size": 8}  # fmt: skip
    never = run_trial({**config, "threshold": 1e-6})  # the threshold only moves the decisions
    always = run_trial({**config, "threshold": 1 - 1e-6})
    assert never["predicted_unknown_pct"] == 0 and always["predicted_unknown_pct"] == 100
    assert never["source_val_acc"] == always["source_val_acc"] > 0
    assert never["validator_h_proxy"] == always["validator_h_proxy"] == 0  # neither works


def test_same_config_and_seed_give_identical_metrics():
    a = run_trial({**MOONS, "method": "dann", "seed": 3})
    b = run_trial({**MOONS, "method": "dann", "seed": 3})
    c = run_trial({**MOONS, "method": "dann", "seed": 4})
    strip = lambda m: {k: v for k, v in m.items() if k not in ("time_s", "samples_per_s")}  # noqa: E731
    assert strip(a) == strip(b) and strip(a) != strip(c)


def test_a_trial_gives_the_callers_random_state_and_thread_count_back():
    config = {**MOONS, "method": "dann", "steps": 4, "eval_every": 4}
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = run_trial(config, threads=threads + 1)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads
    torch.manual_seed(7)  # the trial seeds itself: whatever the caller's state, the same result
    again = run_trial(config, threads=threads + 1)
    clock = ("time_s", "samples_per_s")
    assert {k: v for k, v in first.items() if k not in clock} == {
        k: v for k, v in again.items() if k not in clock
    }
    with pytest.raises(ValueError, match="threads must be an integer >= 1; got 0"):
        run_trial(config, threads=0)


def test_training_never_reads_target_adapt_labels(monkeypatch):
    """Scrambling the target-adapt labels changes nothing for DANN (it only sees target inputs)."""
    task = bundled.moons_task(None, 0)
    adapt = task.splits["target_adapt"]
    scrambled = InMemoryDataset(
        adapt.inputs,
        torch.randint(0, 2, adapt.labels.shape, generator=torch.Generator().manual_seed(9)),
    )
    poisoned = Task(**{**task.__dict__, "splits": {**task.splits, "target_adapt": scrambled}})
    metrics = {}
    for name, which in (("clean", task), ("poisoned", poisoned)):
        with_task(monkeypatch, which)
        metrics[name] = run_trial({**MOONS, "method": "dann"})
        metrics[name].pop("time_s"), metrics[name].pop("samples_per_s")
    assert metrics["clean"] == metrics["poisoned"]


def test_validators_never_read_target_val_labels(monkeypatch):
    """Scrambling the target-val labels moves the oracle, and no validator."""
    task = bundled.moons_task(None, 0)
    val = task.splits["target_val"]
    scrambled = InMemoryDataset(val.inputs, 1 - val.labels)
    poisoned = Task(**{**task.__dict__, "splits": {**task.splits, "target_val": scrambled}})
    results = {}
    for name, which in (("clean", task), ("poisoned", poisoned)):
        with_task(monkeypatch, which)
        results[name] = run_trial({**MOONS, "method": "dann"})
    clean, poisoned_run = results["clean"], results["poisoned"]
    assert poisoned_run["target_val_acc"] == pytest.approx(100 - clean["target_val_acc"])
    for key in (v.key for v in validators_for("closed")):
        assert poisoned_run[key] == clean[key], key


def with_task(monkeypatch, task: Task) -> None:
    """Make the registry build ``task`` for moons/rot40."""
    spec = registry._REGISTRY["moons/rot40"]
    factory = lambda root, seed: task  # noqa: E731
    monkeypatch.setitem(
        registry._REGISTRY, "moons/rot40", spec.__class__(**{**spec.__dict__, "factory": factory})
    )


def test_non_finite_loss_stops_the_trial():
    with pytest.raises(NonFiniteLossError, match="training loss became"):
        run_trial({**MOONS, "method": "source_only", "lr": 1e30})


def test_divergence_inside_a_loss_is_reported_as_non_finite():
    """CDAN's BCE raises on NaN probabilities once the weights diverged: still a clear error."""
    with pytest.raises(
        NonFiniteLossError, match="parameters or activations became NaN or infinite"
    ):
        run_trial({**MOONS, "method": "cdan", "lr": 1e28})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"method": "dann", "task": "moons/rot40", "tradeoff": 1.0},
            r"unknown config key\(s\) \['tradeoff'\]",
        ),
        (
            {"method": "dann", "task": "moons/rot40", "lr": -0.1},
            r"'lr' must be in \(0.0, inf\); got -0.1",
        ),
        ({"method": "dann", "task": "moons/rot40", "batch_size": 2.5}, "'batch_size' must be int"),
        ({"method": "dann", "task": "moons/rot40", "threshold": 1.5}, "'threshold' must be in"),
        (
            {"method": "cdan-x", "task": "moons/rot40"},
            r"unknown method .cdan-x. \(did you mean .cdan. or .dann.\?\); known methods: adda, "
            "advent, bsp, cdan",
        ),
        ({"task": "moons/rot40"}, "config needs 'method'"),
        (
            {"method": "dann", "task": "office31/A2W", "backbone": "vgg16"},
            "config key 'backbone' replaces a ResNet task's ResNet with one of resnet18, "
            "resnet34, resnet50, resnet101; got 'vgg16' for task 'office31/A2W'",
        ),
        (
            {"method": "dann", "task": "digits/synth2hand", "backbone": "resnet18"},
            r"got 'resnet18' for task 'digits/synth2hand' \(model lenet\)",
        ),
        (
            {"method": "dann", "task": "office31/A2W", "image_size": 16},
            "config key 'image_size' must be an integer ≥ 32 .* got 16",
        ),
        (
            {"method": "dann", "task": "digits/MNIST2USPS", "image_size": 32},
            "'image_size' applies to the real-data ResNet tasks .* task 'digits/MNIST2USPS' has "
            "fixed inputs",
        ),
    ],
)
def test_bad_configs_are_rejected_before_training(config, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(config)


def test_method_must_fit_the_setting_checked_before_building_the_task(monkeypatch):
    monkeypatch.setattr("dabench.trainable.get_task", lambda *a, **k: pytest.fail("task was built"))
    with pytest.raises(
        ValueError, match="method 'dann' does not support the 'segmentation' setting"
    ):
        run_trial({"method": "dann", "task": "shapes/flat2textured", "steps": 1})
    with pytest.raises(ValueError, match="unknown task 'moons/rot41'"):
        run_trial({"method": "dann", "task": "moons/rot41"})
