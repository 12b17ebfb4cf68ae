"""Segmenters: a small fully-convolutional net for synthetic scenes and a DeepLab-V2 (spec §2.8).

Both return per-pixel logits at the input resolution, ``(N, num_classes, H, W)``, in training and
eval mode alike, and split their parameters into ``backbone`` and ``head`` for
``get_parameters()`` (the format of :meth:`dabench.modules.classifier.Classifier.get_parameters`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_positive_int
from dabench.models.resnet import ResNetBackbone, build_resnet

__all__ = [
    "ASPPV2",
    "DeepLabV2",
    "SmallFCN",
    "deeplabv2_resnet50",
    "deeplabv2_resnet101",
]


def _conv_bn_relu(
    in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallFCN(nn.Module):
    """A small fully-convolutional segmenter for small synthetic scenes (e.g. 64×64).

    ``backbone``: six ``Conv3×3 → BatchNorm → ReLU`` blocks of widths ``w, w | 2w, 2w | 4w, 4w``,
    where the first block of each pair has stride 2 (output stride 8: no convolution runs at full
    resolution, which made a training step 4.5× faster on a CPU at 64×64 than output stride 4) and
    the last block has dilation 2 (a wider receptive field without more downsampling). ``head``: a 1×1 conv
    to ``num_classes`` logits, which are upsampled bilinearly (``align_corners=False``) back to the
    input size. PyTorch's default initialisation.

    Args:
        num_classes: number of classes (output channels).
        in_channels: image channels.
        width: ``w``, the width of the first blocks.

    Shape:
        - Input: ``(N, in_channels, H, W)``; output ``(N, num_classes, H, W)`` logits.

    Example::

        >>> net = SmallFCN(num_classes=4, width=8)
        >>> net(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 4, 64, 64])
        >>> [group["lr"] for group in net.get_parameters(base_lr=0.01)]
        [0.01, 0.01]
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        check_positive_int("width", width)
        self.num_classes = num_classes
        w = width
        self.backbone = nn.Sequential(
            _conv_bn_relu(in_channels, w, stride=2),
            _conv_bn_relu(w, w),
            _conv_bn_relu(w, 2 * w, stride=2),
            _conv_bn_relu(2 * w, 2 * w),
            _conv_bn_relu(2 * w, 4 * w, stride=2),
            _conv_bn_relu(4 * w, 4 * w, dilation=2),
        )
        self.out_features: int = 4 * w
        self.head = nn.Conv2d(4 * w, num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.head(self.backbone(x))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def get_parameters(self, base_lr: float = 1.0) -> list[dict[str, Any]]:
        """Parameter groups: backbone and head, both at ``base_lr`` (trained from scratch)."""
        return [
            {"params": self.backbone.parameters(), "lr": 1.0 * base_lr},
            {"params": self.head.parameters(), "lr": 1.0 * base_lr},
        ]


class ASPPV2(nn.Module):
    r"""DeepLab-V2's atrous spatial pyramid pooling classifier (the reference's ``ASPP_V2``).

    .. math::
        y = \sum_{d \in \text{dilations}} \mathrm{Conv}^{3\times3}_{d}(x)

    One ``Conv2d(in_channels, num_classes, 3, padding=d, dilation=d)`` (with bias) per dilation,
    the outputs summed. Weights are drawn from :math:`\mathcal N(0, 0.01^2)` as in the reference.

    Args:
        in_channels: channels of the backbone map.
        num_classes: output channels.
        dilations: one branch per dilation rate; DeepLab-V2 uses ``(6, 12, 18, 24)``.

    Shape:
        - Input: ``(N, in_channels, h, w)``; output ``(N, num_classes, h, w)``.
    """

    def __init__(
        self, in_channels: int, num_classes: int, dilations: Sequence[int] = (6, 12, 18, 24)
    ) -> None:
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("num_classes", num_classes)
        if not dilations:
            raise ValueError("dilations must hold at least one positive int; got none")
        for d in dilations:
            check_positive_int("each dilation", d)
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, kernel_size=3, padding=d, dilation=d, bias=True)
            for d in dilations
        )
        for conv in self.conv2d_list:
            nn.init.normal_(conv.weight, mean=0.0, std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2d_list[0](x)
        for conv in self.conv2d_list[1:]:
            out = out + conv(x)
        return out


def _freeze_batchnorm_affine(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for p in m.parameters():
                p.requires_grad_(False)


class DeepLabV2(nn.Module):
    """DeepLab-V2: a dilated ResNet (output stride 8) and an :class:`ASPPV2` head.

    Built from torchvision pieces: the backbone is a Bottleneck
    :class:`~dabench.models.resnet.ResNetBackbone` with
    ``replace_stride_with_dilation=[False, True, True]`` (dilation 2 in ``layer3``, 4 in
    ``layer4``), the head sums four 3×3 convs with dilation 6/12/18/24. The stride-8 logits are
    upsampled bilinearly (``align_corners=True``, as the reference's training script does) to the
    input size inside ``forward``.

    Differences from the reference's ``deeplabv2_resnet101`` (spec §2.8): torchvision's ResNet
    (stride in the 3×3 conv, no ``ceil_mode`` max-pool, the first block of a dilated stage keeps the
    previous dilation) and torchvision's ImageNet weights instead of the reference's Caffe-style
    network and checkpoint; the reference returns stride-8 logits and upsamples outside.

    With ``pretrained=True`` the BatchNorm affine parameters of the backbone are frozen
    (``requires_grad=False``, the reference's "frozen-affine BN"; running statistics still update in
    training mode) and :meth:`get_parameters` gives the backbone ``0.1 * base_lr``; from scratch all
    parameters train at ``base_lr``.

    Args:
        backbone: a ResNet feature extractor with ``out_features`` (its output channels).
        num_classes: number of classes.
        pretrained: whether ``backbone`` holds pretrained weights (learning rates, frozen BN).

    Shape:
        - Input: ``(N, C, H, W)``; output ``(N, num_classes, H, W)`` logits.
    """

    def __init__(
        self, backbone: ResNetBackbone, num_classes: int, pretrained: bool = False
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        self.num_classes = num_classes
        self.backbone = backbone
        self.head = ASPPV2(backbone.out_features, num_classes)
        self.pretrained = bool(pretrained)
        if self.pretrained:
            _freeze_batchnorm_affine(self.backbone)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.head(self.backbone(x))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=True)

    def get_parameters(self, base_lr: float = 1.0) -> list[dict[str, Any]]:
        """Parameter groups: backbone ``0.1 * base_lr`` when pretrained (else ``base_lr``), ASPP
        head ``base_lr``. Frozen BatchNorm parameters are included (they get no gradient)."""
        return [
            {
                "params": self.backbone.parameters(),
                "lr": (0.1 if self.pretrained else 1.0) * base_lr,
            },
            {"params": self.head.parameters(), "lr": 1.0 * base_lr},
        ]


def _deeplabv2(name: str, num_classes: int, in_channels: int, pretrained: bool) -> DeepLabV2:
    check_positive_int("num_classes", num_classes)
    backbone = build_resnet(
        name,
        in_channels=in_channels,
        pretrained=pretrained,
        replace_stride_with_dilation=[False, True, True],
    )
    return DeepLabV2(backbone, num_classes, pretrained=pretrained)


def deeplabv2_resnet50(
    num_classes: int, *, in_channels: int = 3, pretrained: bool = False
) -> DeepLabV2:
    """:class:`DeepLabV2` on a dilated ResNet-50 (a lighter variant of the reference's model).

    ``pretrained=True`` loads torchvision's ImageNet ResNet-50 weights from the torch hub cache
    (see :func:`dabench.models.resnet.load_imagenet_state_dict`); the head is always random.
    """
    return _deeplabv2("resnet50", num_classes, in_channels, pretrained)


def deeplabv2_resnet101(
    num_classes: int, *, in_channels: int = 3, pretrained: bool = False
) -> DeepLabV2:
    """:class:`DeepLabV2` on a dilated ResNet-101, the reference ADVENT model (spec §2.8).

    ``pretrained=True`` loads torchvision's ImageNet ResNet-101 weights from the torch hub cache
    (see :func:`dabench.models.resnet.load_imagenet_state_dict`); the head is always random.
    """
    return _deeplabv2("resnet101", num_classes, in_channels, pretrained)
