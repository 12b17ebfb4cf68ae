"""The MLP domain discriminator of DANN (Ganin et al., JMLR 2016, https://arxiv.org/abs/1505.07818)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dabench._checks import check_matrix, check_positive_int

__all__ = ["DomainDiscriminator"]


class DomainDiscriminator(nn.Sequential):
    r"""Three-layer MLP that predicts whether a feature comes from the source domain.

    .. math::
        D(f) = \sigma\big(W_3\, \mathrm{ReLU}(\mathrm{BN}(W_2\, \mathrm{ReLU}(\mathrm{BN}(W_1 f))))\big)

    With ``batch_norm=False`` the BatchNorms are replaced by ``Dropout(0.5)`` after each ReLU.
    The layer list (and so the state-dict keys) is the reference library's:
    ``0 Linear, 1 BatchNorm1d, 2 ReLU, 3 Linear, 4 BatchNorm1d, 5 ReLU, 6 final`` with BN, and
    ``0 Linear, 1 ReLU, 2 Dropout, 3 Linear, 4 ReLU, 5 Dropout, 6 final`` without it; ``final`` is
    ``Sequential(Linear(hidden, 1), Sigmoid())`` when ``sigmoid`` (output :math:`P(\text{source})`,
    shape ``(N, 1)``) and ``Linear(hidden, 2)`` otherwise (two logits, shape ``(N, 2)``, class 1 =
    source). PyTorch's default initialisation throughout.

    Fed ``cat([f_s, f_t])`` by the losses, its BatchNorm statistics are joint over both domains.

    Args:
        in_feature: input feature dimension.
        hidden_size: width of the two hidden layers (the reference examples use 1024).
        batch_norm: BatchNorm (True) or dropout (False) after the hidden linear layers.
        sigmoid: output one probability (True) or two logits (False).

    Shape:
        - Input: ``(N, in_feature)``; output ``(N, 1)`` or ``(N, 2)``.

    Example::

        >>> D = DomainDiscriminator(in_feature=256, hidden_size=1024)
        >>> D(torch.randn(8, 256)).shape
        torch.Size([8, 1])
        >>> D(torch.randn(8, 128))
        Traceback (most recent call last):
        ...
        ValueError: features must have shape (N, 256) (256 features); got shape (8, 128)
    """

    def __init__(
        self, in_feature: int, hidden_size: int, batch_norm: bool = True, sigmoid: bool = True
    ) -> None:
        check_positive_int("in_feature", in_feature)
        check_positive_int("hidden_size", hidden_size)
        final: nn.Module = (
            nn.Sequential(nn.Linear(hidden_size, 1), nn.Sigmoid())
            if sigmoid
            else nn.Linear(hidden_size, 2)
        )
        hidden: list[nn.Module] = []
        for width_in in (in_feature, hidden_size):
            if batch_norm:
                hidden += [nn.Linear(width_in, hidden_size), nn.BatchNorm1d(hidden_size), nn.ReLU()]
            else:
                hidden += [nn.Linear(width_in, hidden_size), nn.ReLU(inplace=True), nn.Dropout(0.5)]
        super().__init__(*hidden, final)
        self.in_feature = in_feature
        self.sigmoid = sigmoid

    def forward(self, input: Tensor) -> Tensor:
        check_matrix("features", input, self.in_feature)
        return super().forward(input)

    def get_parameters(self) -> list[dict[str, Any]]:
        """One parameter group with a *relative* learning rate of 1.0 (multiplied by the base lr)."""
        return [{"params": self.parameters(), "lr": 1.0}]
