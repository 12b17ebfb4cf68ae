"""Model names and the family each belongs to (the family decides a trial's defaults): the
names :func:`dabench.models.build_backbone` and :func:`dabench.models.build_segmenter` accept."""

from __future__ import annotations

RESNETS: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101")
"""Names accepted by :func:`~dabench.models.resnet.build_resnet` (torchvision's ResNets)."""

SCRATCH_BACKBONES: tuple[str, ...] = ("mlp", "lenet", "dtn")
"""The small backbones, trained from random initialisation (no pretrained weights)."""

BACKBONES: tuple[str, ...] = (*SCRATCH_BACKBONES, *RESNETS)
"""Names accepted by :func:`~dabench.models.build_backbone`."""

SEGMENTERS: tuple[str, ...] = ("small_fcn", "deeplabv2_resnet50", "deeplabv2_resnet101")
"""Names accepted by :func:`~dabench.models.build_segmenter`."""

FAMILIES = ("finetune", "scratch")
"""How a model is trained, which decides the defaults of its trials (see
:data:`dabench.catalog.defaults.FAMILY_DEFAULTS`): ``finetune`` — an ImageNet backbone
fine-tuned, as in every reference recipe on Office-31, Office-Home, VisDA, DomainNet and
GTA5→Cityscapes; ``scratch`` — a small network trained from random initialisation, as in the
reference's digit recipes (LeNet, DTN) and every bundled task."""


def family(name: str) -> str:
    """The :data:`FAMILIES` member of backbone or segmenter ``name``: ``finetune`` for the
    ResNets and DeepLabs (they have ImageNet weights), ``scratch`` for the others.

    Example::

        >>> family("lenet"), family("resnet50"), family("deeplabv2_resnet101")
        ('scratch', 'finetune', 'finetune')
    """
    check_name("model", name, (*BACKBONES, *SEGMENTERS))
    return "scratch" if name in SCRATCH_BACKBONES or name == "small_fcn" else "finetune"


def check_name(kind: str, name: object, known: tuple[str, ...]) -> None:
    """``ValueError`` naming ``kind`` and the ``known`` names when ``name`` is not one of them."""
    if name not in known:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(known)}")
