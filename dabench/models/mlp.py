"""A small multi-layer perceptron backbone for low-dimensional toy tasks (e.g. two moons)."""

from __future__ import annotations

from torch import Tensor, nn

from dabench._checks import check_positive_int

__all__ = ["MLP"]


class MLP(nn.Sequential):
    r"""``depth`` × (``Linear → ReLU``): a feature extractor for 2-D toy inputs.

    .. math::
        f = \mathrm{ReLU}(W_d \cdots \mathrm{ReLU}(W_1 x))

    The output is flat, so :class:`~dabench.modules.classifier.Classifier`'s default pooling passes
    it through unchanged. PyTorch's default initialisation.

    Args:
        in_features: input dimension (2 for the 2-D toy tasks).
        hidden: width of every hidden layer, and so ``out_features``.
        depth: number of ``Linear → ReLU`` layers.

    Shape:
        - Input: ``(N, in_features)``; output ``(N, hidden)``.

    Example::

        >>> mlp = MLP(in_features=2, hidden=16, depth=2)
        >>> mlp(torch.randn(5, 2)).shape, mlp.out_features
        (torch.Size([5, 16]), 16)
    """

    def __init__(self, in_features: int = 2, hidden: int = 64, depth: int = 2) -> None:
        check_positive_int("in_features", in_features)
        check_positive_int("hidden", hidden)
        check_positive_int("depth", depth)
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features: int = hidden

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP input must have shape (N, {self.in_features}); got shape {tuple(x.shape)}"
            )
        return super().forward(x)
