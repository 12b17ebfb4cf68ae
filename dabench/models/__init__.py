"""Backbones and segmenters by name, for the benchmark's tasks.

Backbones (feature extractors with an int ``out_features``, for
:class:`~dabench.modules.classifier.Classifier`):

=============  ==================  =========================  ============
name           default input       output                     out_features
=============  ==================  =========================  ============
``mlp``        ``(N, 2)``          ``(N, 64)``                64
``lenet``      ``(N, 1, 28, 28)``  ``(N, 500)``               500
``dtn``        ``(N, 3, 32, 32)``  ``(N, 512)``               512
``resnet18``   ``(N, 3, H, W)``    ``(N, 512, H/32, W/32)``   512
``resnet34``   ``(N, 3, H, W)``    ``(N, 512, H/32, W/32)``   512
``resnet50``   ``(N, 3, H, W)``    ``(N, 2048, H/32, W/32)``  2048
``resnet101``  ``(N, 3, H, W)``    ``(N, 2048, H/32, W/32)``  2048
=============  ==================  =========================  ============

Segmenters (logits ``(N, num_classes, H, W)`` at the input size, with ``get_parameters``):
``small_fcn`` (:class:`~dabench.models.segmentation.SmallFCN`), ``deeplabv2_resnet50`` and
``deeplabv2_resnet101`` (:class:`~dabench.models.segmentation.DeepLabV2`).

Only the ResNets (and the DeepLab backbones) have pretrained weights: torchvision's ImageNet
checkpoints, read from the torch hub cache and downloaded there once when missing, as torchvision
does (see :mod:`dabench.models.resnet`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from types import ModuleType
from typing import Any

from torch import nn

from dabench._checks import check_positive_int
from dabench.catalog.models import (
    BACKBONES,
    FAMILIES,
    RESNETS,
    SCRATCH_BACKBONES,
    SEGMENTERS,
    check_name,
    family,
)
from dabench.models.digits import DTN, AdaptiveFlatten, LeNet
from dabench.models.mlp import MLP

_TORCHVISION_NAMES = {
    "resnet": ("ResNetBackbone", "build_resnet", "fetch_weights", *RESNETS),
    "segmentation": ("ASPPV2", "DeepLabV2", "SmallFCN", "deeplabv2_resnet50",
                     "deeplabv2_resnet101"),
}  # fmt: skip


def _torchvision_module(name: str) -> ModuleType:
    """``dabench.models.<name>``, imported on first use: the ResNets and segmenters are built on
    torchvision, whose import takes about 2 s (it loads ``torch._dynamo``) — a cost every trial
    process of a small model (MLP, LeNet, DTN) would otherwise pay for nothing."""
    return import_module(f"dabench.models.{name}")


def __getattr__(name: str) -> Any:
    """``dabench.models.resnet50``, ``dabench.models.DeepLabV2``, ...: from their module, which
    is imported on first use (:func:`_torchvision_module`)."""
    for module, names in _TORCHVISION_NAMES.items():
        if name in names:
            return getattr(_torchvision_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ASPPV2",
    "BACKBONES",
    "DTN",
    "FAMILIES",
    "MLP",
    "RESNETS",
    "SCRATCH_BACKBONES",
    "SEGMENTERS",
    "AdaptiveFlatten",
    "DeepLabV2",
    "LeNet",
    "ResNetBackbone",
    "SmallFCN",
    "build_backbone",
    "build_resnet",
    "build_segmenter",
    "deeplabv2_resnet50",
    "deeplabv2_resnet101",
    "family",
    "fetch_weights",
    "imagenet_resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
]

_SCRATCH_BACKBONES: dict[str, Callable[[int | None], nn.Module]] = {
    "mlp": lambda c: MLP() if c is None else MLP(in_features=c),
    "lenet": lambda c: LeNet() if c is None else LeNet(in_channels=c),
    "dtn": lambda c: DTN() if c is None else DTN(in_channels=c),
}
"""A builder for each of :data:`~dabench.catalog.models.SCRATCH_BACKBONES` (the names, the
families and :func:`~dabench.catalog.models.family` are declared in :mod:`dabench.catalog.models`)."""
assert tuple(_SCRATCH_BACKBONES) == SCRATCH_BACKBONES, "the catalog names the backbones built here"

_PRETRAINABLE = ", ".join(repr(n) for n in RESNETS)


def build_backbone(
    name: str, *, in_channels: int | None = None, pretrained: bool = False
) -> nn.Module:
    """A feature extractor by name; it has an int ``out_features`` (see the module table).

    Args:
        name: one of :data:`~dabench.catalog.models.BACKBONES`.
        in_channels: image channels (``mlp``: the input dimension); ``None`` takes the backbone's
            default (``mlp`` 2, ``lenet`` 1, ``dtn`` and the ResNets 3).
        pretrained: load ImageNet weights (ResNets only) from the torch hub cache.

    Raises:
        ValueError: unknown ``name``, bad ``in_channels``, or ``pretrained`` for a backbone that
            has no pretrained weights.
        RuntimeError: ``pretrained`` and the weights file is not in the torch hub cache.

    Example::

        >>> backbone = build_backbone("lenet")
        >>> backbone(torch.randn(2, 1, 28, 28)).shape, backbone.out_features
        (torch.Size([2, 500]), 500)
        >>> build_backbone("vgg16")
        Traceback (most recent call last):
        ...
        ValueError: unknown backbone 'vgg16'; known: mlp, lenet, dtn, resnet18, resnet34, ...
    """
    check_name("backbone", name, BACKBONES)
    if in_channels is not None:
        check_positive_int("in_channels", in_channels)
    if name in _SCRATCH_BACKBONES:
        if pretrained:
            raise ValueError(
                f"backbone {name!r} has no pretrained weights; pretrained=True is accepted for "
                f"{_PRETRAINABLE}"
            )
        return _SCRATCH_BACKBONES[name](in_channels)
    return _torchvision_module("resnet").build_resnet(
        name, in_channels=3 if in_channels is None else in_channels, pretrained=pretrained
    )


def build_segmenter(
    name: str, num_classes: int, *, in_channels: int = 3, pretrained: bool = False
) -> nn.Module:
    """A segmenter by name: logits ``(N, num_classes, H, W)`` and a ``get_parameters`` method.

    Args:
        name: one of :data:`~dabench.catalog.models.SEGMENTERS`.
        num_classes: number of classes.
        in_channels: image channels.
        pretrained: load ImageNet weights into the backbone (DeepLab only) from the torch hub cache.

    Raises:
        ValueError: unknown ``name``, bad ``num_classes``/``in_channels``, or ``pretrained`` for
            ``small_fcn``.
        RuntimeError: ``pretrained`` and the weights file is not in the torch hub cache.

    Example::

        >>> net = build_segmenter("small_fcn", num_classes=3)
        >>> net(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 3, 64, 64])
    """
    check_name("segmenter", name, SEGMENTERS)
    check_positive_int("num_classes", num_classes)
    check_positive_int("in_channels", in_channels)
    segmentation = _torchvision_module("segmentation")
    if name == "small_fcn":
        if pretrained:
            raise ValueError(
                "segmenter 'small_fcn' has no pretrained weights; pretrained=True is accepted for "
                "'deeplabv2_resnet50', 'deeplabv2_resnet101'"
            )
        return segmentation.SmallFCN(num_classes, in_channels=in_channels)
    builder = getattr(segmentation, name)
    return builder(num_classes, in_channels=in_channels, pretrained=pretrained)


def imagenet_resnet(model: str) -> str | None:
    """The ResNet whose ImageNet weights backbone or segmenter ``model`` loads with
    ``pretrained=True`` (the ResNet itself, or a DeepLab's backbone); ``None`` for the small
    models, which have none.

    Example::

        >>> imagenet_resnet("resnet50"), imagenet_resnet("deeplabv2_resnet101"), imagenet_resnet("lenet")
        ('resnet50', 'resnet101', None)
    """
    check_name("model", model, (*BACKBONES, *SEGMENTERS))
    name = model.removeprefix("deeplabv2_")
    return name if name in RESNETS else None
