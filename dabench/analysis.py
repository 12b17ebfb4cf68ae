r"""Feature diagnostics: how far apart a model's source and target features lie.

Two views of the features :math:`f = F(x)` a recipe's classifier feeds its head
(:meth:`~dabench.methods.base.Recipe.logits_and_features`):

* :func:`a_distance`, the proxy :math:`\mathcal{A}`-distance of Ben-David et al. (NeurIPS 2006;
  "Analysis of representations for domain adaptation") — one number, 0 when a linear domain
  classifier cannot tell source from target features, 2 when it separates them perfectly;
* :func:`tsne`, a two-dimensional t-SNE embedding (van der Maaten & Hinton, JMLR 2008) of a fixed,
  seeded, per-domain-balanced sample, and :func:`plot_tsne`, which draws it coloured by domain
  and by class, one row per model (e.g. the task's source-only pick above a DANN pick).

Both are what the reference library's ``utils/analysis`` offers (``a_distance.calculate``,
``tsne.visualize``) and what adaptation papers show; :mod:`dabench.reports.features` runs them on a
sweep's pick (``dabench analyze``). The features are arrays or tensors ``(N, D)``; nothing here
reads a model, a task or a tracking store.
"""

from __future__ import annotations

from typing import Any

import numpy as np

A_DISTANCE_SAMPLES = 2000
"""At most this many samples per domain feed :func:`a_distance` (the rows the trial's
evaluation keeps for its validators: :data:`dabench.trainable.VALIDATOR_ROWS`)."""
A_DISTANCE_FOLDS = 5
"""Folds of the domain classifier's held-out error: each fits on 80 % of both domains, as the
reference's 80/20 split, and every sample is scored once."""
A_DISTANCE_C = 1.0
"""Inverse L2 strength of the domain classifier (on standardised features). On the features of
five trained checkpoints (``reports/analysis.md``) C = 1 came within 0.07 of C chosen inside each
fold by 3-fold cross-validation over 0.01–100 — no more than that estimate's own range over
sampling seeds — at a sixth of its time; C = 10 was up to 0.10 off, C = 0.1 up to 0.31."""

TSNE_SAMPLES = 500
"""Samples per domain in a t-SNE embedding (at most 1,000 points: a few seconds on one CPU
thread; ``reports/analysis.md``)."""


def balanced_sample(n_source: int, n_target: int, per_domain: int, seed: int = 0) -> tuple:
    """Indices of an equal number of source and target rows, ``n = min(n_source, n_target,
    per_domain)`` each, drawn without replacement by a generator seeded with ``seed`` (each
    domain's indices sorted). Equal counts make chance 50 % for any domain classifier."""
    rng = np.random.default_rng(seed)
    n = min(n_source, n_target, per_domain)
    return (np.sort(rng.choice(n_source, n, replace=False)),
            np.sort(rng.choice(n_target, n, replace=False)))  # fmt: skip


