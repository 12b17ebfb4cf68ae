"""The real datasets as the task list knows them without reading them: their class lists (the
reference's, in label order), domains, expected layout on disk and where to get them, and the
tasks made of them — one per ordered pair of distinct domains and setting. ``dabench.data.real``
reads them from disk (the layout, the splits and the inputs are described there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

# --- class lists (the reference's, in label order) ----------------------------------------------

OFFICE31_CLASSES: tuple[str, ...] = tuple(
    """back_pack bike bike_helmet bookcase bottle calculator desk_chair desk_lamp desktop_computer
    file_cabinet headphones keyboard laptop_computer letter_tray mobile_phone monitor mouse mug
    paper_notebook pen phone printer projector punchers ring_binder ruler scissors speaker stapler
    tape_dispenser trash_can""".split()
)

OFFICEHOME_CLASSES: tuple[str, ...] = tuple(
    """Drill Exit_Sign Bottle Glasses Computer File_Cabinet Shelf Toys Sink Laptop Kettle Folder
    Keyboard Flipflops Pencil Bed Hammer ToothBrush Couch Bike Postit_Notes Mug Webcam Desk_Lamp
    Telephone Helmet Mouse Pen Monitor Mop Sneakers Notebook Backpack Alarm_Clock Push_Pin Paper_Clip
    Batteries Radio Fan Ruler Pan Screwdriver Trash_Can Printer Speaker Eraser Bucket Chair Calendar
    Calculator Flowers Lamp_Shade Spoon Candles Clipboards Scissors TV Curtains Fork Soda Table
    Knives Oven Refrigerator Marker""".split()
)
"""Not alphabetical: label ``i`` is the ``i``-th name, as in the reference's list files."""

VISDA2017_CLASSES: tuple[str, ...] = tuple(
    "aeroplane bicycle bus car horse knife motorcycle person plant skateboard train truck".split()
)

DOMAINNET_CLASSES: tuple[str, ...] = tuple(
    """aircraft_carrier airplane alarm_clock ambulance angel animal_migration ant anvil apple arm
    asparagus axe backpack banana bandage barn baseball baseball_bat basket basketball bat bathtub
    beach bear beard bed bee belt bench bicycle binoculars bird birthday_cake blackberry blueberry
    book boomerang bottlecap bowtie bracelet brain bread bridge broccoli broom bucket bulldozer bus
    bush butterfly cactus cake calculator calendar camel camera camouflage campfire candle cannon
    canoe car carrot castle cat ceiling_fan cello cell_phone chair chandelier church circle clarinet
    clock cloud coffee_cup compass computer cookie cooler couch cow crab crayon crocodile crown
    cruise_ship cup diamond dishwasher diving_board dog dolphin donut door dragon dresser drill drums
    duck dumbbell ear elbow elephant envelope eraser eye eyeglasses face fan feather fence finger
    fire_hydrant fireplace firetruck fish flamingo flashlight flip_flops floor_lamp flower
    flying_saucer foot fork frog frying_pan garden garden_hose giraffe goatee golf_club grapes grass
    guitar hamburger hammer hand harp hat headphones hedgehog helicopter helmet hexagon hockey_puck
    hockey_stick horse hospital hot_air_balloon hot_dog hot_tub hourglass house house_plant
    hurricane ice_cream jacket jail kangaroo key keyboard knee knife ladder lantern laptop leaf leg
    light_bulb lighter lighthouse lightning line lion lipstick lobster lollipop mailbox map marker
    matches megaphone mermaid microphone microwave monkey moon mosquito motorbike mountain mouse
    moustache mouth mug mushroom nail necklace nose ocean octagon octopus onion oven owl paintbrush
    paint_can palm_tree panda pants paper_clip parachute parrot passport peanut pear peas pencil
    penguin piano pickup_truck picture_frame pig pillow pineapple pizza pliers police_car pond pool
    popsicle postcard potato power_outlet purse rabbit raccoon radio rain rainbow rake
    remote_control rhinoceros rifle river roller_coaster rollerskates sailboat sandwich saw
    saxophone school_bus scissors scorpion screwdriver sea_turtle see_saw shark sheep shoe shorts
    shovel sink skateboard skull skyscraper sleeping_bag smiley_face snail snake snorkel snowflake
    snowman soccer_ball sock speedboat spider spoon spreadsheet square squiggle squirrel stairs star
    steak stereo stethoscope stitches stop_sign stove strawberry streetlight string_bean submarine
    suitcase sun swan sweater swing_set sword syringe table teapot teddy-bear telephone television
    tennis_racquet tent The_Eiffel_Tower The_Great_Wall_of_China The_Mona_Lisa tiger toaster toe
    toilet tooth toothbrush toothpaste tornado tractor traffic_light train tree triangle trombone
    truck trumpet t-shirt umbrella underwear van vase violin washing_machine watermelon waterslide
    whale wheel windmill wine_bottle wine_glass wristwatch yoga zebra zigzag""".split()
)
"""The reference's 345 names (almost alphabetical: ``cello`` precedes ``cell_phone`` and the three
``The_...`` names sit between ``tent`` and ``tiger``)."""

