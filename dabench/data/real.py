"""Real-dataset tasks: Office-31, Office-Home, VisDA-2017, DomainNet and MNIST/USPS/SVHN, read from
disk in the reference's image-list layout.

Every dataset lives in one root folder (``--root``) holding the images and an ``image_list``
folder of list files, one ``<relative/path> <integer label>`` line per image (the format of the
Transfer-Learning-Library, whose lists can be used as they are):

* Office-31: ``amazon.txt``, ``dslr.txt``, ``webcam.txt``; images ``<domain>/images/<class>/``.
* Office-Home: ``Art.txt``, ``Clipart.txt``, ``Product.txt``, ``Real_World.txt``; images
  ``<domain>/<Class>/``.
* VisDA-2017: ``train.txt`` (Synthetic), ``validation.txt`` (Real); images ``train/<class>/``,
  ``validation/<class>/``.
* DomainNet: ``<domain>_train.txt`` and ``<domain>_test.txt``; images ``<domain>/<class>/``.
* Digits: ``mnist_{train,test}.txt``, ``usps_{train,test}.txt``, ``svhn_balanced.txt``; images
  ``mnist_train_image/``, ``usps_train_image/``, ``svhn_image/`` ...

Labels index the reference's class lists (:data:`~dabench.catalog.datasets.OFFICE31_CLASSES`
etc., declared with the datasets' domains and layouts in :mod:`dabench.catalog.datasets`;
Office-Home's order is *not* alphabetical). Only MNIST, USPS and SVHN can be fetched by code
(:func:`download_digits`, through torchvision's public mirrors, never implicitly); for the other
datasets the error message for a missing folder says where to get them.

Splits (seeded, disjoint; the source split with ``seed``, the target split with ``seed + 1``, as for
the bundled tasks):

* ``source_train`` / ``source_val``: 90 % / 10 % of the source domain's (training) list;
* domains with a single list (Office-31, Office-Home, VisDA-2017, SVHN): ``target_adapt`` /
  ``target_val`` / ``target_test`` are 60 % / 20 % / 20 % of the target list;
* domains with official train/test lists (DomainNet, MNIST, USPS): ``target_adapt`` is the whole
  target *train* list and ``target_val`` / ``target_test`` are 50 % / 50 % of its *test* list, so
  no test image is ever seen, even unlabelled, during adaptation (the reference trains on the
  train lists and evaluates on the test list; it also selects on it, which this split avoids).

Inputs: the ResNet tasks (``resnet50``, 3×224×224) use the reference's ``default`` training
pipeline (resize to 256×256, random resized crop 224, horizontal flip; VisDA-2017 its ``cen.crop``:
centre crop 224 then flip) for ``source_train`` and ``target_adapt`` and resize 256 + centre crop 224
for the evaluated splits, with ImageNet normalisation (a trial's ``image_size`` replaces 224, and
256 in proportion: a small, fast run of the same pipeline). Digits use resize + ``Normalize(0.5, 0.5)``
for every split: 28×28 grey with ``lenet`` for MNIST↔USPS, 32×32 RGB with ``dtn`` whenever SVHN is
one of the domains (both domains then load as RGB, the reference's ``SVHNRGB → MNISTRGB``).

Open-set and partial variants (Office-31, Office-Home, VisDA-2017) follow the reference's
``default_open_set`` / ``default_partial`` class lists
(:data:`~dabench.catalog.datasets.OPEN_SET_CLASSES`,
:data:`~dabench.catalog.datasets.PARTIAL_CLASSES`).

Registered tasks (all ``needs_root``), one per ordered pair of distinct domains:
``office31[-openset|-partial]/<S>2<T>`` (``A, D, W``), ``officehome[-openset|-partial]/<S>2<T>``
(``Ar, Cl, Pr, Rw``), ``visda2017[-openset|-partial]/<S>2<T>`` (``Synthetic, Real``),
``domainnet/<S>2<T>`` (``c, i, p, q, r, s``) and ``digits/<S>2<T>`` (``MNIST, USPS, SVHN``; the
reference runs MNIST→USPS, USPS→MNIST and SVHN→MNIST). DomainNet uses ``resnet50`` here (the
reference's DomainNet and VisDA-2017 closed-set results use ResNet-101).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PIL import Image
from torch.utils.data import Subset

from dabench.catalog.datasets import (
    DATASETS,
    DIGIT_CLASSES,
    DOMAINNET_CLASSES,
    IMAGE_SIZE,
    INPUT_MODELS,
    INPUT_TITLES,
    OFFICE31_CLASSES,
    OFFICEHOME_CLASSES,
    OPEN_SET_CLASSES,
    PARTIAL_CLASSES,
    REAL_TASKS,
    VISDA2017_CLASSES,
    DatasetSpec,
    Domain,
    RealTask,
    describe,
    input_kind,
    resize_of,
)
from dabench.data.image_list import ImageList
from dabench.data.registry import register_builtin
from dabench.data.task import Task, source_splits, target_splits

if TYPE_CHECKING:
    from torchvision import transforms as T

__all__ = [
    "DATASETS",
    "DIGIT_CLASSES",
    "DOMAINNET_CLASSES",
    "OFFICE31_CLASSES",
    "OFFICEHOME_CLASSES",
    "OPEN_SET_CLASSES",
    "PARTIAL_CLASSES",
    "VISDA2017_CLASSES",
    "DatasetSpec",
    "Domain",
    "build_task",
    "digit_transform",
    "download_digits",
    "load_domain",
    "resnet_transforms",
]


def load_domain(
    dataset: str | DatasetSpec,
    root: str | os.PathLike[str],
    domain: str,
    split: str = "train",
    transform: Callable[[Image.Image], Any] | None = None,
    mode: str = "RGB",
    download: bool = False,
) -> ImageList:
    """One list of one domain, e.g. ``load_domain("office31", root, "A")``.

    Args:
        dataset: a key of :data:`DATASETS` (or its :class:`DatasetSpec`).
        root: the dataset's root folder.
        domain: the domain's key, e.g. ``"A"``, ``"Ar"``, ``"Synthetic"``, ``"c"``, ``"MNIST"``.
        split: ``"train"``: the domain's (training) list; ``"test"``: its test list, for the
            domains that have one (DomainNet, MNIST, USPS).
        transform, mode: as for :class:`ImageList`.
        download: digits only: fetch a missing MNIST/USPS/SVHN with :func:`download_digits`
            first (default ``False``: nothing is ever downloaded unless asked for).
    """
    spec = DATASETS[dataset] if isinstance(dataset, str) else dataset
    dom = spec.domain(domain)
    splits = ("train", "test")[: len(dom.lists)]
    if split not in splits:
        accepted = " or ".join(map(repr, splits))
        raise ValueError(f"split of {spec.title} {domain} must be {accepted}; got {split!r}")
    list_file = dom.lists[splits.index(split)]
    if download:
        if spec.key != "digits":
            raise ValueError(f"download=True works for digits only; {spec.hint}")
        if not (Path(root) / list_file).is_file():
            download_digits(root, (domain,))
    return ImageList(
        root, list_file, transform, mode=mode, classes=spec.classes, layout=spec.layout,
        hint=spec.hint,
    )  # fmt: skip


_TORCHVISION_DIGITS = {
    # domain: (torchvision class, [(list file, image folder, constructor kwargs)])
    "MNIST": ("MNIST", [("mnist_train", "mnist_train_image", {"train": True}),
                        ("mnist_test", "mnist_test_image", {"train": False})]),
    "USPS": ("USPS", [("usps_train", "usps_train_image", {"train": True}),
                      ("usps_test", "usps_test_image", {"train": False})]),
    "SVHN": ("SVHN", [("svhn_balanced", "svhn_image", {"split": "train"})]),
}  # fmt: skip


def download_digits(
    root: str | os.PathLike[str], domains: Sequence[str] = ("MNIST", "USPS", "SVHN")
) -> None:
    """Fetch MNIST, USPS and/or SVHN with torchvision (``download=True``, its public mirrors;
    raw files under ``root/torchvision``) and write them in the image-list layout: one PNG per
    image under ``root/<name>_image/`` and ``root/image_list/<name>.txt``. Lists that already
    exist are left alone. Never called implicitly (``download=False`` everywhere by default).

    SVHN's list is written as ``svhn_balanced.txt`` (the name the reference reads) but holds the
    whole SVHN train split (73,257 images), not the reference's class-balanced subset; torchvision
    reads SVHN's ``.mat`` files with scipy.
    """
    from torchvision import datasets as tv_datasets

    root = Path(root)
    for domain in domains:
        if domain not in _TORCHVISION_DIGITS:
            raise ValueError(
                f"domains must be among {', '.join(_TORCHVISION_DIGITS)}; got {domain!r}"
            )
        cls_name, parts = _TORCHVISION_DIGITS[domain]
        for list_name, folder, kwargs in parts:
            list_path = root / "image_list" / f"{list_name}.txt"
            if list_path.is_file():
                continue
            data = getattr(tv_datasets, cls_name)(
                str(root / "torchvision"), download=True, **kwargs
            )
            (root / folder).mkdir(parents=True, exist_ok=True)
            lines = []
            for i in range(len(data)):
                img, label = data[i]
                img.save(root / folder / f"{i:05d}.png")
                lines.append(f"{folder}/{i:05d}.png {int(label)}\n")
            list_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = list_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text("".join(lines), encoding="utf-8")
            os.replace(tmp, list_path)  # the list appears only once every image is written


# --- transforms ---------------------------------------------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _transforms() -> ModuleType:
    """``torchvision.transforms``, imported when a real-data task is built: the registry reads
    this module whenever any task is looked up, and torchvision's import takes about 2 s."""
    from torchvision import transforms

    return transforms


