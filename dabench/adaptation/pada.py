"""PADA: Partial Adversarial Domain Adaptation (Cao et al., ECCV 2018,
https://arxiv.org/abs/1808.04205)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dabench._checks import check_matrix, check_positive, check_positive_int, check_tensor

__all__ = [
    "AutomaticUpdateClassWeightModule",
    "ClassWeightModule",
    "collect_classification_results",
]


class ClassWeightModule(nn.Module):
    r"""Class weights from the average target prediction.

    .. math::
        \gamma = \frac1N \sum_{i=1}^{N} \mathrm{softmax}(y_i / T), \qquad
        \gamma \leftarrow \gamma / \max_c \gamma_c

    so the most predicted class gets weight exactly 1 and classes absent from the target get small
    weights. Computed without gradient.

    Difference from the reference library: the input is not detached in place (the reference's
    ``outputs.detach_()`` silently cut the caller's graph).

    Args:
        temperature: :math:`T > 0`. Default 0.1.

    Inputs:
        - outputs: target logits ``(N, C)``. Output: ``(C,)``.

    Example::

        >>> ClassWeightModule(temperature=1.0)(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
        ...                                                  [0.2, 0.0, 0.0]]))
        tensor([1.0000, 0.9411, 0.6291])
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        check_positive("temperature", temperature)
        self.temperature = temperature

    def forward(self, outputs: Tensor) -> Tensor:
        check_matrix("outputs", outputs, what="classes")
        if outputs.shape[0] == 0:
            raise ValueError("outputs is empty: class weights need at least one target prediction")
        softmax_outputs = F.softmax(outputs.detach() / self.temperature, dim=1)
        class_weight = torch.mean(softmax_outputs, dim=0)
        return class_weight / torch.max(class_weight)


def collect_classification_results(
    data_loader: Iterable, classifier: nn.Module, device: torch.device | str
) -> Tensor:
    """Logits of ``classifier`` on every sample of ``data_loader``, shape ``(num_samples, C)``.

    The classifier runs in eval mode under ``no_grad``; its previous mode is restored. Each batch
    may be a tensor of inputs or a tuple/list whose first item is the inputs (labels, if any, are
    ignored).
    """
    was_training = classifier.training
    classifier.eval()
    all_outputs = []
    try:
        with torch.no_grad():
            for batch in data_loader:
                images = batch[0] if isinstance(batch, tuple | list) else batch
                output = classifier(images.to(device))
                all_outputs.append(output[0] if isinstance(output, tuple) else output)
    finally:
        classifier.train(was_training)
    if not all_outputs:
        raise ValueError("data_loader yielded no batches: cannot collect classification results")
    return torch.cat(all_outputs, dim=0)


class AutomaticUpdateClassWeightModule:
    r"""PADA's class weights, recomputed every ``update_steps`` calls of :meth:`step`.

    The weights start at 1 for every class. On every ``update_steps``-th call of :meth:`step`
    they are recomputed by :class:`ClassWeightModule` from the classifier's logits on the whole of
    ``data_loader`` (the unlabelled target data).

    Args:
        update_steps: recompute every this many steps (> 0).
        data_loader: target data; batches are inputs or ``(inputs, ...)`` tuples.
        classifier: the model being trained (run in eval mode for collection).
        num_classes: number of source classes :math:`C`.
        device: where the inputs are moved.
        temperature: softmax temperature (default 0.1).
        partial_classes_index: indices of the classes the target really has (diagnostics only).

    Example::

        >>> net = torch.nn.Linear(4, 3)
        >>> target_loader = [torch.randn(8, 4) for _ in range(2)]
        >>> weights = AutomaticUpdateClassWeightModule(2, target_loader, net, 3, "cpu")
        >>> weights.step(); weights.get_class_weight_for_cross_entropy_loss()
        tensor([1., 1., 1.])
        >>> weights.step(); float(weights.get_class_weight_for_cross_entropy_loss().max())
        1.0
        >>> w_s, w_t = weights.get_class_weight_for_adversarial_loss(torch.tensor([0, 2, 1]))
        >>> w_s.shape, w_t.shape
        (torch.Size([3]), torch.Size([3]))
    """

    def __init__(
        self,
        update_steps: int,
        data_loader: Iterable,
        classifier: nn.Module,
        num_classes: int,
        device: torch.device | str,
        temperature: float = 0.1,
        partial_classes_index: Sequence[int] | None = None,
    ) -> None:
        check_positive_int("update_steps", update_steps)
        check_positive_int("num_classes", num_classes)
        self.update_steps = update_steps
        self.data_loader = data_loader
        self.classifier = classifier
        self.num_classes = num_classes
        self.device = device
        self.class_weight_module = ClassWeightModule(temperature)
        self.class_weight = torch.ones(num_classes, device=device)
        self.num_steps = 0
        self.partial_classes_index = (
            None if partial_classes_index is None else sorted(set(partial_classes_index))
        )
        self.non_partial_classes_index = (
            None
            if self.partial_classes_index is None
            else sorted(set(range(num_classes)) - set(self.partial_classes_index))
        )

    def step(self) -> None:
        """Count one step; recompute the weights on every ``update_steps``-th call."""
        self.num_steps += 1
        if self.num_steps % self.update_steps == 0:
            outputs = collect_classification_results(self.data_loader, self.classifier, self.device)
            if outputs.shape[1] != self.num_classes:
                raise ValueError(
                    f"the classifier outputs {outputs.shape[1]} classes, "
                    f"but num_classes={self.num_classes}"
                )
            self.class_weight = self.class_weight_module(outputs)

    def get_class_weight_for_cross_entropy_loss(self) -> Tensor:
        """The class weights ``(C,)``, for ``F.cross_entropy(..., weight=...)``."""
        return self.class_weight

    def get_class_weight_for_adversarial_loss(self, source_labels: Tensor) -> tuple[Tensor, Tensor]:
        r"""Per-sample weights for the DANN loss: :math:`w^s_i = \gamma_{y_i}` and every target
        sample weighted by the batch mean :math:`\bar w^s` (so ``w_t`` has ``w_s``'s shape and the
        batches must have equal sizes, as in the reference)."""
        check_tensor("source_labels", source_labels, 1)
        class_weight_adv_source = self.class_weight[source_labels]
        class_weight_adv_target = torch.ones_like(class_weight_adv_source) * torch.mean(
            class_weight_adv_source
        )
        return class_weight_adv_source, class_weight_adv_target

    def get_partial_classes_weight(self) -> tuple[Tensor, Tensor]:
        """Mean weight of the classes the target has and of the others (a diagnostic).

        Needs ``partial_classes_index``; a group with no class gives 0.
        """
        if self.partial_classes_index is None or self.non_partial_classes_index is None:
            raise ValueError(
                "get_partial_classes_weight needs partial_classes_index at construction"
            )
        return _mean_or_zero(self.class_weight, self.partial_classes_index), _mean_or_zero(
            self.class_weight, self.non_partial_classes_index
        )


def _mean_or_zero(weights: Tensor, index: list[int]) -> Tensor:
    return weights[index].mean() if index else weights.new_zeros(())
