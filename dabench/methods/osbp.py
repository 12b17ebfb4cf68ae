"""OSBP (Saito et al., ECCV 2018): open-set adaptation by backpropagation."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from dabench.adaptation import osbp
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch, Recipe, build_model
from dabench.methods.registry import register_method


@register_method
class OSBP(Recipe, info=catalog.OSBP):
    r"""A classifier with :math:`C + 1` outputs (the last one "unknown") whose two-layer
    bottleneck feeds the head through a gradient reversal layer for target batches:

    .. math::
        \mathcal{L} = \mathrm{CE}(h(x_s), y_s) + \text{trade\_off} \cdot
            \Big[-t \log p_u(x_t) - (1 - t) \log\big(1 - p_u(x_t)\big)\Big]

    with :math:`p_u` the softmax probability of "unknown" and :math:`t` = ``osbp_t`` (0.5). The
    head minimises the bracket (pushes :math:`p_u` towards :math:`t`), the feature extractor
    maximises it through the GRL (target samples become clearly known or clearly unknown). Source
    and target go through separate forwards (BatchNorm statistics per domain). Prediction: argmax
    over the :math:`C + 1` logits. Defaults (spec §2.5): lr 0.001, ``lr_gamma`` 0.0003 (``lr_anneal``
    6 over the reference's 20,000 steps),
    ``weight_decay`` 5e-4; the reference fixes ``trade_off`` at 1.
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "osbp_t": (0.0, 1.0, "()"),
    }

    def build_model(self) -> nn.Module:
        return build_model(self.task, self.hp, classifier=osbp.ImageClassifier)

    def build(self) -> None:
        self.unknown_bce = osbp.UnknownClassBinaryCrossEntropy(self.hp["osbp_t"])

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        assert batch.x_t is not None
        y_s, _ = self.model(batch.x_s)
        y_t, _ = self.model(batch.x_t, grad_reverse=True)
        cls_loss = self.classification_loss(y_s, batch.y_s)
        transfer_loss = self.unknown_bce(y_t)
        stats = {
            "cls_loss": cls_loss.detach(),
            "transfer_loss": transfer_loss.detach(),
            "target_unknown_prob": y_t.detach().softmax(dim=1)[:, -1].mean(),
        }
        return cls_loss + self.hp["trade_off"] * transfer_loss, stats
