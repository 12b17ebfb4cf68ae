"""BSP (Chen et al., ICML 2019): DANN or CDAN plus batch spectral penalisation."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from dabench.adaptation.bsp import BatchSpectralPenalizationLoss
from dabench.catalog import methods as catalog
from dabench.methods.base import Batch
from dabench.methods.cdan import CDAN
from dabench.methods.dann import DANN
from dabench.methods.pretraining import (
    PRETRAIN_RANGES,
    SourcePretraining,
)
from dabench.methods.registry import register_method


@register_method
class BSP(SourcePretraining, CDAN, info=catalog.BSP):
    r"""After source pre-training (as ADDA's, spec §2.4), the adversarial step of ``adversary``
    (``"dann"``, the reference example, or ``"cdan"``) plus the penalty on the largest singular
    value of each domain's feature batch:

    .. math::
        \mathcal{L} = \mathrm{CE}(h(x_s), y_s) + \text{trade\_off} \cdot \mathcal{L}_{adv}
                      + \text{trade\_off\_bsp} \cdot \big(\sigma_1(F_s)^2 + \sigma_1(F_t)^2\big)

    Defaults: lr 0.003, ``trade_off_bsp`` 2e-4, the budget-relative keys over the reference's
    23,000 steps (as ADDA's); the CDAN options apply when ``adversary="cdan"``.
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        **CDAN.ranges,
        **PRETRAIN_RANGES,
        "trade_off_bsp": (0.0, None, "[)"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"adversary": ("dann", "cdan")}

    def build(self) -> None:
        super().build()
        self.bsp = BatchSpectralPenalizationLoss()

    def build_adversary(self) -> nn.Module:
        adversary = CDAN if self.hp["adversary"] == "cdan" else DANN
        return adversary.build_adversary(self)

    def transfer_loss(self, y_s: Tensor, f_s: Tensor, y_t: Tensor, f_t: Tensor) -> Tensor:
        adversary = CDAN if self.hp["adversary"] == "cdan" else DANN
        return adversary.transfer_loss(self, y_s, f_s, y_t, f_t)

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        if self.stage == "pretrain":
            return self.pretrain_loss(batch)
        return super().loss(batch)

    def adaptation_loss(
        self, y_s: Tensor, f_s: Tensor, y_t: Tensor, f_t: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        adaptation, stats = super().adaptation_loss(y_s, f_s, y_t, f_t)
        penalty = self.bsp(f_s, f_t)
        return adaptation + self.hp["trade_off_bsp"] * penalty, {
            **stats,
            "bsp_loss": penalty.detach(),
        }
