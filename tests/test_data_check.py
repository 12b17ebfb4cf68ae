"""The data check before compute: every list and image a benchmark's real-data tasks read, and
the pretrained weights its trials load, checked before Ray starts or a store is written — on
fixture trees in Office-31's layout with the reference's number of images (tiny ones)."""

from __future__ import annotations

import pytest
import torch
from real_data_helpers import write_office31

from dabench.cli import main
from dabench.data.check import check_data, lists_of
from dabench.data.image_list import DatasetNotFoundError
from dabench.models.resnet import OFFLINE_ENV


@pytest.fixture(scope="module")
def office31_dw(tmp_path_factory):
    """Office-31's dslr and webcam (498 and 795 images), no amazon."""
    return write_office31(tmp_path_factory.mktemp("office31"))


def refusal(error: pytest.ExceptionInfo) -> str:
    return " ".join(str(error.value).split())


def test_the_lists_a_task_reads_are_its_sources_training_list_and_its_targets_lists():
    assert lists_of(["office31/A2W", "office31/W2A", "moons/rot40"]) == {
        "office31": {"image_list/amazon.txt": 2817, "image_list/webcam.txt": 795}
    }
    assert lists_of(["digits/MNIST2USPS", "digits/SVHN2MNIST"]) == {
        "digits": {"image_list/mnist_test.txt": 10000, "image_list/mnist_train.txt": 60000,
                   "image_list/svhn_balanced.txt": None, "image_list/usps_test.txt": 2007,
                   "image_list/usps_train.txt": 7291}
    }  # fmt: skip
    assert lists_of(["moons/rot40"]) == {}


def test_a_complete_tree_passes_and_a_missing_domain_is_named_with_where_to_get_it(office31_dw):
    check_data(["office31/D2W", "office31/W2D", "moons/rot40"], office31_dw)
    with pytest.raises(DatasetNotFoundError) as error:
        check_data(["office31/A2W", "office31/D2W"], office31_dw)
    message = refusal(error)
    assert f"the data under {office31_dw} is missing or incomplete" in message
    assert "nothing was started" in message
    assert "Office-31 (tasks office31/A2W, office31/D2W): - image_list/amazon.txt: not found" in (
        message
    )
    assert "webcam.txt" not in message  # complete lists are not listed
    assert "Expected layout: root/image_list/{amazon,dslr,webcam}.txt" in message
    assert "https://faculty.cc.gatech.edu/~judy/domainadapt/" in message
    assert isinstance(error.value, ValueError)


def test_an_incomplete_tree_names_each_short_list_and_missing_image(office31_dw, tmp_path):
    import shutil

    root = tmp_path / "office31"
    shutil.copytree(office31_dw, root)
    dslr = root / "image_list" / "dslr.txt"
    lines = dslr.read_text().splitlines(keepends=True)
    dslr.write_text("".join(lines[:-2]))  # a truncated list
    for n in (3, 40, 41, 99):  # images deleted (or never extracted)
        path = next(root.glob(f"webcam/images/*/frame_{n:04d}.jpg"))
        path.unlink()
    shutil.rmtree(root / "webcam" / "images" / "mug")  # a whole class folder
    with pytest.raises(DatasetNotFoundError) as error:
        check_data(["office31/D2W"], root)
    message = refusal(error)
    assert "- image_list/dslr.txt: lists 496 images where the reference's list has 498" in message
    mugs = sum(1 for line in (root / "image_list" / "webcam.txt").read_text().splitlines()
               if "/mug/" in line)  # fmt: skip
    missing = 4 + mugs
    assert f"- image_list/webcam.txt: {missing} of its 795 listed images not found " in message
    assert (
        "webcam/images/bookcase/frame_0003.jpg" in message and f"and {missing - 3} more" in message
    )


def test_a_malformed_list_a_missing_root_and_no_root_are_refused(office31_dw, tmp_path):
    import shutil

    root = tmp_path / "office31"
    shutil.copytree(office31_dw, root)
    (root / "image_list" / "dslr.txt").write_text("dslr/images/mug/frame_0000.jpg 31\n")
    with pytest.raises(DatasetNotFoundError) as error:
        check_data(["office31/D2W"], root)
    assert "image_list/dslr.txt, line 1: label 31 is not in 0..30" in refusal(error)
    with pytest.raises(DatasetNotFoundError) as error:
        check_data(["office31/D2W", "digits/MNIST2USPS"], tmp_path / "nowhere")
    message = refusal(error)
    assert f"dataset root {tmp_path / 'nowhere'} does not exist or is not a folder" in message
    assert "Office-31 (tasks office31/D2W)" in message and "Digits (tasks digits/MNIST2USPS)" in (
        message
    )
    assert "download_digits(root)" in message
    with pytest.raises(DatasetNotFoundError, match="give the dataset folder with --root"):
        check_data(["office31/D2W"], None)


