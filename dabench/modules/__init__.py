"""Building blocks shared by the adaptation losses."""

from dabench.modules.classifier import Classifier, ImageClassifier
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.entropy import entropy
from dabench.modules.grl import (
    GradientReverseFunction,
    GradientReverseLayer,
    WarmStartGradientReverseLayer,
)

__all__ = [
    "Classifier",
    "DomainDiscriminator",
    "GradientReverseFunction",
    "GradientReverseLayer",
    "ImageClassifier",
    "WarmStartGradientReverseLayer",
    "entropy",
]
