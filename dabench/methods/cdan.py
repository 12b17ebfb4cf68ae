"""CDAN (Long et al., NeurIPS 2018): the discriminator sees features conditioned on predictions."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from dabench.adaptation.cdan import ConditionalDomainAdversarialLoss
from dabench.catalog import methods as catalog
from dabench.methods.base import Recipe
from dabench.methods.dann import DANN, warm_start_grl
from dabench.methods.registry import register_method
from dabench.modules.domain_discriminator import DomainDiscriminator


@register_method
class CDAN(DANN, info=catalog.CDAN):
    r"""DANN's step with the conditional adversarial loss on logits and features:

    .. math::
        \mathcal{L} = \mathrm{CE}(h(x_s), y_s) + \text{trade\_off} \cdot
                      \mathcal{L}_{cdan}(g_s, f_s, g_t, f_t)

    (:class:`~dabench.adaptation.cdan.ConditionalDomainAdversarialLoss`). The discriminator's input
    is the multilinear map :math:`f \otimes \mathrm{softmax}(g)` of size ``features_dim ·
    num_classes``, or a ``randomized_dim`` random projection of it when ``randomized``;
    ``entropy_conditioning`` weights samples by :math:`1 + e^{-H}` (spec §2.2). Other defaults as
    DANN.
    """

    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "randomized_dim": (1, None, "[)"),
    }

    predict = Recipe.predict  # closed-set only: no unknown-class threshold

    def build_adversary(self) -> nn.Module:
        hp, features, classes = self.hp, self.model.features_dim, self.task.num_classes
        width = hp["randomized_dim"] if hp["randomized"] else features * classes
        return ConditionalDomainAdversarialLoss(
            DomainDiscriminator(width, hp["disc_hidden"]),
            entropy_conditioning=hp["entropy_conditioning"],
            randomized=hp["randomized"],
            num_classes=classes,
            features_dim=features,
            randomized_dim=hp["randomized_dim"],
            grl=warm_start_grl(hp),
        )

    def transfer_loss(self, y_s: Tensor, f_s: Tensor, y_t: Tensor, f_t: Tensor) -> Tensor:
        return self.domain_adv(y_s, f_s, y_t, f_t)
