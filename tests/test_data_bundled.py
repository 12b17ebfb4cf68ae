import numpy as np
import pytest
import torch

from dabench.data import SPLITS, get_task, list_tasks
from dabench.data import generators as gen
from dabench.data.task import InMemoryDataset, split_indices

BUNDLED = [
    "moons/rot40", "digits/synth2hand", "digits/synth2blend", "digits/hand2synth",
    "digits-openset/synth2blend", "digits-partial/synth2blend", "shapes/flat2textured",
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DABENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def test_every_bundled_task_is_listed_with_a_one_line_description():
    specs = {s.name: s for s in list_tasks()}
    for name in BUNDLED:
        assert name in specs and not specs[name].needs_root
        assert specs[name].description and "\n" not in specs[name].description


@pytest.mark.parametrize("name", BUNDLED)
def test_task_shapes_splits_and_labels(name):
    task = get_task(name, seed=0)
    sizes = task.sizes()
    assert set(sizes) == set(SPLITS) and all(n > 0 for n in sizes.values())
    x, y = task.split("source_train")[0]
    assert tuple(x.shape) == task.input_shape and x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert (float(x.min()) >= -1.0 and float(x.max()) <= 1.0) or name.startswith("moons")
    unlabelled = task.split("target_adapt")
    assert isinstance(unlabelled[0], torch.Tensor) and unlabelled[0].shape == x.shape
    assert isinstance(task.split("target_adapt", labelled=True)[0], tuple)


def test_split_indices_partition_and_seed():
    parts = split_indices(1000, [0.6, 0.2, 0.2], seed=3)
    joined = torch.cat(parts)
    assert sorted(joined.tolist()) == list(range(1000))
    assert [len(p) for p in parts] == [600, 200, 200]
    again = split_indices(1000, [0.6, 0.2, 0.2], seed=3)
    assert all(torch.equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not torch.equal(parts[0], split_indices(1000, [0.6, 0.2, 0.2], seed=4)[0])
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, [0.5, 0.4], seed=0)


def test_splits_are_disjoint_and_cover_each_domain():
    task = get_task("moons/rot40", seed=1)
    source = torch.cat([task.splits["source_train"].inputs, task.splits["source_val"].inputs])
    target = torch.cat(
        [task.splits[s].inputs for s in ("target_adapt", "target_val", "target_test")]
    )
    assert len(torch.unique(source, dim=0)) == len(source) == 2000
    assert len(torch.unique(target, dim=0)) == len(target) == 2000


def test_generation_is_deterministic_per_seed():
    a, la = gen.rendered_digits(50, np.random.default_rng(7))
    b, lb = gen.rendered_digits(50, np.random.default_rng(7))
    c, _ = gen.rendered_digits(50, np.random.default_rng(8))
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    s1, m1 = gen.shape_scenes(5, np.random.default_rng(1), textured=True)
    s2, m2 = gen.shape_scenes(5, np.random.default_rng(1), textured=True)
    assert np.array_equal(s1, s2) and np.array_equal(m1, m2)


def test_tasks_for_a_seed_are_identical_and_cached_on_disk(tmp_path, monkeypatch):
    from dabench.data import bundled

    monkeypatch.setenv("DABENCH_CACHE", str(tmp_path))
    bundled._moons.cache_clear()
    first = get_task("moons/rot40", seed=5)
    assert list(tmp_path.glob("moons_rot40-seed5-*.pt"))
    bundled._moons.cache_clear()  # the next build reads the file
    second = get_task("moons/rot40", seed=5)
    for split in SPLITS:
        assert torch.equal(first.splits[split].inputs, second.splits[split].inputs)
    assert not torch.equal(
        first.splits["source_train"].inputs,
        get_task("moons/rot40", seed=6).splits["source_train"].inputs,
    )


def test_open_set_labels_follow_the_reference_convention():
    task = get_task("digits-openset/synth2blend")
    assert (
        task.setting == "open_set" and task.class_names[-1] == "unknown" and task.num_classes == 7
    )
    assert int(task.splits["source_train"].labels.max()) == 5  # the source has known classes only
    target_labels = task.splits["target_test"].labels
    assert set(target_labels.unique().tolist()) == set(range(7))  # 0-5 known, 6 = unknown


def test_partial_target_has_only_shared_classes_without_renumbering():
    task = get_task("digits-partial/synth2blend")
    assert task.num_classes == 10 and tuple(task.shared_classes) == (0, 1, 2, 3, 4)
    assert set(task.splits["target_adapt"].labels.unique().tolist()) == {0, 1, 2, 3, 4}
    assert set(task.splits["source_train"].labels.unique().tolist()) == set(range(10))


def test_segmentation_masks_have_classes_and_ignore_band():
    task = get_task("shapes/flat2textured")
    _, mask = task.split("target_val")[0]
    assert mask.shape == (64, 64)
    values = set(task.splits["target_val"].labels.unique().tolist())
    assert values <= {0, 1, 2, 3, 255} and {0, 255} <= values


def test_in_memory_images_are_scaled_to_minus_one_one():
    ds = InMemoryDataset(
        torch.tensor([[0, 255]], dtype=torch.uint8), torch.tensor([3], dtype=torch.uint8)
    )
    x, y = ds.batch(torch.tensor([0]))
    assert x.tolist() == [[-1.0, 1.0]] and y.dtype == torch.int64


def test_unknown_task_and_missing_root_are_clear_errors():
    suggestion = r"unknown task 'moons' \(did you mean 'moons/rot40'\?\)\. Bundled tasks: .*moons"
    with pytest.raises(ValueError, match=suggestion):
        get_task("moons")
    with pytest.raises(ValueError, match="split must be one of"):
        get_task("moons/rot40").split("train")