DIGIT_CLASSES: tuple[str, ...] = (
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
)  # fmt: skip

OPEN_SET_CLASSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "office31": (OFFICE31_CLASSES[:20], OFFICE31_CLASSES[20:]),
    "officehome": (
        tuple(sorted(OFFICEHOME_CLASSES)[:25]),
        tuple(c for c in OFFICEHOME_CLASSES if c not in sorted(OFFICEHOME_CLASSES)[:25]),
    ),
    "visda2017": (
        ("bicycle", "bus", "car", "motorcycle", "train", "truck"),
        ("aeroplane", "horse", "knife", "person", "plant", "skateboard"),
    ),
}
"""Open-set ``(public, target-private)`` classes per dataset (the reference's ``default_open_set``).
Public classes are relabelled ``0..K-1`` in this order, target-private ones become ``K``
("unknown"), any other class is dropped; the source keeps its public classes only."""

PARTIAL_CLASSES: dict[str, tuple[str, ...]] = {
    "office31": (
        "back_pack", "bike", "calculator", "headphones", "keyboard", "laptop_computer", "monitor",
        "mouse", "mug", "projector",
    ),
    "officehome": tuple(sorted(OFFICEHOME_CLASSES)[:25]),
    "visda2017": tuple(sorted(VISDA2017_CLASSES)[:6]),
}  # fmt: skip
"""Partial set: the classes the target keeps (the reference's ``default_partial``: the 10
Office-Caltech classes; the first 25 Office-Home names in sorted order; aeroplane … knife), with
their source labels (no relabelling)."""


# --- datasets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """One domain of a dataset.

    Attributes:
        key: its short name in task names, e.g. ``"A"``.
        name: its full name in descriptions, e.g. ``"amazon"``.
        lists: its list files relative to the root: ``(all,)`` or ``(train, test)``.
        sizes: the number of images each list holds in the reference's lists (``None``: not
            known here, so only the listed images are checked; see
            :data:`~dabench.catalog.datasets.LIST_SIZES`).
    """

    key: str
    name: str
    lists: tuple[str, ...]
    sizes: tuple[int | None, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset on disk: its class list, domains, expected layout and where to get it."""

    key: str
    title: str
    classes: tuple[str, ...]
    domains: tuple[Domain, ...]
    layout: str
    hint: str

    def domain(self, key: str) -> Domain:
        for d in self.domains:
            if d.key == key:
                return d
        keys = ", ".join(d.key for d in self.domains)
        raise ValueError(f"{self.title} has no domain {key!r}; domains: {keys}")


_TLLIB_LISTS = (
    "Image lists in this format come with the Transfer-Learning-Library "
    "(https://github.com/thuml/Transfer-Learning-Library, DATASETS.md)."
)

