"""Search spaces: every bundled file is valid; malformed files are rejected with file, key, reason;
conditional parameters are sampled only when their condition holds (with a real Optuna study)."""

import optuna
import pytest
import yaml

from dabench.methods import METHODS
from dabench.spaces import SearchSpaceError, load_space, parse_space, space_path
from dabench.trainable import resolve_config

TASK_OF = {"closed": "moons/rot40", "open_set": "digits-openset/synth2blend",
           "partial": "digits-partial/synth2blend", "segmentation": "shapes/flat2textured"}  # fmt: skip


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_has_a_valid_space_whose_samples_the_trainable_accepts(method):
    space = load_space(method=method)
    assert space.method == method and space_path(method).is_file()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    task = TASK_OF[METHODS[method].settings[0]]
    for _ in range(20):
        trial = study.ask()
        config = {**space.fixed, **space.suggest(trial)}
        resolve_config({"method": method, "task": task, **config})  # raises if out of range
        study.tell(trial, 0.0)


def test_conditional_parameters_follow_their_condition():
    space = load_space(method="bsp")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=5))
    seen = []
    for _ in range(30):
        trial = study.ask()
        values = space.suggest(trial)
        seen.append(values)
        study.tell(trial, values["lr"])
    for values in seen:
        assert ("randomized" in values) == (values["adversary"] == "cdan")
        assert ("randomized_dim" in values) == (values.get("randomized") is True)
    assert any("randomized_dim" in v for v in seen) and any("randomized" not in v for v in seen)


def write(tmp_path, document) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return str(path)


LR = {"type": "loguniform", "low": 1e-3, "high": 1e-1}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("method: [dann\n", "not valid YAML"),
        ([1, 2], r"\(top level\): must be a mapping"),
        ({"method": "dann", "parameters": {"lr": LR}, "seed": 1}, r"\['seed'\]: unknown top-level"),
        ({"method": "danm", "parameters": {"lr": LR}}, "method: unknown method 'danm'"),
        ({"method": "dann", "parameters": {}}, "parameters: must be a non-empty mapping"),
        ({"method": "dann", "parameters": {"osbp_t": LR}},
         "parameters.osbp_t: 'osbp_t' is not a hyperparameter of 'dann'"),
        ({"method": "dann", "parameters": {"lr": {"type": "normal", "low": 0, "high": 1}}},
         "parameters.lr: needs 'type', one of uniform, loguniform, int, categorical"),
        ({"method": "dann", "parameters": {"lr": {**LR, "low": 0.1, "high": 0.01}}},
         "parameters.lr: low must be below high; got low=0.1, high=0.01"),
        ({"method": "dann", "parameters": {"trade_off": {"type": "loguniform", "low": 0.0, "high": 1.0}}},
         "parameters.trade_off.low: a log range needs low > 0"),
        ({"method": "dann", "parameters": {"lr": {"type": "uniform", "low": -0.1, "high": 0.1}}},
         r"parameters.lr.low: 'lr' must be in \(0.0, inf\)"),
        ({"method": "osbp", "parameters": {"osbp_t": {"type": "uniform", "low": 0.5, "high": 1.0}}},
         r"parameters.osbp_t.high: 'osbp_t' must be in \(0.0, 1.0\)"),
        ({"method": "dann", "parameters": {"disc_hidden": {"type": "int", "low": 1.5, "high": 9}}},
         "parameters.disc_hidden.low: int needs an integer"),
        ({"method": "dann", "parameters": {"lr": {**LR, "choices": [1]}}},
         r"unknown field\(s\) \['choices'\] for loguniform"),
        ({"method": "cdan", "parameters": {"randomized": {"type": "categorical", "choices": [0, 1]}}},
         "parameters.randomized.choices: randomized takes bool values; got 0"),
        ({"method": "bsp", "parameters": {"adversary": {"type": "categorical", "choices": ["dann", "mdd"]}}},
         r"adversary must be one of \('dann', 'cdan'\); got 'mdd'"),
        ({"method": "cdan", "parameters": {"randomized_dim": {"type": "int", "low": 8, "high": 64,
                                                              "when": {"randomized": True}}}},
         "parameters.randomized_dim.when.randomized: conditions may only refer to categorical"),
        ({"method": "cdan", "parameters": {"randomized": {"type": "categorical", "choices": [True]},
                                           "randomized_dim": {"type": "int", "low": 8, "high": 64,
                                                              "when": {"randomized": False}}}},
         r"\[False\] not among its choices"),
        ({"method": "dann", "parameters": {"lr": LR}, "fixed": {"lr": 0.01}},
         "fixed.lr: is also a searched parameter"),
        ({"method": "dann", "parameters": {"lr": LR}, "fixed": {"trade_off": "high"}},
         "fixed.trade_off: trade_off takes float values; got 'high'"),
    ],
)  # fmt: skip
def test_malformed_spaces_name_file_key_and_reason(tmp_path, document, message):
    path = write(tmp_path, document)
    with pytest.raises(SearchSpaceError, match=message) as error:
        load_space(path)
    assert str(error.value).startswith(path)


def test_the_file_must_be_for_the_swept_method(tmp_path):
    path = write(tmp_path, {"method": "dann", "parameters": {"lr": LR}})
    with pytest.raises(
        SearchSpaceError, match="the file is for 'dann', but the sweep is for 'cdan'"
    ):
        load_space(path, method="cdan")
    with pytest.raises(SearchSpaceError, match="no such search-space file"):
        load_space(tmp_path / "missing.yaml")
    space = parse_space({"method": "dann", "parameters": {"lr": LR}, "fixed": {"trade_off": 0.3}})
    assert space.fixed == {"trade_off": 0.3} and space.names() == ["lr"]


def test_exponents_without_a_sign_are_floats_as_in_yaml_1_2(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("method: dann\nparameters:\n  lr: {type: categorical, choices: [1e-2, 1e30]}\n"
                    "fixed:\n  trade_off: 1.0e0\n")  # fmt: skip
    space = load_space(path, method="dann")
    assert space.parameters[0].choices == (0.01, 1e30) and space.fixed == {"trade_off": 1.0}
