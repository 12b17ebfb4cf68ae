r"""Evaluation metrics (percentages, as the reference library reports them).

``accuracy`` and ``binary_accuracy`` are the per-batch statistics the losses log; they return 0-d
tensors and never synchronise. Everything else is a dataset-level evaluation metric built on a
:class:`ConfusionMatrix` and returns Python floats (per-class values as CPU ``float64`` tensors):
one synchronisation per call or per :meth:`ConfusionMatrix.update`, negligible at evaluation time.

Predictions. Wherever a function takes ``pred`` (or ``output_or_pred``) next to a ``target`` of
class indices, it accepts either

* **logits or probabilities**: a *floating* tensor with a class dimension at position 1, i.e. of
  shape ``(N, C, *S)`` for a target of shape ``(N, *S)`` (``(N, C)`` for classification,
  ``(N, C, H, W)`` for segmentation); the predicted class is its argmax over dimension 1; or
* **class indices**: an *integer* tensor of exactly the target's shape.

The dtype decides, so the rule is never ambiguous: a floating tensor of the target's own shape, a
boolean tensor, or any other shape is rejected with a ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "ConfusionMatrix",
    "ConfusionMetrics",
    "accuracy",
    "binary_accuracy",
    "mean_per_class_accuracy",
    "open_set_metrics",
    "partial_accuracy",
    "segmentation_metrics",
]


@torch.no_grad()
def binary_accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Percentage of probabilities on the right side of 0.5: ``100 * mean((output >= 0.5) == target)``.

    Returns a 0-d tensor on ``output``'s device (no synchronisation).

    Example::

        >>> binary_accuracy(torch.tensor([[0.5], [0.49], [0.9]]), torch.tensor([[1.], [1.], [0.]]))
        tensor(33.3333)
    """
    predicted = (output >= 0.5).to(target.dtype)
    return (predicted == target).float().mean() * 100.0


@torch.no_grad()
def accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Top-1 accuracy in percent of ``(N, C)`` logits against ``(N,)`` class indices, as a 0-d tensor.

    Example::

        >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        tensor(50.)
    """
    return (output.argmax(dim=1) == target).float().mean() * 100.0


# --------------------------------------------------------------------------------------------------
# argument checks


def _is_integer(x: Tensor) -> bool:
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


def _check_num_classes(num_classes: object, minimum: int = 1) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < minimum:
        raise ValueError(f"num_classes must be an int ≥ {minimum}; got {num_classes!r}")
    return num_classes


def _check_target(target: object, min_dim: int = 0, max_dim: int | None = None) -> Tensor:
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    if not _is_integer(target):
        raise ValueError(
            "target must be an integer tensor of class indices; "
            f"got dtype {target.dtype} with shape {tuple(target.shape)}"
        )
    if target.dim() < min_dim or (max_dim is not None and target.dim() > max_dim):
        dims = f"{min_dim}-D" if max_dim == min_dim else f"at least {min_dim}-D"
        raise ValueError(f"target must be {dims}; got shape {tuple(target.shape)}")
    return target


def _to_labels(name: str, pred: object, target: Tensor, num_classes: int | None) -> Tensor:
    """Class indices from logits ``(N, C, *S)`` (floating) or indices of ``target``'s shape (integer)."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(pred).__name__}")
    shape, tshape = tuple(pred.shape), tuple(target.shape)
    width = "C" if num_classes is None else str(num_classes)
    logits_shape = (
        "(" + ", ".join([*(str(s) for s in tshape[:1]), width, *map(str, tshape[1:])]) + ")"
    )
    accepted = (
        f"floating logits of shape {logits_shape} (class dimension 1) or integer class indices "
        f"of shape {tshape} (the target's shape)"
    )
    if pred.is_floating_point():
        ok = (
            target.dim() >= 1
            and pred.dim() == target.dim() + 1
            and shape[:1] + shape[2:] == tshape
            and (num_classes is None or shape[1] == num_classes)
        )
        if not ok:
            raise ValueError(f"{name} must be {accepted}; got {pred.dtype} of shape {shape}")
        return pred.argmax(dim=1)
    if _is_integer(pred) and shape == tshape:
        return pred
    raise ValueError(f"{name} must be {accepted}; got {pred.dtype} of shape {shape}")