LIST_SIZES: dict[str, int | None] = {
    "office31/amazon": 2817, "office31/dslr": 498, "office31/webcam": 795,
    "officehome/Art": 2427, "officehome/Clipart": 4365, "officehome/Product": 4439,
    "officehome/Real_World": 4357,
    "visda2017/train": 152397, "visda2017/validation": 55388,
    "digits/mnist_train": 60000, "digits/mnist_test": 10000,
    "digits/usps_train": 7291, "digits/usps_test": 2007,
    "digits/svhn_balanced": None,
}  # fmt: skip
"""Images per list file (``<dataset>/<list name>``) in the lists the reference's loaders read:
Office-31's 4,110 images (amazon 2,817, dslr 498, webcam 795), Office-Home's 15,588, VisDA-2017's
152,397 synthetic (train) and 55,388 real (validation) images, MNIST's 60,000/10,000 and USPS's
7,291/2,007 train/test images (as torchvision's copies hold them, which
``dabench.data.real.download_digits`` writes). ``None``: the size varies — the reference's
``svhn_balanced.txt`` is a class-balanced subset of SVHN's train split, ``download_digits``
writes the whole split (73,257) under that name — and DomainNet's lists are not listed: their
images are checked, not counted."""


def _domain(dataset: str, key: str, name: str, lists: tuple[str, ...]) -> Domain:
    sizes = tuple(LIST_SIZES.get(f"{dataset}/{PurePosixPath(f).stem}") for f in lists)
    return Domain(key, name, lists, sizes)


DATASETS: dict[str, DatasetSpec] = {
    "office31": DatasetSpec(
        "office31", "Office-31", OFFICE31_CLASSES,
        tuple(_domain("office31", k, n, (f"image_list/{n}.txt",))
              for k, n in (("A", "amazon"), ("D", "dslr"), ("W", "webcam"))),
        "root/image_list/{amazon,dslr,webcam}.txt and root/amazon/images/<class>/*.jpg "
        "(likewise dslr, webcam)",
        "Get Office-31 from https://faculty.cc.gatech.edu/~judy/domainadapt/. " + _TLLIB_LISTS,
    ),
    "officehome": DatasetSpec(
        "officehome", "Office-Home", OFFICEHOME_CLASSES,
        tuple(_domain("officehome", k, n, (f"image_list/{n}.txt",))
              for k, n in (("Ar", "Art"), ("Cl", "Clipart"), ("Pr", "Product"),
                           ("Rw", "Real_World"))),
        "root/image_list/{Art,Clipart,Product,Real_World}.txt and root/Art/<Class>/*.jpg "
        "(likewise Clipart, Product, Real_World)",
        "Get Office-Home from https://www.hemanthdv.org/officeHomeDataset.html. " + _TLLIB_LISTS,
    ),
    "visda2017": DatasetSpec(
        "visda2017", "VisDA-2017", VISDA2017_CLASSES,
        (_domain("visda2017", "Synthetic", "synthetic", ("image_list/train.txt",)),
         _domain("visda2017", "Real", "real", ("image_list/validation.txt",))),
        "root/image_list/train.txt (Synthetic), root/image_list/validation.txt (Real), "
        "root/train/<class>/*.png and root/validation/<class>/*.jpg",
        "Get VisDA-2017 (classification track: train and validation) from "
        "https://ai.bu.edu/visda-2017/. " + _TLLIB_LISTS,
    ),
    "domainnet": DatasetSpec(
        "domainnet", "DomainNet", DOMAINNET_CLASSES,
        tuple(_domain("domainnet", n[0], n, (f"image_list/{n}_train.txt",
                                             f"image_list/{n}_test.txt"))
              for n in ("clipart", "infograph", "painting", "quickdraw", "real", "sketch")),
        "root/image_list/<domain>_train.txt and <domain>_test.txt for domain in clipart, "
        "infograph, painting, quickdraw, real, sketch, and root/<domain>/<class>/*.jpg",
        "Get DomainNet (cleaned version) and its train/test lists from https://ai.bu.edu/M3SDA/. "
        + _TLLIB_LISTS,
    ),
    "digits": DatasetSpec(
        "digits", "Digits", DIGIT_CLASSES,
        (_domain("digits", "MNIST", "MNIST", ("image_list/mnist_train.txt",
                                              "image_list/mnist_test.txt")),
         _domain("digits", "USPS", "USPS", ("image_list/usps_train.txt",
                                            "image_list/usps_test.txt")),
         _domain("digits", "SVHN", "SVHN", ("image_list/svhn_balanced.txt",))),
        "root/image_list/{mnist,usps}_{train,test}.txt and svhn_balanced.txt, images under "
        "root/mnist_train_image/, root/usps_train_image/, root/svhn_image/ ...",
        "MNIST, USPS and SVHN can be fetched from torchvision's public mirrors into this layout "
        "with dabench.data.real.download_digits(root) (SVHN needs scipy).",
    ),
}  # fmt: skip
"""Every real dataset by key (the task-name prefix)."""


