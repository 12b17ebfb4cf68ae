"""Real-dataset tasks, on tiny fixture trees written in the reference's image-list layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision import transforms

from dabench.data import SPLITS, get_task, list_tasks, real
from dabench.data.image_list import DatasetNotFoundError, ImageList, parse_image_list
from dabench.data.loading import InfiniteBatches, eval_batches
from dabench.data.real import load_domain

OFFICE31_LABELS = (0, 5, 20, 25)  # back_pack, calculator (public, shared); phone, ruler (private)
PER_CLASS = 5


def write_images(root: Path, list_name: str, entries, mode="RGB", size=(8, 8)) -> Path:
    """Write one small image per ``(relative path, label)`` entry and the list file."""
    lines = []
    for i, (rel, label) in enumerate(entries):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = (i * 37 % 256, label * 9 % 256, 128) if mode == "RGB" else i * 37 % 256
        Image.new(mode, size, colour).save(path)
        lines.append(f"{rel} {label}\n")
    list_path = root / "image_list" / list_name
    list_path.parent.mkdir(parents=True, exist_ok=True)
    list_path.write_text("".join(lines))
    return list_path


def entries(prefix: str, classes, labels, per_class=PER_CLASS, ext="jpg"):
    return [
        (f"{prefix}/{classes[y]}/{prefix.replace('/', '_')}_{i}.{ext}", y)
        for y in labels
        for i in range(per_class)
    ]


@pytest.fixture
def office31(tmp_path):
    root = tmp_path / "office31"
    for domain in ("amazon", "webcam"):
        write_images(
            root,
            f"{domain}.txt",
            entries(f"{domain}/images", real.OFFICE31_CLASSES, OFFICE31_LABELS),
        )
    return root


def labels_of(dataset) -> list[int]:
    """Labels of a split without loading its images."""
    return [dataset.dataset.samples[i][1] for i in dataset.indices]


def paths_of(dataset) -> list[str]:
    return [dataset.dataset.samples[i][0] for i in dataset.indices]


def label_by_folder(task, splits) -> dict[str, int]:
    """``{class folder: label}`` over the samples of ``splits`` (one label per folder)."""
    return {
        Path(path).parent.name: label
        for s in splits
        for path, label in zip(paths_of(task.splits[s]), labels_of(task.splits[s]), strict=True)
    }


# --- the list format and its errors -------------------------------------------------------------


def test_parse_image_list_reads_paths_labels_spaces_and_absolute_paths(tmp_path):
    absolute = tmp_path / "elsewhere" / "z.png"
    (tmp_path / "list.txt").write_text(
        f"a/b.jpg 3\n\n  dir with space/c d.jpg   7  \n{absolute} 0\n"
    )
    samples = parse_image_list(tmp_path / "list.txt", tmp_path / "root", num_classes=8)
    assert samples == [
        (str(tmp_path / "root" / "a" / "b.jpg"), 3),
        (str(tmp_path / "root" / "dir with space" / "c d.jpg"), 7),
        (str(absolute), 0),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lonely.jpg", "<integer label>"),
        ("a.jpg cat", "<integer label>"),
        ("a.jpg 1.5", "<integer label>"),
        ("a.jpg -1", "label -1"),
        ("a.jpg 31", r"label 31 is not in 0\.\.30"),
    ],
)
def test_malformed_line_names_the_file_and_line(tmp_path, line, message):
    (tmp_path / "list.txt").write_text(f"ok.jpg 0\n{line}\n")
    with pytest.raises(ValueError, match=message) as err:
        parse_image_list(tmp_path / "list.txt", tmp_path, num_classes=31)
    assert f"{tmp_path / 'list.txt'}, line 2" in str(err.value)


def test_missing_root_names_it_and_describes_the_layout(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(DatasetNotFoundError) as err:
        get_task("office31/A2W", root=missing)
    message = str(err.value)
    assert str(missing) in message and "root/image_list/{amazon,dslr,webcam}.txt" in message
    assert "images/<class>/*.jpg" in message and "https://" in message
    assert isinstance(err.value, ValueError) and isinstance(err.value, FileNotFoundError)


def test_missing_list_file_is_reported_when_the_task_is_built(office31):
    (office31 / "image_list" / "webcam.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="not found") as err:
        get_task("office31/A2W", root=office31)
    assert str(office31 / "image_list" / "webcam.txt") in str(err.value)
    with pytest.raises(ValueError, match="visda-2017"):
        get_task("visda2017/Synthetic2Real", root=office31)


def test_malformed_line_is_reported_when_the_task_is_built(office31):
    with open(office31 / "image_list" / "amazon.txt", "a") as f:
        f.write("amazon/images/mug/oops.jpg\n")
    with pytest.raises(ValueError, match=r"amazon\.txt, line 21: expected"):
        get_task("office31/A2W", root=office31)


def test_unreadable_or_missing_image_errors_name_the_file(tmp_path):
    write_images(tmp_path, "l.txt", [("good.png", 0)])
    (tmp_path / "corrupt.jpg").write_bytes(b"not an image at all")
    with open(tmp_path / "image_list" / "l.txt", "a") as f:
        f.write("corrupt.jpg 1\ngone.jpg 1\n")
    ds = ImageList(tmp_path, "image_list/l.txt", classes=("a", "b"))
    assert ds[0][0].mode == "RGB"
    with pytest.raises(OSError, match=r"cannot read image .*corrupt\.jpg"):
        ds[1]
    with pytest.raises(DatasetNotFoundError, match=r"gone\.jpg"):
        ds[2]
    (tmp_path / "image_list" / "first.txt").write_text("gone.jpg 0\ngood.png 0\n")
    with pytest.raises(DatasetNotFoundError, match=r"gone\.jpg \(first entry"):
        ImageList(tmp_path, "image_list/first.txt")  # a wrong root shows before training
    with pytest.raises(ValueError, match="mode must be one of 'RGB', 'L'"):
        ImageList(tmp_path, "image_list/l.txt", mode="CMYK")


def test_grey_mode_and_transforms(tmp_path):
    write_images(tmp_path, "g.txt", [("g.png", 3)], mode="L", size=(16, 16))
    ds = ImageList(tmp_path, "image_list/g.txt", transform=real.digit_transform(28, 1), mode="L")
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and y == 3 and -1.0 <= float(x.min()) <= float(x.max()) <= 1.0
    train, val = real.resnet_transforms()
    img = Image.new("RGB", (40, 30))
    assert train(img).shape == val(img).shape == (3, 224, 224)


# --- closed-set tasks ---------------------------------------------------------------------------


def test_office31_task_through_the_registry(office31):
    task = get_task("office31/A2W", root=office31, seed=0)
    assert task.setting == "closed" and task.class_names == real.OFFICE31_CLASSES
    assert task.num_classes == 31 and task.shared_classes is None
    assert task.input_shape == (3, 224, 224) and task.model == "resnet50"
    assert task.description == "Office-31 amazon → webcam (31 classes, ResNet-50)"
    n = len(OFFICE31_LABELS) * PER_CLASS
    assert task.sizes() == {
        "source_train": 18, "source_val": 2, "target_adapt": 12, "target_val": 4, "target_test": 4,
    }  # fmt: skip
    assert all(
        "/amazon/" in p for s in ("source_train", "source_val") for p in paths_of(task.splits[s])
    )
    assert all("/webcam/" in p for s in SPLITS[2:] for p in paths_of(task.splits[s]))
    for first, last in (("source_train", "source_val"), ("target_adapt", "target_test")):
        group = SPLITS[SPLITS.index(first) : SPLITS.index(last) + 1]
        indices = [i for s in group for i in task.splits[s].indices]
        assert sorted(indices) == list(range(n))  # disjoint and covering
    labels = [y for s in SPLITS for y in labels_of(task.splits[s])]
    assert sorted(set(labels)) == list(OFFICE31_LABELS)
    # the sample's label is the class of its folder, by the reference's class list
    for path, label in task.splits["target_test"].dataset.samples:
        assert Path(path).parent.name == task.class_names[label]

    x, y = task.split("source_train")[0]
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and y in OFFICE31_LABELS
    assert task.split("target_test")[0][0].shape == (3, 224, 224)
    unlabelled = task.split("target_adapt")[0]
    assert isinstance(unlabelled, torch.Tensor) and unlabelled.shape == (3, 224, 224)
    xb, yb = next(eval_batches(task.split("target_val"), 4, torch.device("cpu")))
    assert xb.shape == (4, 3, 224, 224) and yb.dtype == torch.int64


def test_splits_depend_on_the_seed_only(office31):
    a, b = get_task("office31/A2W", office31, seed=3), get_task("office31/A2W", office31, seed=3)
    c = get_task("office31/A2W", office31, seed=4)
    for split in SPLITS:
        assert a.splits[split].indices == b.splits[split].indices
    assert any(a.splits[s].indices != c.splits[s].indices for s in ("source_train", "target_adapt"))


def test_image_size_crops_a_resnet_tasks_images_and_scales_the_resize(office31, tmp_path):
    task = get_task("office31/A2W", root=office31, image_size=32)
    assert task.input_shape == (3, 32, 32)
    for split in ("source_train", "source_val", "target_adapt", "target_test"):
        x = task.split(split)[0]
        assert (x if split == "target_adapt" else x[0]).shape == (3, 32, 32)
    resize = task.splits["source_val"].dataset.transform.transforms[0]
    assert tuple(resize.size) == (37, 37)  # 256 · 32 / 224, as 256 is to 224
    default = get_task("office31/A2W", root=office31)
    assert task.splits["target_test"].indices == default.splits["target_test"].indices
    with pytest.raises(ValueError, match="image_size applies to the real-data ResNet tasks"):
        get_task("moons/rot40", image_size=32)
    with pytest.raises(ValueError, match="'digits/MNIST2USPS' has fixed digit inputs"):
        real.build_task("digits/MNIST2USPS", "digits", "MNIST", "USPS", tmp_path, 0,
                        image_size=32)  # fmt: skip


def test_train_and_eval_transforms_differ_by_split(office31):
    task = get_task("office31/A2W", root=office31)
    train_tf = task.splits["source_train"].dataset.transform
    eval_tf = task.splits["source_val"].dataset.transform
    assert any(isinstance(t, transforms.RandomResizedCrop) for t in train_tf.transforms)
    assert not any(isinstance(t, transforms.RandomResizedCrop) for t in eval_tf.transforms)
    assert task.splits["target_adapt"].dataset.transform is train_tf
    assert task.splits["target_test"].dataset.transform is eval_tf
    # views share the parsed samples instead of re-reading the list
    assert task.splits["source_val"].dataset.samples is task.splits["source_train"].dataset.samples


def test_domainnet_adapts_on_the_target_train_list_and_evaluates_on_its_test_list(tmp_path):
    classes = real.DOMAINNET_CLASSES
    for domain in ("clipart", "painting"):
        for split in ("train", "test"):
            items = entries(f"{domain}/{split}", classes, (0, 344), per_class=4)
            items = [(p.replace(f"{domain}/{split}/", f"{domain}/"), y) for p, y in items]
            write_images(tmp_path, f"{domain}_{split}.txt", items)
    task = get_task("domainnet/c2p", root=tmp_path, seed=1)
    assert task.num_classes == 345 and task.model == "resnet50"
    assert task.sizes() == {
        "source_train": 7, "source_val": 1, "target_adapt": 8, "target_val": 4, "target_test": 4,
    }  # fmt: skip
    assert all("painting_test" not in p for p in paths_of(task.splits["target_adapt"]))
    eval_paths = paths_of(task.splits["target_val"]) + paths_of(task.splits["target_test"])
    assert sorted(eval_paths) == sorted(p for p, _ in task.splits["target_val"].dataset.samples)
    assert all("painting_test" in p for p in eval_paths)
    assert all("clipart_train" in p for p in paths_of(task.splits["source_train"]))


def digits_tree(root: Path) -> Path:
    for name, mode, size in (("mnist", "L", (28, 28)), ("usps", "L", (16, 16))):
        for split in ("train", "test"):
            items = [(f"{name}_{split}_image/{y}_{i}.png", y) for y in (1, 7) for i in range(5)]
            write_images(root, f"{name}_{split}.txt", items, mode=mode, size=size)
    items = [(f"svhn_image/{y}_{i}.png", y) for y in (1, 7) for i in range(5)]
    write_images(root, "svhn_balanced.txt", items, size=(32, 32))
    return root


def test_digit_tasks_use_the_reference_inputs(tmp_path):
    root = digits_tree(tmp_path)
    grey = get_task("digits/USPS2MNIST", root=root)
    assert grey.model == "lenet" and grey.input_shape == (1, 28, 28)
    assert grey.class_names == real.DIGIT_CLASSES and grey.class_names[7] == "7 - seven"
    for split in SPLITS:
        x, y = grey.split(split, labelled=True)[0]
        assert x.shape == (1, 28, 28) and y in (1, 7)
        assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert grey.sizes()["target_adapt"] == 10  # the whole MNIST train list
    rgb = get_task("digits/SVHN2MNIST", root=root)
    assert rgb.model == "dtn" and rgb.input_shape == (3, 32, 32)
    assert (
        rgb.split("source_train")[0][0].shape == rgb.split("target_test")[0][0].shape == (3, 32, 32)
    )
    assert "Digits SVHN → MNIST" in rgb.description and "DTN" in rgb.description
    assert get_task("digits/MNIST2SVHN", root=root).sizes()["target_test"] == 2  # 60/20/20


def test_digits_are_never_downloaded_unless_asked(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="download_digits") as err:
        get_task("digits/MNIST2USPS", root=tmp_path)
    assert str(tmp_path / "image_list" / "mnist_train.txt") in str(err.value)

    created = []

    class FakeMNIST:  # stands in for torchvision.datasets.MNIST (no network here)
        def __init__(self, root, train, download):
            created.append((Path(root), train, download))
            self.images = [Image.new("L", (28, 28), 40 * i) for i in range(3)]

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.images[i], i + 2

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    ds = load_domain("digits", tmp_path, "MNIST", "test", mode="L", download=True)
    assert ds.targets == [2, 3, 4] and ds[1][0].size == (28, 28)
    assert (tmp_path / "image_list" / "mnist_train.txt").is_file()
    assert created == [
        (tmp_path / "torchvision", True, True),
        (tmp_path / "torchvision", False, True),
    ]
    load_domain("digits", tmp_path, "MNIST", download=True)
    assert len(created) == 2  # lists that exist are not fetched again
    with pytest.raises(ValueError, match="digits only"):
        load_domain("office31", tmp_path, "A", download=True)
    with pytest.raises(ValueError, match="must be 'train'; got 'test'"):
        load_domain("digits", tmp_path, "SVHN", "test")


# --- open-set and partial -----------------------------------------------------------------------


def test_office31_open_set_relabels_public_and_private_classes(office31):
    task = get_task("office31-openset/A2W", root=office31)
    assert task.setting == "open_set" and task.num_classes == 21
    assert task.class_names == (*real.OFFICE31_CLASSES[:20], "unknown")
    source = {y for s in ("source_train", "source_val") for y in labels_of(task.splits[s])}
    target = [y for s in SPLITS[2:] for y in labels_of(task.splits[s])]
    assert source == {0, 5}  # public classes only, labels unchanged (public = the first 20)
    assert sorted(set(target)) == [0, 5, 20] and target.count(20) == 2 * PER_CLASS
    assert sum(task.sizes()[s] for s in SPLITS[:2]) == 2 * PER_CLASS


def test_officehome_open_set_relabels_in_sorted_order(tmp_path):
    # Alarm_Clock (33) is public #0, Bottle (2) public #5, Shelf (6) is target-private
    labels = (33, 2, 6)
    for domain in ("Art", "Clipart"):
        write_images(tmp_path, f"{domain}.txt", entries(domain, real.OFFICEHOME_CLASSES, labels, 2))
    public, private = real.OPEN_SET_CLASSES["officehome"]
    spec_indices = [33, 32, 36, 15, 19, 2, 46, 49, 48, 53, 47, 54, 4, 18, 57, 23, 0, 45, 1, 38]
    spec_indices += [5, 13, 50, 11, 58]
    assert [real.OFFICEHOME_CLASSES.index(c) for c in public] == spec_indices
    assert len(private) == 40 and not set(public) & set(private)
    task = get_task("officehome-openset/Ar2Cl", root=tmp_path)
    assert task.class_names == (*public, "unknown") and task.num_classes == 26
    assert label_by_folder(task, SPLITS[2:]) == {"Alarm_Clock": 0, "Bottle": 5, "Shelf": 25}
    assert {y for s in SPLITS[:2] for y in labels_of(task.splits[s])} == {0, 5}


def test_visda_open_set_and_domain_lists(tmp_path):
    classes = real.VISDA2017_CLASSES
    write_images(tmp_path, "train.txt", entries("train", classes, (0, 1, 11), 2, "png"))
    write_images(tmp_path, "validation.txt", entries("validation", classes, (0, 1, 11), 3))
    task = get_task("visda2017-openset/Synthetic2Real", root=tmp_path)
    assert task.class_names == ("bicycle", "bus", "car", "motorcycle", "train", "truck", "unknown")
    assert all("/train/" in p for p in paths_of(task.splits["source_train"]))
    assert sum(task.sizes()[s] for s in SPLITS[:2]) == 4  # aeroplane dropped from the source
    target = label_by_folder(task, SPLITS[2:])
    assert target == {"bicycle": 0, "truck": 5, "aeroplane": 6}
    assert all("/validation/" in p for s in SPLITS[2:] for p in paths_of(task.splits[s]))
    closed = get_task("visda2017/Synthetic2Real", root=tmp_path)
    assert (
        closed.splits["source_train"].dataset.transform.transforms[1].__class__.__name__
        == "CenterCrop"
    )


def test_partial_keeps_listed_target_classes_without_relabelling(office31):
    task = get_task("office31-partial/A2W", root=office31)
    assert task.setting == "partial" and task.class_names == real.OFFICE31_CLASSES
    assert tuple(task.shared_classes) == (0, 1, 5, 10, 11, 12, 15, 16, 17, 22)
    target = [y for s in SPLITS[2:] for y in labels_of(task.splits[s])]
    source = [y for s in SPLITS[:2] for y in labels_of(task.splits[s])]
    assert sorted(set(target)) == [0, 5] and len(target) == 2 * PER_CLASS  # phone, ruler dropped
    assert sorted(set(source)) == list(OFFICE31_LABELS)  # the source is the full dataset
    assert "10 in the target" in task.description
    assert real.PARTIAL_CLASSES["visda2017"] == (
        "aeroplane",
        "bicycle",
        "bus",
        "car",
        "horse",
        "knife",
    )
    assert real.PARTIAL_CLASSES["officehome"] == real.OPEN_SET_CLASSES["officehome"][0]


# --- registry -----------------------------------------------------------------------------------


def test_every_ordered_domain_pair_is_registered():
    specs = {s.name: s for s in list_tasks() if s.needs_root}
    expected = {
        "office31": ["A", "D", "W"],
        "officehome": ["Ar", "Cl", "Pr", "Rw"],
        "visda2017": ["Synthetic", "Real"],
        "domainnet": list("cipqrs"),
        "digits": ["MNIST", "USPS", "SVHN"],
    }
    names = set()
    for dataset, domains in expected.items():
        prefixes = [dataset]
        if dataset in ("office31", "officehome", "visda2017"):
            prefixes += [f"{dataset}-openset", f"{dataset}-partial"]
        names |= {f"{p}/{s}2{t}" for p in prefixes for s in domains for t in domains if s != t}
    assert names == set(specs)
    assert len(names) == 3 * 6 + 3 * 12 + 3 * 2 + 30 + 6
    assert all(s.description and "\n" not in s.description for s in specs.values())
    assert specs["officehome-partial/Ar2Cl"].setting == "partial"
    assert specs["visda2017-openset/Synthetic2Real"].setting == "open_set"
    assert (
        specs["domainnet/c2p"].description
        == "DomainNet clipart → painting (345 classes, ResNet-50)"
    )


def test_class_lists_match_the_reference():
    assert len(real.OFFICE31_CLASSES) == 31 and real.OFFICE31_CLASSES == tuple(
        sorted(real.OFFICE31_CLASSES)
    )
    assert len(real.OFFICEHOME_CLASSES) == 65 and real.OFFICEHOME_CLASSES[:4] == (
        "Drill", "Exit_Sign", "Bottle", "Glasses",
    )  # fmt: skip
    assert real.OFFICEHOME_CLASSES[-1] == "Marker"
    assert len(real.VISDA2017_CLASSES) == 12
    domainnet = real.DOMAINNET_CLASSES
    assert len(domainnet) == len(set(domainnet)) == 345
    assert domainnet.index("cello") + 1 == domainnet.index("cell_phone")
    assert domainnet[domainnet.index("tent") + 1 : domainnet.index("tiger")] == (
        "The_Eiffel_Tower", "The_Great_Wall_of_China", "The_Mona_Lisa",
    )  # fmt: skip


def test_unlabelled_target_of_a_disk_task_goes_through_the_loader(office31):
    task = get_task("office31/A2W", root=office31)
    batches = InfiniteBatches(
        task.split("target_adapt"), 4, torch.Generator().manual_seed(0), torch.device("cpu")
    )
    assert next(batches).shape == (4, 3, 224, 224)


def test_a_trial_trains_on_a_real_data_task_with_another_resnet_and_small_images(office31):
    from dabench.methods import get_method
    from dabench.trainable import resolve_config, run_trial

    config = {"method": "dann", "task": "office31/A2W", "root": str(office31), "steps": 2,
              "eval_every": 2, "batch_size": 4, "backbone": "resnet18", "image_size": 32}  # fmt: skip
    cfg = resolve_config(config)
    task = get_task("office31/A2W", office31, image_size=32)
    recipe = get_method("dann")(task, cfg, torch.device("cpu"))
    assert recipe.model.backbone.out_features == 512  # ResNet-18's, not the task's ResNet-50
    metrics = run_trial(config)
    assert metrics["step"] == 2 and 0 <= metrics["target_test_acc"] <= 100
