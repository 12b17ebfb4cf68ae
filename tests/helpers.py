"""Small deterministic discriminators whose outputs NumPy can recompute."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LinearSigmoid(nn.Module):
    """``D(h) = sigmoid(h @ v + b)`` with fixed random ``v``; ``numpy(h)`` recomputes it."""

    def __init__(self, in_features: int, seed: int = 0, logits: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        out = logits or 1
        self.v = rng.normal(size=(in_features, out)) / np.sqrt(in_features)
        self.b = rng.normal(size=out)
        self.linear = nn.Linear(in_features, out).double()
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(self.v.T))
            self.linear.bias.copy_(torch.from_numpy(self.b))
        self.logits = bool(logits)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.linear(h)
        return z if self.logits else torch.sigmoid(z)

    def numpy(self, h: np.ndarray) -> np.ndarray:
        z = h @ self.v + self.b
        return z if self.logits else 1.0 / (1.0 + np.exp(-z))


class Identity1d(nn.Module):
    """The spec's test discriminator for DANN: the input already is the probability."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class SigmoidOfSum(nn.Module):
    """The spec's test discriminator for CDAN: ``sigmoid(sum(h))`` per row."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h.sum(dim=1, keepdim=True))


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    """float64 standard-normal tensor from its own generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)