def spec_file(tmp_path, text: str):
    path = tmp_path / "real.yaml"
    path.write_text(text)
    return path


def refused_by_benchmark(tmp_path, capsys, monkeypatch, argv: list[str]) -> str:
    """``dabench benchmark`` refused (exit 2) before Ray started and before a store existed."""
    monkeypatch.setattr("dabench.engine.benchmark.init_ray",
                        lambda *a: pytest.fail("Ray was started"))  # fmt: skip
    store = tmp_path / "mlflow.db"
    code = main(["benchmark", *argv, "--tracking-uri", f"sqlite:///{store}",
                 "--storage", str(tmp_path / "ray")])  # fmt: skip
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert not store.exists() and not (tmp_path / "ray").exists()  # nothing written
    return err


def test_a_benchmark_on_missing_or_incomplete_data_is_refused_before_compute(
    office31_dw, tmp_path, capsys, monkeypatch
):
    spec = spec_file(tmp_path, "tasks: [office31/A2W, office31/D2W]\nmethods: [dann]\n")
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch, ["--spec", str(spec), "--root",
                                                               str(office31_dw)])  # fmt: skip
    assert "dabench benchmark: error: the data under" in err
    assert "image_list/amazon.txt: not found" in err
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch, ["--spec", str(spec)])
    assert "give the dataset folder with --root" in err


def test_pretrained_weights_missing_offline_are_named_with_the_cache_before_compute(
    office31_dw, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv(OFFLINE_ENV, "1")
    spec = spec_file(tmp_path, "tasks: [office31/D2W]\nmethods: [dann]\n"
                     "set: {pretrained: true, backbone: resnet18}\n")  # fmt: skip
    argv = ["--spec", str(spec), "--root", str(office31_dw)]
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch, argv)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    assert "pretrained: pretrained weights ResNet18_Weights.IMAGENET1K_V1 are not cached" in err
    assert f"at {cache / 'resnet18-f37072fd.pth'} (the torch hub cache" in err
    assert "set TORCH_HOME to use another cache" in err
    # the file in the cache (here: random weights of the same layout) and the plan goes through
    cache.mkdir(parents=True)
    torch.save({}, cache / "resnet18-f37072fd.pth")
    assert main(["benchmark", *argv, "--plan", "--tracking-uri",
                 f"sqlite:///{tmp_path / 'mlflow.db'}", "--storage", str(tmp_path / "ray")]) == 0  # fmt: skip
    assert "dann-office31-D2W" in capsys.readouterr().out
    # without pretrained weights nothing is fetched or needed
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    spec.write_text("tasks: [office31/D2W]\nmethods: [dann]\nset: {pretrained: false}\n")
    assert main(["benchmark", *argv, "--plan", "--tracking-uri",
                 f"sqlite:///{tmp_path / 'mlflow.db'}", "--storage", str(tmp_path / "ray")]) == 0  # fmt: skip


def test_the_shipped_office31_spec_refuses_a_root_without_amazon_before_compute(
    office31_dw, tmp_path, capsys, monkeypatch
):
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch,
                               ["--spec", "office31", "--root", str(office31_dw)])  # fmt: skip
    assert (
        "Office-31 (tasks office31/A2W, office31/D2W, office31/W2D, office31/A2D and 2 more)"
        in (err)
    )
    assert "- image_list/amazon.txt: not found" in err and "dslr.txt" not in err
    # the tasks it has data for pass the check (and the next one: ImageNet weights, offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv(OFFLINE_ENV, "1")
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch, [
        "--spec", "office31", "--root", str(office31_dw), "--tasks", "office31/D2W"])  # fmt: skip
    assert "pretrained weights ResNet50_Weights.IMAGENET1K_V1 are not cached" in err
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth") in err


@pytest.mark.parametrize(
    ("spec", "title", "source"),
    [
        ("office31", "Office-31", "faculty.cc.gatech.edu"),
        ("officehome", "Office-Home", "hemanthdv.org"),
        ("visda2017", "VisDA-2017", "ai.bu.edu/visda-2017"),
        ("digits", "Digits", "download_digits(root)"),
        ("office31-partial", "Office-31", "faculty.cc.gatech.edu"),
        ("office31-openset", "Office-31", "faculty.cc.gatech.edu"),
    ],
)
def test_every_real_data_spec_refuses_a_missing_root_naming_its_dataset(
    spec, title, source, tmp_path, capsys, monkeypatch
):
    missing = tmp_path / "nowhere"
    err = refused_by_benchmark(tmp_path, capsys, monkeypatch,
                               ["--spec", spec, "--root", str(missing)])  # fmt: skip
    assert f"dataset root {missing} does not exist or is not a folder" in err
    assert f"{title} (tasks " in err and source in err
