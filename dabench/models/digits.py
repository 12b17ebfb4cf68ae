"""The reference library's digit backbones, LeNet (28×28) and DTN (32×32), for any input size.

Both are :class:`torch.nn.Sequential` with the reference's layer list, so their state-dict keys are
the reference's (``tllib/vision/models/digits.py``). The one change is the flatten step: it is an
:class:`AdaptiveFlatten`, which average-pools the last feature map to the 4×4 grid the reference's
first linear layer expects before flattening. At the reference input size the map already is 4×4
and the pooling is the identity (same outputs as the reference); other sizes (16×16, 32×32 for
LeNet; 16×16, 28×28 for DTN) work too instead of failing with a shape mismatch.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_positive_int

__all__ = ["DTN", "AdaptiveFlatten", "LeNet"]


class AdaptiveFlatten(nn.Module):
    """Adaptive average pooling to ``output_size`` followed by flattening; no parameters.

    A map that already has the output size passes through the pooling unchanged; a smaller map is
    upsampled by repetition, a larger one averaged over (possibly overlapping) windows.

    Args:
        output_size: ``(h, w)`` of the pooled map.

    Shape:
        - Input: ``(N, C, H, W)``; output ``(N, C * h * w)``.
    """

    def __init__(self, output_size: tuple[int, int] = (4, 4)) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != self.output_size:
            x = F.adaptive_avg_pool2d(x, self.output_size)
        return x.flatten(start_dim=1)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class LeNet(nn.Sequential):
    """LeNet backbone of the reference's digit experiments (MNIST↔USPS); 500-d flat features.

    Layers (indices = state-dict keys, as in the reference)::

        0 Conv2d(in_channels, 20, 5)   1 MaxPool2d(2)   2 ReLU
        3 Conv2d(20, 50, 5)   4 Dropout2d(0.5)   5 MaxPool2d(2)   6 ReLU
        7 AdaptiveFlatten((4, 4))     (the reference: Flatten, valid only for 28×28 inputs)
        8 Linear(800, 500)   9 ReLU   10 Dropout(0.5)

    Designed for 28×28 inputs (the last map is 50×4×4 and the adaptive pooling is the identity);
    any input of at least 16×16 also works (see :class:`AdaptiveFlatten`). PyTorch's default
    initialisation.

    Args:
        in_channels: image channels (1 for grey digits, 3 for RGB).

    Shape:
        - Input: ``(N, in_channels, H, W)`` with ``H, W >= 16``; output ``(N, 500)``.

    Example::

        >>> net = LeNet()
        >>> net(torch.randn(2, 1, 28, 28)).shape, net.out_features
        (torch.Size([2, 500]), 500)
        >>> LeNet(in_channels=3)(torch.randn(2, 3, 16, 16)).shape
        torch.Size([2, 500])
    """

    def __init__(self, in_channels: int = 1) -> None:
        check_positive_int("in_channels", in_channels)
        super().__init__(
            nn.Conv2d(in_channels, 20, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(20, 50, kernel_size=5),
            nn.Dropout2d(p=0.5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            AdaptiveFlatten((4, 4)),
            nn.Linear(50 * 4 * 4, 500),
            nn.ReLU(),
            nn.Dropout(p=0.5),
        )
        self.in_channels = in_channels
        self.out_features: int = 500


class DTN(nn.Sequential):
    """DTN backbone of the reference's SVHN→MNIST experiment; 512-d flat features.

    Layers (indices = state-dict keys, as in the reference)::

        0 Conv2d(in_channels, 64, 5, stride=2, padding=2)   1 BatchNorm2d(64)   2 Dropout2d(0.1)   3 ReLU
        4 Conv2d(64, 128, 5, stride=2, padding=2)   5 BatchNorm2d(128)   6 Dropout2d(0.3)   7 ReLU
        8 Conv2d(128, 256, 5, stride=2, padding=2)  9 BatchNorm2d(256)  10 Dropout2d(0.5)  11 ReLU
        12 AdaptiveFlatten((4, 4))     (the reference: Flatten, valid only for 32×32 inputs)
        13 Linear(4096, 512)   14 BatchNorm1d(512)   15 ReLU   16 Dropout(0.5)

    So the features are 512-d (the reference's ``out_features``), not the 256·4·4 = 4096-d
    flattened map. Designed for 32×32 inputs (the last map is 256×4×4 and the adaptive pooling is
    the identity); other sizes work too (see :class:`AdaptiveFlatten`). PyTorch's default
    initialisation. The BatchNorm layers need batches of more than one sample in training mode.

    Args:
        in_channels: image channels (3 for RGB digits).

    Shape:
        - Input: ``(N, in_channels, H, W)``; output ``(N, 512)``.

    Example::

        >>> net = DTN()
        >>> net(torch.randn(2, 3, 32, 32)).shape, net.out_features
        (torch.Size([2, 512]), 512)
        >>> DTN(in_channels=1)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 512])
    """

    def __init__(self, in_channels: int = 3) -> None:
        check_positive_int("in_channels", in_channels)
        super().__init__(
            nn.Conv2d(in_channels, 64, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm2d(64),
            nn.Dropout2d(0.1),
            nn.ReLU(),
            nn.Conv2d(64, 128, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm2d(128),
            nn.Dropout2d(0.3),
            nn.ReLU(),
            nn.Conv2d(128, 256, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm2d(256),
            nn.Dropout2d(0.5),
            nn.ReLU(),
            AdaptiveFlatten((4, 4)),
            nn.Linear(256 * 4 * 4, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Dropout(p=0.5),
        )
        self.in_channels = in_channels
        self.out_features: int = 512