def domain_error(
    source_features: Any,
    target_features: Any,
    *,
    max_samples: int = A_DISTANCE_SAMPLES,
    folds: int = A_DISTANCE_FOLDS,
    c: float = A_DISTANCE_C,
    seed: int = 0,
) -> float:
    r"""The held-out error :math:`\varepsilon` of a linear domain classifier on the two feature
    sets — the quantity behind :func:`a_distance`.

    Of each domain, :math:`n = \min(N_s, N_t, \text{max\_samples})` rows are drawn (seeded, without
    replacement; :func:`balanced_sample`), so chance is exactly 1/2. The :math:`2n` rows, labelled
    by domain, are split into ``folds`` stratified folds (each holds :math:`n/k` of either domain);
    for each fold a classifier fitted on the others — scikit-learn's ``StandardScaler`` then
    L2-regularised ``LogisticRegression`` (inverse strength ``c``, :data:`A_DISTANCE_C`) —
    predicts its rows, and

    .. math::
        \varepsilon = \frac{1}{2n} \sum_{i=1}^{2n} \mathbb{1}\big[h_{-k(i)}(f_i) \neq d_i\big]

    with :math:`h_{-k(i)}` the classifier that did not see row :math:`i` and :math:`d_i` its
    domain. Raises ``ValueError`` for non-matrix inputs, NaN, different widths, or fewer than
    ``folds`` rows of a domain.

    Why this classifier: logistic regression is the linear classifier the proxy distance is
    defined with, fitted to its optimum rather than for a number of epochs; standardising makes
    the L2 penalty weigh every feature alike. The ``newton-cholesky`` solver converges in a few
    exact Newton steps on the collinear ReLU features of a bottleneck (lbfgs needed 140–310
    iterations on DANN's moons features). Fitted on one thread (BLAS and OpenMP): the fits are
    small, and a trial computing it runs beside other trials on the same cores.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    f_s, f_t = _matrix("source_features", source_features), _matrix("target_features",
                                                                     target_features)  # fmt: skip
    if f_s.shape[1] != f_t.shape[1]:
        raise ValueError(f"source and target features differ in width: {f_s.shape} vs {f_t.shape}")
    if folds < 2:
        raise ValueError(f"folds must be ≥ 2; got {folds}")
    if min(len(f_s), len(f_t), max_samples) < folds:
        raise ValueError(f"the A-distance needs at least {folds} rows of each domain; got "
                         f"{len(f_s)} source and {len(f_t)} target rows")  # fmt: skip
    s, t = balanced_sample(len(f_s), len(f_t), max_samples, seed)
    x = np.concatenate((f_s[s], f_t[t]))
    domain = np.r_[np.zeros(len(s)), np.ones(len(t))]
    wrong = 0
    with threadpool_limits(1):
        for fit, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
            x, domain
        ):
            classifier = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, solver="newton-cholesky", max_iter=100)
            )
            classifier.fit(x[fit], domain[fit])
            wrong += int((classifier.predict(x[held_out]) != domain[held_out]).sum())
    return wrong / len(x)


def a_distance(source_features: Any, target_features: Any, **options: Any) -> float:
    r"""The proxy :math:`\mathcal{A}`-distance between source and target features,

    .. math::
        \hat d_{\mathcal{A}} = 2\,\big(1 - 2 \min(\varepsilon, \tfrac12)\big) \in [0, 2],

    with :math:`\varepsilon` the held-out error of a linear domain classifier
    (:func:`domain_error`; ``options`` are its keywords: ``max_samples``, ``folds``, ``c``,
    ``seed``). 0: the classifier does no better than chance, the features do not tell the domains
    apart; 2: it separates them. Lower after adaptation means aligned features, not necessarily
    better target accuracy (alignment can map a class onto the wrong one).

    Differences from the reference (``tllib/utils/analysis/a_distance.py``), which trains a
    one-layer sigmoid network with SGD (lr 0.01, batch 2, 10 epochs) on a random 80 % of the
    pooled features and returns :math:`2(1 - 2\varepsilon)` of the other 20 % after the last
    epoch:

    * the classifier is fitted to its optimum (L2-regularised logistic regression on
      standardised features) instead of for ten SGD epochs, whose result depends on the feature
      scale and the learning rate;
    * the domains are subsampled to equal size, so chance is 1/2 — the reference pools them as
      they come, and with unequal sizes predicting the larger domain everywhere already gives
      :math:`\varepsilon < 1/2` and a positive distance for identical distributions;
    * :math:`\varepsilon` is measured by stratified ``folds``-fold cross-fitting (each classifier
      fits on 80 % of both domains at the default 5, as the reference, but every sample is
      scored once, so the estimate rests on :math:`2n` predictions instead of 20 % of them);
    * :math:`\varepsilon` is clipped at 1/2: a classifier worse than chance (sampling noise on
      two samples of one distribution) gives 0, not a negative distance.

    Example::

        >>> rng = np.random.default_rng(0)
        >>> same = a_distance(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)))
        >>> apart = a_distance(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)) + 3)
        >>> same < 0.2, apart > 1.9
        (True, True)
    """
    return proxy_distance(domain_error(source_features, target_features, **options))


def proxy_distance(error: float) -> float:
    r""":math:`2\,(1 - 2 \min(\varepsilon, \tfrac12))` of a domain classifier's held-out error
    :math:`\varepsilon` (:func:`domain_error`): the distance :func:`a_distance` returns.

    >>> proxy_distance(0.5), proxy_distance(0.25), proxy_distance(0.0), proxy_distance(0.6)
    (0.0, 1.0, 2.0, 0.0)
    """
    return 2 * (1 - 2 * min(error, 0.5))


def tsne(
    source_features: Any,
    target_features: Any,
    *,
    per_domain: int = TSNE_SAMPLES,
    perplexity: float = 30.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""A 2-d t-SNE embedding of a balanced sample of source and target features.

    :func:`balanced_sample` draws :math:`n = \min(N_s, N_t, \text{per\_domain})` rows of each
    domain (seeded); scikit-learn's ``TSNE`` (Barnes-Hut, PCA initialisation, ``perplexity``
    capped below :math:`2n`, ``random_state=seed``) embeds the :math:`2n` rows jointly —
    minimising :math:`\mathrm{KL}(P \,\|\, Q)` between Gaussian affinities :math:`p_{ij}` of the
    features and Student-t affinities :math:`q_{ij} \propto (1 + \|y_i - y_j\|^2)^{-1}` of the
    embedding. Returns ``(embedding (2n, 2), source_rows, target_rows)``: the first :math:`n`
    embedded points are the source rows ``source_rows``, the last :math:`n` the target rows.
    Same features and seed, same embedding.

    Runs on one thread (OpenMP and BLAS): on this project's shared 2-core machine, two OpenMP
    threads competing with other work made a 400-point embedding ten times slower (40–45 s
    against 3–4 s). openTSNE was about 1.5× faster at these sizes (``reports/analysis.md``):
    under two seconds either way, not worth another compiled dependency.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    f_s, f_t = _matrix("source_features", source_features), _matrix("target_features",
                                                                     target_features)  # fmt: skip
    s, t = balanced_sample(len(f_s), len(f_t), per_domain, seed)
    x = np.concatenate((f_s[s], f_t[t])).astype(np.float32)
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 2 rows of each domain; got {len(s)}")
    perplexity = min(perplexity, (len(x) - 1) / 3)
    with threadpool_limits(1):
        embedding = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=1)
        embedding = embedding.fit_transform(x)
    return embedding, s, t


def plot_tsne(
    panels: list[dict[str, Any]], path: Any, class_names: list[str] | None = None
) -> None:
    """Draw t-SNE embeddings to the PNG ``path`` (matplotlib, Agg backend): one row per panel,
    coloured by domain (left) and by class (right; circles source, crosses target).

    Each panel is a dict with ``title``, ``embedding`` ``(2n, 2)`` (source rows first, as
    :func:`tsne` returns it), ``labels`` ``(2n,)`` (class indices; source and target) and
    ``a_distance`` (shown in the title). ``class_names`` names the colours of the class legend
    (default the indices); an open-set target's "unknown" class is one of them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(panels), 2, figsize=(8, 3.6 * len(panels)), squeeze=False)
    classes = max(int(np.max(p["labels"])) for p in panels) + 1
    colours = plt.get_cmap("tab10" if classes <= 10 else "tab20")
    for (by_domain, by_class), panel in zip(axes, panels, strict=True):
        y, labels = np.asarray(panel["embedding"]), np.asarray(panel["labels"])
        n = len(y) // 2
        source, target = slice(0, n), slice(n, None)
        by_domain.scatter(*y[source].T, s=6, c="0.25", alpha=0.6, label="source")
        by_domain.scatter(*y[target].T, s=6, c="tab:red", alpha=0.6, label="target")
        by_domain.set_title(f"{panel['title']}\nby domain, A-distance {panel['a_distance']:.2f}",
                            fontsize=9)  # fmt: skip
        by_domain.legend(fontsize=7, markerscale=2, loc="best")
        for part, marker in ((source, "o"), (target, "x")):
            by_class.scatter(*y[part].T, s=6 if marker == "o" else 8, marker=marker,
                             c=[colours(int(k) % colours.N) for k in labels[part]],
                             alpha=0.6, linewidths=0.6)  # fmt: skip
        by_class.set_title(f"{panel['title']}\nby class (o source, x target)", fontsize=9)
        for axis in (by_domain, by_class):
            axis.set_xticks([])
            axis.set_yticks([])
    names = class_names or [str(k) for k in range(classes)]
    handles = [plt.Line2D([], [], ls="", marker="o", ms=4, color=colours(k % colours.N))
               for k in range(classes)]  # fmt: skip
    figure.legend(handles, names, loc="lower center", ncol=min(classes, 10), fontsize=7,
                  frameon=False)  # fmt: skip
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _matrix(name: str, features: Any) -> np.ndarray:
    x = features.detach().cpu().double().numpy() if hasattr(features, "detach") else features
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x
