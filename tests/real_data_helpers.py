"""Fixture trees in the real datasets' layout, as big as the data check wants them (the
reference's number of images per list) but of tiny images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from dabench.catalog.datasets import DATASETS

OFFICE31 = DATASETS["office31"]


def write_office31(root: Path, domains: tuple[str, ...] = ("dslr", "webcam"),
                   size: int = 8) -> Path:  # fmt: skip
    """Office-31's ``domains`` under ``root`` as the reference lays them out
    (``<domain>/images/<class>/frame_<n>.jpg`` and ``image_list/<domain>.txt``), with as many
    images as the reference's lists, spread over the 31 classes, each ``size``×``size``."""
    for name in domains:
        domain = next(d for d in OFFICE31.domains if d.name == name)
        (count,) = domain.sizes
        lines = []
        for i in range(count):
            label = i % len(OFFICE31.classes)
            rel = f"{name}/images/{OFFICE31.classes[label]}/frame_{i:04d}.jpg"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            colour = (label * 8 % 256, i * 37 % 256, 128 if name == "dslr" else 32)
            Image.new("RGB", (size, size), colour).save(path, quality=90)
            lines.append(f"{rel} {label}\n")
        (list_file,) = domain.lists
        (root / list_file).parent.mkdir(parents=True, exist_ok=True)
        (root / list_file).write_text("".join(lines))
    return root
