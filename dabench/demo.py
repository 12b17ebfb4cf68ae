"""A one-minute demonstration of the loss library: DANN on two moons → rotated two moons.

Source: scikit-learn-style two moons (labelled). Target: the same distribution rotated by
``rotation`` degrees (unlabelled during training). The same MLP is trained twice from the same
initialisation, once on the source only and once with the DANN loss added, and both are evaluated
on held-out target data.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.modules.classifier import Classifier
from dabench.modules.domain_discriminator import DomainDiscriminator


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.1, rotation: float = 0.0):
    """``n`` points of two interleaving half circles, rotated by ``rotation`` degrees about their
    centre; returns float32 inputs ``(n, 2)`` and int64 labels ``(n,)``."""
    labels = rng.integers(0, 2, size=n)
    angle = rng.uniform(0.0, math.pi, size=n)
    x = np.where(labels == 0, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(labels == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x - 0.5, y - 0.25], axis=1) + rng.normal(scale=noise, size=(n, 2))
    theta = math.radians(rotation)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return torch.from_numpy((points @ rot.T).astype(np.float32)), torch.from_numpy(labels)


def mlp_classifier(hidden: int = 64) -> Classifier:
    backbone = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
    backbone.out_features = hidden
    return Classifier(backbone, num_classes=2, finetune=False)


@dataclass
class DemoResult:
    source_only: float
    dann: float
    seconds: float


def train(adapt: bool, steps: int, seed: int, rotation: float, batch_size: int = 64) -> float:
    """Train one model; return its target-test accuracy (percent)."""
    rng = np.random.default_rng(seed)
    x_s, y_s = two_moons(1000, rng)
    x_t, _ = two_moons(1000, rng, rotation=rotation)
    x_test, y_test = two_moons(1000, rng, rotation=rotation)
    torch.manual_seed(seed)
    model = mlp_classifier()
    adversarial = DomainAdversarialLoss(DomainDiscriminator(model.features_dim, 64))
    groups = model.get_parameters() + (
        adversarial.domain_discriminator.get_parameters() if adapt else []
    )
    lr = 0.01
    optimizer = torch.optim.SGD(groups, lr, momentum=0.9, weight_decay=1e-3, nesterov=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda x: lr * (1 + 0.001 * x) ** -0.75)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i_s = torch.randint(len(x_s), (batch_size,), generator=generator)
        i_t = torch.randint(len(x_t), (batch_size,), generator=generator)
        y, f = model(torch.cat([x_s[i_s], x_t[i_t]]))
        loss = F.cross_entropy(y[:batch_size], y_s[i_s])
        if adapt:
            loss = loss + adversarial(f[:batch_size], f[batch_size:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        return float((model(x_test).argmax(1) == y_test).float().mean()) * 100


def run(steps: int = 3000, seed: int = 0, rotation: float = 40.0) -> DemoResult:
    start = time.perf_counter()
    source_only = train(False, steps, seed, rotation)
    dann = train(True, steps, seed, rotation)
    return DemoResult(source_only, dann, time.perf_counter() - start)
