"""torchvision ResNets as feature extractors that stop after ``layer4``, with offline weights.

ImageNet weights are loaded only when asked (``pretrained=True``), as torchvision does it: from
the torch hub cache, downloaded there once (hash-checked) when missing. Without network access the
error names the file and where to put it; ``DABENCH_OFFLINE=1`` skips the download attempt. The
checkpoints are torchvision's ``IMAGENET1K_V1`` weights (the ones the reference library's
``model_urls`` pointed to), loaded with ``weights_only=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlparse

import torch
from torch import Tensor, nn
from torchvision.models import resnet as tv_resnet
from torchvision.models._api import WeightsEnum

from dabench._checks import check_positive_int
from dabench.models import RESNETS

__all__ = [
    "OFFLINE_ENV",
    "ResNetBackbone",
    "build_resnet",
    "fetch_weights",
    "load_imagenet_state_dict",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "weights_path",
]

OFFLINE_ENV = "DABENCH_OFFLINE"
"""Set this environment variable to ``1`` to never download missing weights (an air-gapped
machine: fail at once with the file to place, instead of after a network timeout)."""

_Block = type[tv_resnet.BasicBlock] | type[tv_resnet.Bottleneck]

_SPECS: dict[str, tuple[_Block, list[int], WeightsEnum]] = {
    "resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2], tv_resnet.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3], tv_resnet.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3], tv_resnet.ResNet50_Weights.IMAGENET1K_V1),
    "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3], tv_resnet.ResNet101_Weights.IMAGENET1K_V1),
}

assert tuple(_SPECS) == RESNETS, "dabench.catalog.models.RESNETS names the ResNets built here"


class ResNetBackbone(tv_resnet.ResNet):
    """A torchvision ResNet whose ``forward`` stops after ``layer4``, returning the feature map.

    ``fc`` is replaced by :class:`~torch.nn.Identity` (so the module has no unused parameters and
    its state dict is torchvision's without ``fc.*``); ``avgpool`` is kept but not used — pooling
    is :class:`~dabench.modules.classifier.Classifier`'s job. ``out_features`` is the number of
    channels of the map: 512 (BasicBlock: ResNet-18/34) or 2048 (Bottleneck: ResNet-50/101).

    With ``in_channels != 3``, ``conv1`` is a new ``Conv2d(in_channels, 64, 7, stride=2,
    padding=3, bias=False)`` with torchvision's Kaiming initialisation.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages.
        in_channels: image channels.
        replace_stride_with_dilation: for ``layer2..layer4``, replace the stride-2 by dilation
            (Bottleneck only), as torchvision's argument; ``[False, True, True]`` gives output
            stride 8 (DeepLab).

    Shape:
        - Input: ``(N, in_channels, H, W)``; output ``(N, out_features, H/32, W/32)`` (rounded up;
          ``H/8`` with dilated ``layer3``/``layer4``).
    """

    def __init__(
        self,
        block: _Block,
        layers: Sequence[int],
        *,
        in_channels: int = 3,
        replace_stride_with_dilation: Sequence[bool] | None = None,
    ) -> None:
        check_positive_int("in_channels", in_channels)
        dilation = (
            None if replace_stride_with_dilation is None else list(replace_stride_with_dilation)
        )
        super().__init__(block, list(layers), replace_stride_with_dilation=dilation)
        self.out_features: int = self.fc.in_features
        self.fc = nn.Identity()
        self.in_channels = in_channels
        if in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def load_imagenet(self, state_dict: dict[str, Tensor]) -> None:
        """Load a torchvision ImageNet ResNet ``state_dict`` (from :func:`load_imagenet_state_dict`).

        ``fc.*`` is dropped, and so is ``conv1.weight`` when ``in_channels != 3`` (the new ``conv1``
        keeps its random initialisation); every other parameter and buffer must match (strict).
        """
        state = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
        if self.in_channels == 3:
            self.load_state_dict(state)
            return
        state.pop("conv1.weight", None)
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"conv1.weight"}:
            raise RuntimeError(
                f"the checkpoint does not fit this ResNet: missing keys {missing}, unexpected "
                f"keys {unexpected}"
            )


def weights_path(weights: WeightsEnum) -> str:
    """Where torch hub caches ``weights``: ``torch.hub.get_dir()/checkpoints/<file name of the URL>``.

    ``torch.hub.get_dir()`` follows ``torch.hub.set_dir`` and the ``TORCH_HOME`` variable.
    """
    filename = os.path.basename(urlparse(weights.url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def load_imagenet_state_dict(weights: WeightsEnum) -> dict[str, Tensor]:
    """The state dict of torchvision ``weights``, from the torch hub cache.

    A cached file is loaded with ``torch.load(..., weights_only=True)`` on the CPU. A missing one
    is downloaded there by torchvision (once; hash-checked) and loaded the same way, unless
    ``DABENCH_OFFLINE=1``.

    Raises:
        RuntimeError: the checkpoint is not in the cache and could not be downloaded (no network
            access, or ``DABENCH_OFFLINE=1``); the message names the file and where to put it.
    """
    path = weights_path(weights)
    if os.path.isfile(path):
        return torch.load(path, map_location="cpu", weights_only=True)
    return _download(weights)


def fetch_weights(name: str) -> str:
    """The path of ResNet ``name``'s ImageNet weights in the torch hub cache, downloaded there by
    torchvision first when missing (hash-checked), as :func:`load_imagenet_state_dict` would: a
    check that a trial with ``pretrained=True`` will find them, made before it runs.

    Raises:
        ValueError: ``name`` is not a ResNet.
        RuntimeError: as :func:`load_imagenet_state_dict`, naming the file and the cache folder.
    """
    if name not in _SPECS:
        raise ValueError(f"unknown ResNet {name!r}; known: {', '.join(RESNETS)}")
    weights = _SPECS[name][2]
    path = weights_path(weights)
    if not os.path.isfile(path):
        _download(weights)
    return path


def _download(weights: WeightsEnum) -> dict[str, Tensor]:
    """``weights`` downloaded into the torch hub cache by torchvision and loaded, or the
    ``RuntimeError`` that says which file to put where."""
    path = weights_path(weights)
    where = (
        f"place torchvision's checkpoint {weights.url} at {path} (the torch hub cache, "
        "torch.hub.get_dir()/checkpoints; set TORCH_HOME to use another cache)"
    )
    if os.environ.get(OFFLINE_ENV) == "1":
        raise RuntimeError(f"pretrained weights {weights} are not cached and {OFFLINE_ENV}=1: "
                           f"{where}")  # fmt: skip
    try:
        return weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except OSError as error:  # no network access (URLError), a proxy refusing, a full disk
        raise RuntimeError(
            f"pretrained weights {weights} are not cached and could not be downloaded "
            f"({error}); on a machine without network access, {where}"
        ) from None


def build_resnet(
    name: str,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    replace_stride_with_dilation: Sequence[bool] | None = None,
) -> ResNetBackbone:
    """A :class:`ResNetBackbone` by name (``resnet18``, ``resnet34``, ``resnet50``, ``resnet101``).

    Args:
        name: one of :data:`~dabench.catalog.models.RESNETS`.
        in_channels: image channels; other than 3, ``conv1`` is new and not pretrained.
        pretrained: load torchvision's ``IMAGENET1K_V1`` weights from the torch hub cache
            (see :func:`load_imagenet_state_dict`); ``False``: random initialisation.
        replace_stride_with_dilation: see :class:`ResNetBackbone` (ResNet-50/101 only).

    Raises:
        ValueError: unknown ``name``, bad ``in_channels``, or dilation for ResNet-18/34.
        RuntimeError: ``pretrained`` and the weights file is not in the cache.

    Example::

        >>> net = build_resnet("resnet18")
        >>> net(torch.randn(1, 3, 64, 64)).shape, net.out_features
        (torch.Size([1, 512, 2, 2]), 512)
    """
    if name not in _SPECS:
        raise ValueError(f"unknown ResNet {name!r}; known: {', '.join(RESNETS)}")
    check_positive_int("in_channels", in_channels)
    block, layers, weights = _SPECS[name]
    if (
        replace_stride_with_dilation is not None
        and any(replace_stride_with_dilation)
        and block is tv_resnet.BasicBlock
    ):
        raise ValueError(
            f"replace_stride_with_dilation needs a Bottleneck ResNet (resnet50, resnet101); "
            f"got {name!r}"
        )
    # Read the checkpoint first: a missing file fails before the network is even built.
    state_dict = load_imagenet_state_dict(weights) if pretrained else None
    model = ResNetBackbone(
        block,
        layers,
        in_channels=in_channels,
        replace_stride_with_dilation=replace_stride_with_dilation,
    )
    if state_dict is not None:
        model.load_imagenet(state_dict)
    return model


def resnet18(*, in_channels: int = 3, pretrained: bool = False) -> ResNetBackbone:
    """ResNet-18 backbone (``out_features=512``); see :func:`build_resnet`."""
    return build_resnet("resnet18", in_channels=in_channels, pretrained=pretrained)


def resnet34(*, in_channels: int = 3, pretrained: bool = False) -> ResNetBackbone:
    """ResNet-34 backbone (``out_features=512``); see :func:`build_resnet`."""
    return build_resnet("resnet34", in_channels=in_channels, pretrained=pretrained)


def resnet50(*, in_channels: int = 3, pretrained: bool = False) -> ResNetBackbone:
    """ResNet-50 backbone (``out_features=2048``); see :func:`build_resnet`."""
    return build_resnet("resnet50", in_channels=in_channels, pretrained=pretrained)


def resnet101(*, in_channels: int = 3, pretrained: bool = False) -> ResNetBackbone:
    """ResNet-101 backbone (``out_features=2048``); see :func:`build_resnet`."""
    return build_resnet("resnet101", in_channels=in_channels, pretrained=pretrained)