def _resize(size: int) -> T.Resize:
    """The reference's ``ResizeImage(size)``: PIL ``resize((size, size))`` (aspect ratio not kept)
    with Pillow's default bicubic filter."""
    tv = _transforms()
    return tv.Resize((size, size), interpolation=tv.InterpolationMode.BICUBIC)


def resnet_transforms(
    center_crop: bool = False, image_size: int = IMAGE_SIZE
) -> tuple[T.Compose, T.Compose]:
    """``(train, val)`` pipelines for ``image_size``×``image_size`` ImageNet-normalised inputs
    (spec: ``default`` training pipeline, or ``cen.crop`` with ``center_crop=True``): resize to
    256 (:func:`~dabench.catalog.datasets.resize_of`: in proportion for another size), then the
    crop."""
    tv = _transforms()
    size, resize = image_size, _resize(resize_of(image_size))
    crop = tv.CenterCrop(size) if center_crop else tv.RandomResizedCrop(size)  # scale (0.08, 1)
    normalize = [tv.ToTensor(), tv.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    train = tv.Compose([resize, crop, tv.RandomHorizontalFlip(), *normalize])
    val = tv.Compose([resize, tv.CenterCrop(size), *normalize])
    return train, val


def digit_transform(size: int, channels: int) -> T.Compose:
    """Resize to ``size``×``size``, ``ToTensor``, ``Normalize(0.5, 0.5)`` per channel (train = val,
    no augmentation, as in the reference's digit commands)."""
    tv = _transforms()
    return tv.Compose(
        [_resize(size), tv.ToTensor(), tv.Normalize((0.5,) * channels, (0.5,) * channels)]
    )


# --- tasks --------------------------------------------------------------------------------------

TEST_LIST_FRACTIONS = (0.5, 0.5)
"""Target val/test halves of the official test list (domains with train and test lists)."""


@dataclass(frozen=True)
class _Inputs:
    mode: str
    input_shape: tuple[int, ...]
    model: str
    title: str
    train: Callable[[Image.Image], Any]
    val: Callable[[Image.Image], Any]


def _inputs(dataset: str, source: str, target: str, image_size: int | None = None) -> _Inputs:
    kind = input_kind(dataset, source, target)
    title, model = INPUT_TITLES[kind], INPUT_MODELS[kind]
    if kind == "rgb32":
        tf = digit_transform(32, 3)
        return _Inputs("RGB", (3, 32, 32), model, title, tf, tf)
    if kind == "grey28":
        tf = digit_transform(28, 1)
        return _Inputs("L", (1, 28, 28), model, title, tf, tf)
    size = IMAGE_SIZE if image_size is None else image_size
    train, val = resnet_transforms(center_crop=dataset == "visda2017", image_size=size)
    return _Inputs("RGB", (3, size, size), model, title, train, val)


def build_task(
    name: str,
    dataset: str,
    source: str,
    target: str,
    root: Path | None,
    seed: int,
    setting: str = "closed",
    description: str = "",
    image_size: int | None = None,
) -> Task:
    """Build the ``dataset`` task ``source → target`` in ``setting`` (``closed``, ``open_set`` or
    ``partial``; see the module docstring for splits and inputs); ``image_size``: the crop of a
    ResNet task's images (``None``: 224)."""
    spec = DATASETS[dataset]
    if root is None:
        raise ValueError(f"task {name!r} reads {spec.title} from disk: give its root folder")
    if image_size is not None and input_kind(dataset, source, target) != "resnet":
        raise ValueError(f"task {name!r} has fixed digit inputs: image_size applies to the "
                         "ResNet tasks only")  # fmt: skip
    inputs = _inputs(dataset, source, target, image_size)
    src = load_domain(spec, root, source, "train", inputs.train, inputs.mode)
    tgt_lists = [
        load_domain(spec, root, target, split, inputs.train, inputs.mode)
        for split in ("train", "test")[: len(spec.domain(target).lists)]
    ]
    class_names, shared = spec.classes, None
    if setting == "open_set":
        public, private = OPEN_SET_CLASSES[dataset]
        class_names = (*public, "unknown")
        index = {c: i for i, c in enumerate(spec.classes)}
        known = {index[c]: i for i, c in enumerate(public)}
        unknown = {index[c]: len(public) for c in private}
        src = src.relabel(known, class_names)
        tgt_lists = [t.relabel({**known, **unknown}, class_names) for t in tgt_lists]
    elif setting == "partial":
        shared = tuple(sorted(spec.classes.index(c) for c in PARTIAL_CLASSES[dataset]))
        tgt_lists = [t.relabel({c: c for c in shared}, spec.classes) for t in tgt_lists]
    elif setting != "closed":
        raise ValueError(f"setting must be 'closed', 'open_set' or 'partial'; got {setting!r}")

    s_train, s_val = source_splits(len(src), seed)
    if len(tgt_lists) == 1:
        adapt_list = eval_list = tgt_lists[0]
        t_adapt, t_val, t_test = target_splits(len(adapt_list), seed)
    else:
        adapt_list, eval_list = tgt_lists
        t_adapt = range(len(adapt_list))  # the whole official train list
        t_val, t_test = target_splits(len(eval_list), seed, TEST_LIST_FRACTIONS)
    src_val, tgt_val = src.with_transform(inputs.val), eval_list.with_transform(inputs.val)
    splits = {
        "source_train": Subset(src, s_train.tolist()),
        "source_val": Subset(src_val, s_val.tolist()),
        "target_adapt": Subset(adapt_list, list(t_adapt)),
        "target_val": Subset(tgt_val, t_val.tolist()),
        "target_test": Subset(tgt_val, t_test.tolist()),
    }
    return Task(
        name, description or describe(dataset, source, target, setting), setting, class_names,
        inputs.input_shape, inputs.model, splits, shared, seed,
    )  # fmt: skip


def _register(task: RealTask) -> None:
    @register_builtin(task.name)
    def factory(root: Path | None, seed: int, image_size: int | None = None) -> Task:
        return build_task(task.name, task.dataset, task.source, task.target, root, seed,
                          task.setting, task.description, image_size)  # fmt: skip


for _task in REAL_TASKS.values():
    _register(_task)
