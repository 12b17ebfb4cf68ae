"""Feature diagnostics: the proxy A-distance, t-SNE, the optional trial metric, and ``dabench
analyze`` on a tiny real sweep (a local Ray cluster, MLflow on sqlite; nothing mocked)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from dabench.analysis import a_distance, domain_error, tsne
from dabench.cli import main
from dabench.engine.options import SweepOptions
from dabench.engine.sweep import run_sweep
from dabench.records import readers
from dabench.trainable import resolve_config, run_trial


def gaussians(n_s: int, n_t: int, shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_s, 16)), rng.normal(size=(n_t, 16)) + shift


def test_a_distance_is_near_0_for_one_distribution_and_2_for_separable_ones():
    same = [a_distance(*gaussians(600, 600, 0.0, seed)) for seed in range(3)]
    assert all(0 <= d < 0.2 for d in same), same
    errors = [domain_error(*gaussians(600, 600, 0.0, seed)) for seed in range(3)]
    assert all(0.45 < e < 0.56 for e in errors), errors  # chance, before the clip at 1/2
    assert a_distance(*gaussians(600, 600, 4.0)) == 2.0  # every held-out sample told apart
    between = a_distance(*gaussians(600, 600, 0.25))
    assert 0.3 < between < 1.9  # a partial overlap: in between
    # unequal sizes are balanced before fitting: predicting the larger domain everywhere would
    # otherwise give an error of 1/6 and a distance of 1.33 for one distribution
    assert a_distance(*gaussians(300, 1500, 0.0)) < 0.2
    assert 0.45 < domain_error(*gaussians(300, 1500, 0.0)) < 0.56
    # seeded: the same sample, folds and fit
    assert domain_error(*gaussians(200, 300, 0.5), seed=3) == domain_error(
        *gaussians(200, 300, 0.5), seed=3
    )


def test_a_distance_refuses_what_it_cannot_measure():
    f = np.zeros((10, 4))
    with pytest.raises(ValueError, match="differ in width"):
        a_distance(f, np.zeros((10, 5)))
    with pytest.raises(ValueError, match=r"must be \(N, D\)"):
        a_distance(np.zeros(10), f)
    with pytest.raises(ValueError, match="at least 5 rows of each domain"):
        a_distance(f, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        a_distance(np.full((10, 4), np.nan), f)


def test_tsne_embeds_a_seeded_balanced_sample():
    source, target = gaussians(120, 400, 3.0)
    embedding, s, t = tsne(source, target, per_domain=50, seed=1)
    assert embedding.shape == (100, 2) and len(s) == len(t) == 50
    again, s2, t2 = tsne(source, target, per_domain=50, seed=1)
    assert np.array_equal(s, s2) and np.array_equal(t, t2) and np.allclose(embedding, again)


def test_a_distance_as_a_trial_metric_is_off_by_default_and_reported_when_asked():
    config = {"method": "dann", "task": "moons/rot40", "steps": 10, "eval_every": 10}
    assert "a_distance" not in run_trial(config)
    assert 0 <= run_trial({**config, "a_distance": True})["a_distance"] <= 2
    with pytest.raises(ValueError, match="segmentation model has none"):
        resolve_config(
            {"method": "source_only", "task": "shapes/flat2textured", "a_distance": True}
        )


def test_analyze_fits_80_columns_and_names_where_its_picture_is(tmp_path, monkeypatch, capsys):
    """A checkpoint's analysis, on a console of 80 columns: the table is a few lines, none wider,
    and the paths of the files it wrote are printed (or, with nowhere to keep them, how to)."""
    monkeypatch.chdir(tmp_path)  # no MLflow store here: nothing to log to
    monkeypatch.setenv("COLUMNS", "80")
    config = {"method": "dann", "task": "moons/rot40", "steps": 10, "eval_every": 10}
    run_trial(config, checkpoint_dir=tmp_path / "ckpt")
    args = ["analyze", "--checkpoint", str(tmp_path / "ckpt" / "trial.pt"), "--samples", "20"]
    assert main(args) == 0
    shown = capsys.readouterr()
    lines = shown.out.rstrip("\n").splitlines()
    assert len(lines) <= 8 and all(len(line) <= 80 for line in lines), shown.out
    assert "A-distance" in shown.out and "dann (trial.pt)" in shown.out
    err = " ".join(shown.err.split())
    assert f"dann (trial.pt): step 10, weights checkpoint: {tmp_path / 'ckpt' / 'trial.pt'}" in err
    assert "the t-SNE picture was not kept" in err and "add --out DIR" in err
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    for name in ("tsne.png", "analysis.json"):
        assert f"wrote {tmp_path / 'out' / name}" in err and (tmp_path / "out" / name).is_file()
    assert "not kept" not in err


@pytest.mark.slow
def test_dabench_analyze_logs_the_pick_beside_source_only(ray_local, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # MLflow puts a sqlite store's artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    small = {"task": "moons/rot40", "steps": 40, "eval_every": 20, "num_samples": 2,
             "max_concurrent": 1, "scheduler": "none", "storage": str(tmp_path / "ray"),
             "tracking_uri": uri}  # fmt: skip
    run_sweep(SweepOptions(method="source_only", name="so", **{**small, "num_samples": 1}))
    run_sweep(SweepOptions(method="dann", name="dann", **small))
    capsys.readouterr()

    out = tmp_path / "out"
    assert main(["analyze", "--sweep", "dann", "--tracking-uri", uri, "--out", str(out)]) == 0
    shown = capsys.readouterr()
    assert "A-distance" in shown.out  # the table
    assert f"wrote {out / 'tsne.png'}" in shown.err
    logged = [line.strip() for line in shown.err.splitlines() if line.strip().endswith(".png")]
    assert logged[-1].endswith("/analysis/bnm/tsne.png") and Path(logged[-1]).is_file()  # mlruns
    assert "dann pick (bnm): trial " in shown.err and " of sweep dann, step 40, weights checkpoint: " \
        in " ".join(shown.err.split())  # fmt: skip
    summary = json.loads((out / "analysis.json").read_text())
    pick, baseline = summary["models"][1], summary["models"][0]
    assert (pick["label"], baseline["label"]) == ("dann pick (bnm)", "source-only pick")
    assert (pick["sweep"], baseline["sweep"]) == ("dann", "so")
    assert pick["weights"] == "checkpoint" and pick["step"] == 40  # Ray kept it
    assert all(0 <= m["a_distance"] <= 2 for m in summary["models"])
    assert (out / "tsne.png").stat().st_size > 10_000

    client = MlflowClient(uri)
    parent = readers.require_sweep(client, "dabench", "dann")
    logged = client.get_run(parent.info.run_id).data.metrics
    assert logged["a_distance.bnm"] == pytest.approx(pick["a_distance"])
    assert logged["a_distance.source_only"] == pytest.approx(baseline["a_distance"])
    artifacts = {Path(a.path).name for a in client.list_artifacts(parent.info.run_id,
                                                                  "analysis/bnm")}  # fmt: skip
    assert artifacts == {"tsne.png", "analysis.json"}

    # No checkpoint where Ray's state should be: the pick is trained again from its config and
    # seed, to the same weights on CPU (same target metric, same A-distance).
    again = tmp_path / "again"
    assert main(["analyze", "--sweep", "dann", "--tracking-uri", uri, "--out", str(again),
                 "--storage", str(tmp_path / "empty")]) == 0  # fmt: skip
    retrained = json.loads((again / "analysis.json").read_text())["models"][1]
    assert retrained["weights"] == "re-trained"
    assert retrained["a_distance"] == pick["a_distance"]
    assert retrained["target_val_acc"] == pick["target_val_acc"]
    assert "differs" not in capsys.readouterr().err

    # bad input: refused before any compute, naming what is accepted
    for args, message in (
        (["--sweep", "nope"], "no sweep 'nope' in experiment 'dabench'; recent sweeps: "),
        (
            ["--sweep", "dann", "--select", "h_proxy"],
            "their validators: source_val, entropy, im, bnm",
        ),
        (["--checkpoint", str(tmp_path / "missing")], "no checkpoint at"),
        (["--sweep", "dann", "--experiment", "other"], "no MLflow experiment 'other'"),
    ):
        assert main(["analyze", "--tracking-uri", uri, *args]) == 2
        assert message in capsys.readouterr().err.replace("\n", "")
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["analyze", "--sweep", "dann", "--tracking-uri", missing]) == 2
    assert "no MLflow store at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    run = readers.children(client, parent.info.experiment_id, parent.info.run_id)[0]
    assert run.data.params["a_distance"] == "False"  # the trial metric stayed off