def _check_in_range(name: str, labels: Tensor, num_classes: int) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        value = labels[bad][0].item()
        raise ValueError(
            f"{name} must hold class indices in [0, {num_classes}); got {value} "
            f"(shape {tuple(labels.shape)})"
        )


def _check_classes(classes: Sequence[int] | None, num_classes: int) -> list[int] | None:
    if classes is None:
        return None
    picked = list(classes)
    ok = len(picked) > 0 and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c < num_classes for c in picked
    )
    if not ok:
        raise ValueError(
            f"classes must be a non-empty sequence of ints in [0, {num_classes}); got {classes!r}"
        )
    return picked


def _nanmean(x: Tensor) -> float:
    """Mean of the non-NaN entries as a float; NaN when there are none."""
    kept = x[~torch.isnan(x)]
    return float(kept.mean()) if kept.numel() else math.nan


# --------------------------------------------------------------------------------------------------
# confusion matrix


@dataclass(frozen=True, eq=False)
class ConfusionMetrics:
    r"""What :meth:`ConfusionMatrix.compute` returns; every value is in percent (0–100).

    Attributes:
        accuracy: global accuracy :math:`100\,\sum_c M_{cc} / \sum_{ij} M_{ij}` (pixel accuracy in
            segmentation); NaN when nothing was counted.
        recall: ``(C,)`` float64 CPU tensor, per-class accuracy :math:`100\,M_{cc}/\sum_j M_{cj}`;
            NaN for a class with no ground-truth sample.
        mean_accuracy: mean of ``recall`` over the classes that have ground truth (within
            ``classes`` when given) — the "mean correct" / VisDA "Mean" column.
        iou: ``(C,)`` float64 CPU tensor, :math:`100\,M_{cc}/(\sum_j M_{cj} + \sum_i M_{ic} - M_{cc})`;
            NaN for a class absent from both target and prediction.
        miou: mean of the non-NaN ``iou`` entries (within ``classes`` when given).
    """

    accuracy: float
    recall: Tensor
    mean_accuracy: float
    iou: Tensor
    miou: float


