"""Straightforward NumPy re-derivations of the reference library's formulas (spec §1–§2).

Independent of ``dabench``: every function works on float64 NumPy arrays, loops where a loop is
clearer than a trick, and follows the reference code's order of operations.
"""

from __future__ import annotations

import math

import numpy as np


def grl_lambda(
    i: int, alpha: float = 1.0, lo: float = 0.0, hi: float = 1.0, n: float = 1000
) -> float:
    return 2.0 * (hi - lo) / (1.0 + math.exp(-alpha * i / n)) - (hi - lo) + lo


def bce(p: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """PyTorch's element-wise binary cross-entropy on probabilities: each log clamped at -100."""
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_1mp = np.maximum(np.log(1.0 - p), -100.0)
    return -(y * log_p + (1.0 - y) * log_1mp)


def bce_with_logits(z: np.ndarray, y: float) -> np.ndarray:
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of ``(N, C)`` logits."""
    log_p = np.log(softmax(logits))
    return np.array([-log_p[i, labels[i]] for i in range(len(labels))])


def reduce(x: np.ndarray, reduction: str) -> np.ndarray | float:
    return {"mean": x.mean, "sum": x.sum}[reduction]() if reduction != "none" else x


def entropy(p: np.ndarray) -> np.ndarray:
    return np.array([-sum(pc * math.log(pc + 1e-5) for pc in row) for row in p])


def dann_loss(d_s, d_t, w_s=None, w_t=None, reduction="mean"):
    """``0.5 * (BCE(d_s, 1; w_s) + BCE(d_t, 0; w_t))``; d_* are ``(N, 1)`` probabilities."""
    w_s = np.ones_like(d_s) if w_s is None else np.reshape(w_s, d_s.shape)
    w_t = np.ones_like(d_t) if w_t is None else np.reshape(w_t, d_t.shape)
    l_s, l_t = w_s * bce(d_s, 1.0), w_t * bce(d_t, 0.0)
    if reduction == "none":
        return 0.5 * (l_s + l_t)
    return 0.5 * (reduce(l_s, reduction) + reduce(l_t, reduction))


def dann_loss_logits(d, n_s, w_s=None, w_t=None, reduction="mean"):
    """The ``sigmoid=False`` branch: ``d`` are ``(N_s + N_t, 2)`` logits, class 1 = source."""
    labels = np.array([1] * n_s + [0] * (len(d) - n_s))
    w_s = np.ones(n_s) if w_s is None else np.reshape(w_s, -1)
    w_t = np.ones(len(d) - n_s) if w_t is None else np.reshape(w_t, -1)
    return reduce(cross_entropy(d, labels) * np.concatenate([w_s, w_t]), reduction)


def multilinear_map(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    n, feat = f.shape
    out = np.zeros((n, g.shape[1] * feat))
    for i in range(n):
        for c in range(g.shape[1]):
            for j in range(feat):
                out[i, c * feat + j] = g[i, c] * f[i, j]
    return out


def randomized_multilinear_map(f, g, rf, rg):
    return (f @ rf) * (g @ rg) / math.sqrt(rf.shape[1])


def cdan_weights(g_logits: np.ndarray) -> np.ndarray:
    w = 1.0 + np.exp(-entropy(softmax(g_logits)))
    return w / w.sum() * len(w)


def cdan_loss(d, n_s, g_logits, entropy_conditioning=False, reduction="mean"):
    """``d``: discriminator probabilities ``(N_s + N_t, 1)`` of the mapped features."""
    labels = np.array([1.0] * n_s + [0.0] * (len(d) - n_s)).reshape(-1, 1)
    loss = bce(d, labels)
    if entropy_conditioning:
        loss = loss * cdan_weights(g_logits).reshape(-1, 1)
    return reduce(loss, reduction)


def bsp_loss(f_s: np.ndarray, f_t: np.ndarray) -> float:
    return (
        np.linalg.svd(f_s, compute_uv=False)[0] ** 2 + np.linalg.svd(f_t, compute_uv=False)[0] ** 2
    )


def osbp_loss(y: np.ndarray, t: float = 0.5) -> float:
    p_u = softmax(y)[:, -1]
    return -np.mean(t * np.log(p_u + 1e-6)) - np.mean((1 - t) * np.log(1 - p_u + 1e-6))


def pada_class_weight(logits: np.ndarray, temperature: float) -> np.ndarray:
    gamma = softmax(logits / temperature).mean(axis=0)
    return gamma / gamma.max()


def iwan_weight(d_source_prob: np.ndarray) -> np.ndarray:
    w = 1.0 - d_source_prob
    return w / (w.mean() + 1e-5)


def prob_2_entropy(prob: np.ndarray) -> np.ndarray:
    c = prob.shape[1]
    return -prob * np.log2(prob + 1e-30) / math.log2(c)
