"""Classifier = backbone → pool → bottleneck → head, with per-part learning-rate groups."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dabench._checks import check_positive_int
from dabench.modules.grl import GradientReverseLayer

__all__ = ["Classifier", "GlobalAveragePool", "ImageClassifier", "make_bottleneck"]


class GlobalAveragePool(nn.Module):
    """Average a ``(N, C, H, W)`` map over its spatial positions to ``(N, C)``.

    Features that are already flat, ``(N, C)``, pass through unchanged, so MLP and digit backbones
    need no ``pool_layer=nn.Identity()``. Has no parameters (state dicts match the reference's
    ``Sequential(AdaptiveAvgPool2d((1, 1)), Flatten())``).
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:
            return x.mean(dim=(2, 3))
        if x.dim() == 2:
            return x
        raise ValueError(
            f"the backbone output must be (N, C, H, W) or (N, C); got shape {tuple(x.shape)}"
        )


class Classifier(nn.Module):
    r"""A classifier with an explicit feature stage, the reference library's ``Classifier``.

    .. math::
        f = \mathrm{bottleneck}(\mathrm{pool}(\mathrm{backbone}(x))), \qquad y = \mathrm{head}(f)

    In training mode ``forward`` returns ``(y, f)`` (logits and features, what the adaptation losses
    need); in eval mode only ``y`` — the reference's convention.

    Args:
        backbone: feature extractor with an ``out_features`` attribute.
        num_classes: number of outputs of the default head.
        bottleneck: optional module after pooling; requires ``bottleneck_dim > 0`` (its output size).
        bottleneck_dim: the bottleneck's output dimension (ignored without a bottleneck).
        head: optional classifier head; default ``Linear(features_dim, num_classes)``.
        finetune: backbone learning rate ×0.1 (pretrained backbone) instead of ×1 (from scratch).
        pool_layer: default :class:`GlobalAveragePool` (the reference's adaptive average pooling,
            which also passes flat features through).

    Example::

        >>> backbone = nn.Sequential(nn.Linear(2, 16), nn.ReLU())
        >>> backbone.out_features = 16
        >>> model = Classifier(backbone, num_classes=3)
        >>> y, f = model(torch.randn(5, 2))
        >>> y.shape, f.shape, model.features_dim
        (torch.Size([5, 3]), torch.Size([5, 16]), 16)
        >>> [group["lr"] for group in model.get_parameters(base_lr=0.01)]
        [0.001, 0.01, 0.01]
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        bottleneck: nn.Module | None = None,
        bottleneck_dim: int = -1,
        head: nn.Module | None = None,
        finetune: bool = True,
        pool_layer: nn.Module | None = None,
    ) -> None:
        super().__init__()
        out_features = getattr(backbone, "out_features", None)
        if not isinstance(out_features, int) or out_features <= 0:
            raise ValueError(
                "backbone must have a positive int attribute 'out_features' (its output "
                f"dimension); got {out_features!r}"
            )
        check_positive_int("num_classes", num_classes)
        self.backbone = backbone
        self.num_classes = num_classes
        self.pool_layer = GlobalAveragePool() if pool_layer is None else pool_layer
        if bottleneck is None:
            self.bottleneck: nn.Module = nn.Identity()
            self._features_dim = out_features
        else:
            if not isinstance(bottleneck_dim, int) or bottleneck_dim <= 0:
                raise ValueError(
                    f"bottleneck_dim must be a positive int when a bottleneck is given; "
                    f"got {bottleneck_dim!r}"
                )
            self.bottleneck = bottleneck
            self._features_dim = bottleneck_dim
        self.head = nn.Linear(self._features_dim, num_classes) if head is None else head
        self.grl = GradientReverseLayer()
        self.finetune = finetune

    @property
    def features_dim(self) -> int:
        """Dimension of the features ``f`` fed to the head."""
        return self._features_dim

    def forward(self, x: Tensor, grad_reverse: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Return ``(logits, features)`` in training mode, ``logits`` in eval mode.

        ``grad_reverse=True`` puts a plain gradient reversal layer (coefficient 1) between the
        features and the head, as OSBP does for target batches.
        """
        f = self.bottleneck(self.pool_layer(self.backbone(x)))
        if grad_reverse:
            f = self.grl(f)
        predictions = self.head(f)
        if self.training:
            return predictions, f
        return predictions

    def get_parameters(
        self, base_lr: float = 1.0, optimize_head: bool = True
    ) -> list[dict[str, Any]]:
        """Parameter groups with learning rates: backbone ``0.1 * base_lr`` (``1.0 * base_lr`` when
        not ``finetune``), bottleneck and head ``base_lr``. ``optimize_head=False`` leaves the head
        out (ADDA's target encoder reuses the source head unchanged)."""
        groups = [
            {"params": self.backbone.parameters(), "lr": (0.1 if self.finetune else 1.0) * base_lr},
            {"params": self.bottleneck.parameters(), "lr": 1.0 * base_lr},
        ]
        if optimize_head:
            groups.append({"params": self.head.parameters(), "lr": 1.0 * base_lr})
        return groups

    def freeze_bn(self) -> None:
        """Put every BatchNorm layer in eval mode (running statistics frozen).

        A later ``train()`` call unfreezes them again, as in the reference.
        """
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def make_bottleneck(
    in_features: int, bottleneck_dim: int, layers: int = 1, dropout: float = 0.0
) -> nn.Sequential:
    """``layers`` × (``Linear → BatchNorm1d → ReLU`` [→ ``Dropout(dropout)``]).

    ``layers=1, dropout=0`` is the DANN/CDAN/ADDA/BSP/IWAN bottleneck; ``layers=2, dropout=0.5``
    is OSBP's. The module order gives the reference library's state-dict keys.
    """
    check_positive_int("bottleneck_dim", bottleneck_dim)
    check_positive_int("layers", layers)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
    modules: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        modules += [nn.Linear(width, bottleneck_dim), nn.BatchNorm1d(bottleneck_dim), nn.ReLU()]
        if dropout > 0:
            modules.append(nn.Dropout(dropout))
        width = bottleneck_dim
    return nn.Sequential(*modules)