INPUT_TITLES = {"resnet": "ResNet-50", "rgb32": "32×32 RGB, DTN", "grey28": "28×28 grey, LeNet"}
"""The inputs of a kind of task, in words (see :func:`input_kind`)."""

INPUT_MODELS = {"resnet": "resnet50", "rgb32": "dtn", "grey28": "lenet"}
"""The model of a kind of task (see :func:`input_kind`)."""


def input_kind(dataset: str, source: str, target: str) -> str:
    """``resnet`` (3×224×224 for ResNet-50), ``rgb32`` (32×32 RGB for DTN: digits whenever SVHN is
    a domain) or ``grey28`` (28×28 grey for LeNet: MNIST↔USPS)."""
    if dataset != "digits":
        return "resnet"
    return "rgb32" if "SVHN" in (source, target) else "grey28"


IMAGE_SIZE = 224
"""The crop of a ResNet task's images (after a resize to 256×256, the reference's pipeline)."""
MIN_IMAGE_SIZE = 32
"""The smallest ``image_size`` accepted: a ResNet divides its input by 32."""


def resize_of(image_size: int) -> int:
    """The square resize before the crop: 256 for the reference's 224, in the same proportion for
    another ``image_size`` (e.g. 37 for 32)."""
    return round(image_size * 256 / IMAGE_SIZE)


def resizable(task: str) -> bool:
    """Whether ``task`` is a real-data task of ResNet inputs, whose ``image_size`` a trial may set
    (the digit tasks keep their 28×28 and 32×32)."""
    real = REAL_TASKS.get(task)
    return real is not None and input_kind(real.dataset, real.source, real.target) == "resnet"


def describe(dataset: str, source: str, target: str, setting: str) -> str:
    """One line for ``dabench tasks``, e.g. ``Office-31 amazon → dslr (31 classes, ResNet-50)``."""
    spec = DATASETS[dataset]
    src, tgt = spec.domain(source).name, spec.domain(target).name
    title = INPUT_TITLES[input_kind(dataset, source, target)]
    if setting == "open_set":
        known = len(OPEN_SET_CLASSES[dataset][0])
        return f"open-set {spec.title} {src} → {tgt} ({known} known classes + unknown, {title})"
    if setting == "partial":
        kept = len(PARTIAL_CLASSES[dataset])
        n = len(spec.classes)
        return f"partial {spec.title} {src} → {tgt} ({n} classes, {kept} in the target, {title})"
    return f"{spec.title} {src} → {tgt} ({len(spec.classes)} classes, {title})"


SETTING_SUFFIXES = {"closed": "", "open_set": "-openset", "partial": "-partial"}
"""What a setting adds to the dataset's key in a task's name: ``office31-openset/A2W``."""


@dataclass(frozen=True)
class RealTask:
    """A real-data task: ``dataset``'s ``source`` → ``target`` domains (their keys) in
    ``setting``."""

    dataset: str
    source: str
    target: str
    setting: str

    @property
    def name(self) -> str:
        """``<dataset>[-openset|-partial]/<source>2<target>``."""
        return f"{self.dataset}{SETTING_SUFFIXES[self.setting]}/{self.source}2{self.target}"

    @property
    def model(self) -> str:
        return INPUT_MODELS[input_kind(self.dataset, self.source, self.target)]

    @property
    def description(self) -> str:
        return describe(self.dataset, self.source, self.target, self.setting)


REAL_TASKS: dict[str, RealTask] = {
    task.name: task
    for key, spec in DATASETS.items()
    for setting in (("closed", "open_set", "partial") if key in OPEN_SET_CLASSES else ("closed",))
    for task in (RealTask(key, s.key, t.key, setting)
                 for s in spec.domains for t in spec.domains if s is not t)
}  # fmt: skip
"""Every real-data task by name: for each dataset (and, where it has open-set and partial class
lists, each of those settings) one per ordered pair of distinct domains."""