class ConfusionMatrix:
    r"""A confusion matrix accumulated over batches, as the reference's ``ConfusionMatrix``.

    After updates with pairs :math:`(y_n, \hat y_n)` it holds

    .. math::
        M_{ij} = \#\{n : y_n = i,\ \hat y_n = j,\ 0 \le y_n < C,\ y_n \ne \text{ignore\_index}\}

    (rows: ground truth, columns: prediction), counted with one ``torch.bincount`` on the inputs'
    device per update. Entries whose target lies outside :math:`[0, C)` are skipped — this is how the
    segmentation label 255 is ignored — as are entries equal to ``ignore_index`` when it is given
    (useful to ignore a label inside :math:`[0, C)`). A *prediction* outside :math:`[0, C)` at a
    counted entry is an error (predictions at skipped entries are not looked at). :meth:`compute`
    derives, in percent,

    .. math::
        \text{acc} = 100\,\frac{\sum_c M_{cc}}{\sum_{ij} M_{ij}}, \qquad
        \text{recall}_c = 100\,\frac{M_{cc}}{\sum_j M_{cj}}, \qquad
        \text{IoU}_c = 100\,\frac{M_{cc}}{\sum_j M_{cj} + \sum_i M_{ic} - M_{cc}},

    with :math:`0/0 = \text{NaN}` (a class without ground truth has NaN recall; one that never
    occurs in target nor prediction has NaN IoU). Means skip NaN entries.

    Args:
        num_classes: :math:`C`.
        ignore_index: a target label to skip in addition to those outside :math:`[0, C)`.

    Example::

        >>> cm = ConfusionMatrix(3)
        >>> cm.update(torch.tensor([0, 0, 1, 255]), torch.tensor([0, 1, 1, 2]))  # 255 is skipped
        >>> cm.update(torch.tensor([1, 0]), torch.tensor([1, 0]))
        >>> cm.matrix
        tensor([[2, 1, 0],
                [0, 2, 0],
                [0, 0, 0]])
        >>> r = cm.compute()
        >>> r.accuracy, round(r.mean_accuracy, 4), round(r.miou, 4)
        (80.0, 83.3333, 66.6667)
        >>> r.recall  # class 2 has no ground truth
        tensor([ 66.6667, 100.0000,      nan], dtype=torch.float64)
        >>> r.iou  # class 2 never occurs
        tensor([66.6667, 66.6667,     nan], dtype=torch.float64)
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        self.num_classes = _check_num_classes(num_classes)
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, int)
        ):
            raise ValueError(f"ignore_index must be an int or None; got {ignore_index!r}")
        self.ignore_index = ignore_index
        self._mat: Tensor | None = None

    @property
    def matrix(self) -> Tensor:
        """The ``(C, C)`` int64 counts ``[true, pred]``, on the device of the first update (CPU
        zeros before any update)."""
        if self._mat is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        return self._mat

    @torch.no_grad()
    def update(self, target: Tensor, pred: Tensor) -> None:
        """Count one batch.

        Args:
            target: integer class indices of any shape (``(N,)``, ``(N, H, W)``, ...).
            pred: integer class indices of the same shape, or floating logits with the class
                dimension at position 1 (see the module docstring).

        Raises:
            ValueError: on a shape or dtype mismatch, or a counted prediction outside ``[0, C)``.
        """
        n = self.num_classes
        target = _check_target(target)
        pred = _to_labels("pred", pred, target, n)
        t = target.reshape(-1).long()
        p = pred.reshape(-1).long().to(t.device)
        keep = (t >= 0) & (t < n)
        if self.ignore_index is not None:
            keep &= t != self.ignore_index
        bad = keep & ((p < 0) | (p >= n))
        if bool(bad.any()):
            raise ValueError(
                f"pred must hold class indices in [0, {n}) where the target is counted; "
                f"got {p[bad][0].item()} (pred shape {tuple(pred.shape)})"
            )
        index = torch.where(keep, t * n + p, torch.full_like(t, n * n))  # n*n = skipped
        counts = torch.bincount(index, minlength=n * n + 1)[: n * n].reshape(n, n)
        if self._mat is None:
            self._mat = counts
        else:
            self._mat += counts.to(self._mat.device)

    def reset(self) -> None:
        """Set every count back to zero."""
        if self._mat is not None:
            self._mat.zero_()

    def compute(self, classes: Sequence[int] | None = None) -> ConfusionMetrics:
        """The metrics of the counts so far (see :class:`ConfusionMetrics`).

        Args:
            classes: if given, ``mean_accuracy`` and ``miou`` average only over these class
                indices (still skipping NaN entries), e.g. the 13 evaluated Synthia classes;
                ``accuracy``, ``recall`` and ``iou`` are unaffected.
        """
        picked = _check_classes(classes, self.num_classes)
        m = self.matrix.to("cpu", torch.float64)
        diag, rows, cols = m.diagonal(), m.sum(dim=1), m.sum(dim=0)
        recall = 100.0 * diag / rows
        iou = 100.0 * diag / (rows + cols - diag)
        total = float(m.sum())
        acc = 100.0 * float(diag.sum()) / total if total else math.nan
        sel = slice(None) if picked is None else picked
        return ConfusionMetrics(
            accuracy=acc,
            recall=recall,
            mean_accuracy=_nanmean(recall[sel]),
            iou=iou,
            miou=_nanmean(iou[sel]),
        )

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index})"


# --------------------------------------------------------------------------------------------------
# dataset-level metrics


def _classification_matrix(
    output_or_pred: Tensor, target: Tensor, num_classes: int
) -> ConfusionMatrix:
    target = _check_target(target, 1, 1)
    pred = _to_labels("pred", output_or_pred, target, num_classes)
    _check_in_range("target", target, num_classes)
    cm = ConfusionMatrix(num_classes)
    cm.update(target, pred)
    return cm


@torch.no_grad()
def mean_per_class_accuracy(output_or_pred: Tensor, target: Tensor, num_classes: int) -> float:
    r"""Mean of the per-class accuracies (recalls) over the classes present in ``target``, in percent.

    .. math::
        \text{mean acc} = \frac{1}{|\mathcal{P}|} \sum_{c \in \mathcal{P}} 100\,\frac{M_{cc}}{\sum_j M_{cj}},
        \qquad \mathcal{P} = \{c : \textstyle\sum_j M_{cj} > 0\}

    This is the VisDA-2017 "Mean" column (global accuracy is "Avg"). Classes without samples are
    left out, so on a partial-DA target it averages the shared classes only.

    Args:
        output_or_pred: ``(N, C)`` floating logits or ``(N,)`` integer predictions in ``[0, C)``.
        target: ``(N,)`` integer labels in ``[0, C)`` (anything else is an error).
        num_classes: :math:`C`.

    Returns:
        A float; NaN when ``target`` is empty.

    Example::

        >>> target = torch.tensor([0, 0, 0, 0, 1])
        >>> mean_per_class_accuracy(torch.tensor([0, 0, 0, 0, 0]), target, num_classes=3)  # (100 + 0) / 2
        50.0
    """
    _check_num_classes(num_classes)
    return _classification_matrix(output_or_pred, target, num_classes).compute().mean_accuracy


@torch.no_grad()
def open_set_metrics(pred: Tensor, target: Tensor, num_classes: int) -> dict[str, float]:
    r"""Open-set scores OS, OS*, UNK and H-score (HOS), in percent, from the dataset's confusion matrix.

    Class :math:`u = C - 1` (the last) is "unknown", the others :math:`\mathcal{K}` are known. With
    per-class recall :math:`a_c = 100\,M_{cc} / \sum_j M_{cj}` and :math:`\mathcal{P}` the classes
    that have samples in ``target``:

    .. math::
        \text{OS} = \operatorname*{mean}_{c \in \mathcal{P}} a_c, \qquad
        \text{OS}^* = \operatorname*{mean}_{c \in \mathcal{P} \cap \mathcal{K}} a_c, \qquad
        \text{UNK} = a_u, \qquad
        H = \frac{2\,\text{OS}^* \cdot \text{UNK}}{\text{OS}^* + \text{UNK}}

    Edge cases: :math:`H = 0` (not an error; the reference raises ``ZeroDivisionError``) when
    :math:`\text{OS}^* = \text{UNK} = 0`. When ``target`` has no unknown sample, UNK is undefined:
    ``unk`` and ``h_score`` are NaN and ``os`` equals ``os_star``. When it has no known sample,
    ``os_star`` and ``h_score`` are NaN. A class without samples is left out of the means (the
    reference's means would be NaN; equal whenever every class occurs).

    Args:
        pred: ``(N, C)`` floating logits (argmax over all :math:`C` columns, unknown included) or
            ``(N,)`` integer predictions in ``[0, C)``.
        target: ``(N,)`` integer labels in ``[0, C)``.
        num_classes: :math:`C`, known classes plus one unknown (at least 2).

    Returns:
        ``{"os": ..., "os_star": ..., "unk": ..., "h_score": ...}``, Python floats.

    Example::

        >>> target = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])  # class 2 = unknown
        >>> pred = torch.tensor([0, 2, 1, 1, 2, 2, 2, 0])
        >>> open_set_metrics(pred, target, num_classes=3)  # recalls 50, 100, 75
        {'os': 75.0, 'os_star': 75.0, 'unk': 75.0, 'h_score': 75.0}
    """
    _check_num_classes(num_classes, minimum=2)
    recall = _classification_matrix(pred, target, num_classes).compute().recall
    os_star, unk = _nanmean(recall[:-1]), float(recall[-1])
    if os_star == 0.0 and unk == 0.0:
        h_score = 0.0
    else:
        h_score = 2.0 * os_star * unk / (os_star + unk)  # NaN if either is NaN
    return {"os": _nanmean(recall), "os_star": os_star, "unk": unk, "h_score": h_score}


@torch.no_grad()
def partial_accuracy(pred: Tensor, target: Tensor) -> float:
    r"""Partial-DA accuracy: plain top-1 accuracy in percent over the target samples.

    .. math::
        \text{acc} = \frac{100}{N} \sum_{n=1}^{N} \mathbb{1}\big[\hat y_n = y_n\big], \qquad
        \hat y_n = \arg\max_{c \in \mathcal{Y}_s} z_{nc}

    The argmax runs over **all** source classes :math:`\mathcal{Y}_s`, so predicting an outlier
    class (a source class absent from the target) counts as an error, as in the reference. For a
    per-class view use :func:`mean_per_class_accuracy`, which averages over the shared classes.

    Args:
        pred: ``(N, C_s)`` floating logits over all source classes, or ``(N,)`` integer predictions.
        target: ``(N,)`` integer labels (in ``[0, C_s)`` when ``pred`` are logits).

    Returns:
        A float; NaN when ``target`` is empty.

    Example::

        >>> logits = torch.tensor([[3.0, 0.0, 1.0], [0.0, 0.0, 5.0], [0.0, 2.0, 1.0]])
        >>> partial_accuracy(logits, torch.tensor([0, 1, 1]))  # class 2 is an outlier class
        66.66666666666667
    """
    target = _check_target(target, 1, 1)
    labels = _to_labels("pred", pred, target, None)
    if pred.is_floating_point():
        _check_in_range("target", target, pred.shape[1])
    n = target.numel()
    return 100.0 * float((labels == target).sum()) / n if n else math.nan


@torch.no_grad()
def segmentation_metrics(
    pred: Tensor,
    target: Tensor,
    num_classes: int,
    ignore_index: int | None = 255,
    classes: Sequence[int] | None = None,
) -> dict[str, float | Tensor]:
    r"""Pixel accuracy, per-class IoU and mIoU, in percent, over all pixels of the batch.

    Pixels whose label is ``ignore_index`` or outside :math:`[0, C)` are skipped; with the counts
    :math:`M` of the remaining pixels (see :class:`ConfusionMatrix`)

    .. math::
        \text{pixel acc} = 100\,\frac{\sum_c M_{cc}}{\sum_{ij} M_{ij}}, \qquad
        \text{IoU}_c = 100\,\frac{TP_c}{TP_c + FP_c + FN_c}, \qquad
        \text{mIoU} = \operatorname*{mean}_{c} \text{IoU}_c

    where the mean skips classes that occur in neither target nor prediction (NaN IoU) and, when
    ``classes`` is given, runs over those classes only (e.g. the 13 evaluated Synthia classes; the
    reference would give NaN there if one of them never occurred). To evaluate a dataset in
    several batches, accumulate a :class:`ConfusionMatrix` instead.

    Args:
        pred: ``(N, C, H, W)`` floating logits or ``(N, H, W)`` integer predictions (any shape
            ``(N, *S)`` works, with logits ``(N, C, *S)``).
        target: integer labels of shape ``(N, H, W)``.
        num_classes: :math:`C`.
        ignore_index: the label of unlabelled pixels (default 255).
        classes: optional class subset for the mIoU.

    Returns:
        ``{"pixel_acc": float, "iou": (C,) float64 CPU tensor, "miou": float}``.

    Example::

        >>> target = torch.tensor([[[0, 0], [1, 255]]])
        >>> pred = torch.tensor([[[0, 1], [1, 1]]])
        >>> out = segmentation_metrics(pred, target, num_classes=2)
        >>> out["pixel_acc"], out["iou"], out["miou"]
        (66.66666666666667, tensor([50., 50.], dtype=torch.float64), 50.0)
    """
    cm = ConfusionMatrix(num_classes, ignore_index=ignore_index)
    cm.update(_check_target(target, 1), pred)
    result = cm.compute(classes)
    return {"pixel_acc": result.accuracy, "iou": result.iou, "miou": result.miou}