class ImageClassifier(Classifier):
    """:class:`Classifier` with the adaptation methods' bottleneck built in.

    One class serves every method (the reference copies it into five files): ``bottleneck_layers=1``
    (default) gives ``Linear → BN → ReLU`` of width ``bottleneck_dim``; ``bottleneck_layers=2,
    dropout=0.5`` gives OSBP's; ``bottleneck_layers=0`` gives no bottleneck. Remaining keyword
    arguments (``head``, ``finetune``, ``pool_layer``, or an explicit ``bottleneck``) go to
    :class:`Classifier`.

    Difference from the reference: the reference's ``dabench.modules.classifier.ImageClassifier``
    counterpart is an empty subclass without a bottleneck; here the default is the 256-d bottleneck
    of the method-specific ``ImageClassifier`` classes, which are all aliases of this one.

    Example::

        >>> backbone = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 500), nn.ReLU())
        >>> backbone.out_features = 500
        >>> model = ImageClassifier(backbone, num_classes=10, bottleneck_dim=256)
        >>> y, f = model(torch.randn(4, 1, 28, 28))
        >>> y.shape, f.shape
        (torch.Size([4, 10]), torch.Size([4, 256]))
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        bottleneck_dim: int = 256,
        bottleneck_layers: int = 1,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if "bottleneck" not in kwargs and bottleneck_layers > 0:
            in_features = getattr(backbone, "out_features", None)
            if isinstance(in_features, int):
                kwargs["bottleneck"] = make_bottleneck(
                    in_features, bottleneck_dim, bottleneck_layers, dropout
                )
        if kwargs.get("bottleneck") is not None:
            kwargs["bottleneck_dim"] = bottleneck_dim
        super().__init__(backbone, num_classes, **kwargs)
