"""Evaluation metrics: hand-computed confusion matrices, open-set / partial / segmentation scores."""

import math

import pytest
import torch

from dabench.metrics import (
    ConfusionMatrix,
    ConfusionMetrics,
    accuracy,
    binary_accuracy,
    mean_per_class_accuracy,
    open_set_metrics,
    partial_accuracy,
    segmentation_metrics,
)

NAN = math.nan


def assert_close_nan(actual, expected, abs=1e-9):
    """Element-wise comparison of a tensor with a list in which NaN must match NaN."""
    assert actual.tolist() == pytest.approx(expected, abs=abs, nan_ok=True)


def one_hot_logits(labels, num_classes):
    """Floating logits whose argmax over dimension 1 is ``labels`` (any ``(N, *S)`` shape)."""
    return torch.nn.functional.one_hot(labels, num_classes).movedim(-1, 1).float() * 3.0 - 1.0


# --------------------------------------------------------------------------------------------------
# the two per-batch accuracies used by the losses keep their behaviour


def test_binary_accuracy_unchanged():
    out = binary_accuracy(torch.tensor([[0.5], [0.49], [0.9]]), torch.tensor([[1.0], [1.0], [0.0]]))
    assert out.dim() == 0 and out.dtype == torch.float32
    assert out.item() == pytest.approx(100.0 / 3)
    assert binary_accuracy(torch.tensor([0.7, 0.2]), torch.tensor([1.0, 0.0])).item() == 100.0


def test_accuracy_unchanged():
    out = accuracy(
        torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0, 0, 1])
    )
    assert out.dim() == 0 and out.dtype == torch.float32
    assert out.item() == 75.0


def test_accuracy_has_no_gradient():
    logits = torch.randn(4, 3, requires_grad=True)
    assert not accuracy(logits, torch.zeros(4, dtype=torch.long)).requires_grad


# --------------------------------------------------------------------------------------------------
# ConfusionMatrix

# target = [0, 0, 0, 1, 1, 2, 2, 2, 2], pred = [0, 1, 0, 1, 2, 2, 2, 0, 2]
TARGET = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
PRED = torch.tensor([0, 1, 0, 1, 2, 2, 2, 0, 2])
MATRIX = [
    [2, 1, 0],  # rows: truth, columns: prediction
    [0, 1, 1],
    [1, 0, 3],
]
# row sums 3, 2, 4; column sums 3, 2, 4; diagonal 2, 1, 3 (6 of 9 correct)
RECALL = [200 / 3, 50.0, 75.0]
IOU = [100 * 2 / (3 + 3 - 2), 100 * 1 / (2 + 2 - 1), 100 * 3 / (4 + 4 - 3)]  # 50, 33.3, 60


def test_confusion_matrix_by_hand():
    cm = ConfusionMatrix(3)
    cm.update(TARGET, PRED)
    assert cm.matrix.dtype == torch.int64
    assert cm.matrix.tolist() == MATRIX
    r = cm.compute()
    assert isinstance(r, ConfusionMetrics)
    assert r.accuracy == pytest.approx(100 * 6 / 9)
    assert_close_nan(r.recall, RECALL)
    assert r.mean_accuracy == pytest.approx((200 / 3 + 50 + 75) / 3)
    assert_close_nan(r.iou, IOU)
    assert r.miou == pytest.approx((50 + 100 / 3 + 60) / 3)
    assert r.recall.dtype == r.iou.dtype == torch.float64


def test_logits_give_the_same_matrix_as_labels():
    cm = ConfusionMatrix(3)
    cm.update(TARGET, one_hot_logits(PRED, 3))
    assert cm.matrix.tolist() == MATRIX


def test_class_without_ground_truth_is_nan_and_left_out_of_means():
    # 4 classes: 3 is predicted once but never true; 2 never occurs at all
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 3, 1, 1])
    cm = ConfusionMatrix(4)
    cm.update(target, pred)
    assert cm.matrix.tolist() == [
        [1, 0, 0, 1],
        [0, 2, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    r = cm.compute()
    assert r.accuracy == 75.0
    assert_close_nan(r.recall, [50.0, 100.0, NAN, NAN])
    assert r.mean_accuracy == 75.0  # (50 + 100) / 2, not over 4 classes
    # IoU_0 = 1 / (2 + 1 - 1); IoU_1 = 2 / 2; class 2 absent everywhere -> NaN; class 3: 0 / 1
    assert_close_nan(r.iou, [50.0, 100.0, NAN, 0.0])
    assert r.miou == pytest.approx(50.0)  # (50 + 100 + 0) / 3


def test_compute_with_class_subset():
    cm = ConfusionMatrix(3)
    cm.update(TARGET, PRED)
    r = cm.compute(classes=[0, 2])
    assert r.miou == pytest.approx((50 + 60) / 2)
    assert r.mean_accuracy == pytest.approx((200 / 3 + 75) / 2)
    assert r.accuracy == pytest.approx(100 * 6 / 9)  # unaffected
    assert_close_nan(r.iou, IOU)


def test_targets_outside_range_are_skipped_and_ignore_index_inside_range():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 255, -1, 3, 2]), torch.tensor([0, 1, 2, 0, 2]))
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]
    cm = ConfusionMatrix(3, ignore_index=1)
    cm.update(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 2, 2]))
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]


def test_prediction_out_of_range_is_an_error_only_where_counted():
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"pred must hold class indices in \[0, 3\).*got 3"):
        cm.update(torch.tensor([0, 1]), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"got -1"):
        cm.update(torch.tensor([0, 1]), torch.tensor([-1, 1]))
    cm.update(torch.tensor([0, 255]), torch.tensor([0, 255]))  # ignored pixel: not looked at
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_accumulation_over_batches_equals_one_big_batch():
    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (6, 7, 9), generator=gen)
    target[torch.rand(6, 7, 9, generator=gen) < 0.2] = 255
    logits = torch.randn(6, 5, 7, 9, generator=gen)

    whole = ConfusionMatrix(5)
    whole.update(target, logits)
    parts = ConfusionMatrix(5)
    for t, z in zip(target.split(2), logits.split(2), strict=True):
        parts.update(t, z.argmax(dim=1))
    assert torch.equal(whole.matrix, parts.matrix)
    assert int(whole.matrix.sum()) == int((target != 255).sum())

    a, b = whole.compute(), parts.compute()
    assert a.accuracy == b.accuracy and a.miou == b.miou and a.mean_accuracy == b.mean_accuracy
    assert torch.equal(a.iou, b.iou) and torch.equal(a.recall, b.recall)
    seg = segmentation_metrics(logits, target, 5)
    assert seg["pixel_acc"] == a.accuracy and seg["miou"] == a.miou


def test_reset_and_empty_matrix():
    cm = ConfusionMatrix(2)
    assert cm.matrix.tolist() == [[0, 0], [0, 0]]
    empty = cm.compute()
    assert math.isnan(empty.accuracy) and math.isnan(empty.miou)
    assert math.isnan(empty.mean_accuracy)
    cm.update(torch.tensor([0, 1]), torch.tensor([1, 1]))
    cm.reset()
    assert cm.matrix.tolist() == [[0, 0], [0, 0]]
    cm.update(torch.tensor([1]), torch.tensor([1]))
    assert cm.matrix.tolist() == [[0, 0], [0, 1]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_matrix_stays_on_the_device():
    cm = ConfusionMatrix(3)
    cm.update(TARGET.cuda(), PRED.cuda())
    cm.update(TARGET.cuda(), one_hot_logits(PRED, 3).cuda())
    assert cm.matrix.device.type == "cuda"
    assert cm.matrix.cpu().tolist() == [[2 * v for v in row] for row in MATRIX]
    assert cm.compute().accuracy == pytest.approx(100 * 6 / 9)


# --------------------------------------------------------------------------------------------------
# argument errors


@pytest.mark.parametrize(
    ("target", "pred", "message"),
    [
        (
            torch.tensor([0, 1]),
            torch.tensor([0, 1, 2]),
            r"pred must be .* of shape \(2,\).*got torch.int64 of shape \(3,\)",
        ),
        (
            torch.tensor([0, 1]),
            torch.randn(2, 4),
            r"logits of shape \(2, 3\).*got torch.float32 of shape \(2, 4\)",
        ),
        (
            torch.tensor([0, 1]),
            torch.tensor([0.0, 1.0]),
            r"floating logits .*got torch.float32 of shape \(2,\)",
        ),
        (torch.tensor([0, 1]), torch.tensor([True, False]), r"got torch.bool of shape \(2,\)"),
        (torch.zeros(2, 4, 4, dtype=torch.long), torch.randn(2, 3, 4, 5), r"\(2, 3, 4, 4\)"),
        (
            torch.tensor([0.0, 1.0]),
            torch.tensor([0, 1]),
            r"target must be an integer tensor.*float32",
        ),
    ],
)
def test_update_rejects_bad_shapes_and_dtypes(target, pred, message):
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(3).update(target, pred)


@pytest.mark.parametrize("num_classes", [0, -2, 2.0, True, None])
def test_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes must be an int"):
        ConfusionMatrix(num_classes)


@pytest.mark.parametrize("classes", [[], [3], [-1], [0.0]])
def test_bad_class_subset(classes):
    cm = ConfusionMatrix(3)
    cm.update(TARGET, PRED)
    with pytest.raises(
        ValueError, match=r"classes must be a non-empty sequence of ints in \[0, 3\)"
    ):
        cm.compute(classes=classes)


def test_bad_ignore_index_and_non_tensor():
    with pytest.raises(ValueError, match="ignore_index must be an int or None"):
        ConfusionMatrix(3, ignore_index=255.0)
    with pytest.raises(TypeError, match=r"pred must be a torch\.Tensor"):
        ConfusionMatrix(3).update(TARGET, [0, 1])


def test_classification_functions_need_flat_in_range_targets():
    with pytest.raises(ValueError, match=r"target must be 1-D; got shape \(2, 2\)"):
        mean_per_class_accuracy(
            torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 3
        )
    with pytest.raises(ValueError, match=r"target must hold class indices in \[0, 3\); got 255"):
        open_set_metrics(torch.tensor([0, 1]), torch.tensor([0, 255]), 3)
    with pytest.raises(ValueError, match=r"num_classes must be an int ≥ 2"):
        open_set_metrics(torch.tensor([0]), torch.tensor([0]), 1)
    with pytest.raises(ValueError, match=r"logits of shape \(2, 3\)"):
        open_set_metrics(torch.randn(2, 4), torch.tensor([0, 1]), 3)


# --------------------------------------------------------------------------------------------------
# mean per-class accuracy (VisDA "Mean"), partial DA


def test_mean_per_class_accuracy_by_hand():
    assert mean_per_class_accuracy(PRED, TARGET, 3) == pytest.approx((200 / 3 + 50 + 75) / 3)
    assert mean_per_class_accuracy(one_hot_logits(PRED, 3), TARGET, 3) == pytest.approx(
        (200 / 3 + 50 + 75) / 3
    )
    # global accuracy 80 % but the minority class is always wrong: mean of 100 and 0
    target = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    pred = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert mean_per_class_accuracy(pred, target, 5) == 50.0  # classes 2-4 absent: left out


def test_partial_accuracy_counts_outlier_predictions_as_errors():
    # source has 4 classes, the target only {0, 1}; sample 2 argmaxes to outlier class 3
    logits = torch.tensor(
        [
            [5.0, 0.0, 0.0, 0.0],
            [0.0, 5.0, 0.0, 0.0],
            [0.0, 4.0, 0.0, 5.0],
            [1.0, 0.0, 0.0, 0.0],
        ]
    )
    target = torch.tensor([0, 1, 1, 1])
    assert partial_accuracy(logits, target) == 50.0
    assert partial_accuracy(logits.argmax(dim=1), target) == 50.0
    # restricting the argmax to the shared classes would have made sample 2 right
    assert partial_accuracy(logits[:, :2], target) == 75.0
    assert math.isnan(partial_accuracy(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"target must hold class indices in \[0, 4\)"):
        partial_accuracy(logits, torch.tensor([0, 1, 1, 4]))


# --------------------------------------------------------------------------------------------------
# open set


def test_open_set_by_hand():
    # 3 known classes + unknown (3). Matrix:
    #   truth 0: [3, 0, 0, 1]   recall 75
    #   truth 1: [0, 1, 0, 1]   recall 50
    #   truth 2: [0, 0, 0, 2]   recall 0
    #   truth 3: [1, 0, 0, 3]   recall 75 (UNK)
    target = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 3])
    pred = torch.tensor([0, 0, 0, 3, 1, 3, 3, 3, 0, 3, 3, 3])
    out = open_set_metrics(pred, target, 4)
    os_star = (75 + 50 + 0) / 3
    assert out["os_star"] == pytest.approx(os_star)
    assert out["unk"] == 75.0
    assert out["os"] == pytest.approx((75 + 50 + 0 + 75) / 4)
    assert out["h_score"] == pytest.approx(2 * os_star * 75 / (os_star + 75))
    assert set(out) == {"os", "os_star", "unk", "h_score"}
    assert all(type(v) is float for v in out.values())
    assert open_set_metrics(one_hot_logits(pred, 4), target, 4) == out


def test_open_set_matches_reference_visda_osbp_row():
    # README VisDA-2017 OSBP row: known recalls 63.7 75.9 49.6 74.4 86.2 27.3, UNK 94.3
    # -> OS* 62.9, OS 67.3, HOS 75.4. Rebuild it with 1000 samples per class.
    correct = [637, 759, 496, 744, 862, 273, 943]
    targets, preds = [], []
    for c, k in enumerate(correct):
        wrong = 6 if c < 6 else 0  # known samples rejected as unknown, unknown taken for class 0
        targets.append(torch.full((1000,), c))
        preds.append(torch.cat([torch.full((k,), c), torch.full((1000 - k,), wrong)]))
    out = open_set_metrics(torch.cat(preds), torch.cat(targets), 7)
    assert out["os_star"] == pytest.approx(62.85)
    assert out["unk"] == pytest.approx(94.3)
    assert out["os"] == pytest.approx((377.1 + 94.3) / 7)
    assert out["h_score"] == pytest.approx(2 * 62.85 * 94.3 / (62.85 + 94.3))
    assert [round(out[k], 1) for k in ("h_score", "os", "os_star", "unk")] == [
        75.4,
        67.3,
        62.9,
        94.3,
    ]


def test_h_score_is_zero_when_both_terms_are_zero():
    # every known sample rejected as unknown, every unknown sample taken for class 0
    target = torch.tensor([0, 1, 2, 2])
    pred = torch.tensor([2, 2, 0, 1])
    out = open_set_metrics(pred, target, 3)
    assert out == {"os": 0.0, "os_star": 0.0, "unk": 0.0, "h_score": 0.0}
    # only one term zero: the formula already gives 0
    out = open_set_metrics(torch.tensor([2, 2, 2, 2]), target, 3)
    assert (out["os_star"], out["unk"], out["h_score"]) == (0.0, 100.0, 0.0)


def test_open_set_without_unknown_samples_in_target():
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 2, 1, 1])  # one sample predicted unknown
    out = open_set_metrics(pred, target, 3)
    assert out["os_star"] == 75.0  # (50 + 100) / 2
    assert out["os"] == 75.0  # the unknown class has no samples: left out
    assert math.isnan(out["unk"]) and math.isnan(out["h_score"])


def test_open_set_without_known_samples_in_target():
    out = open_set_metrics(torch.tensor([2, 0]), torch.tensor([2, 2]), 3)
    assert out["unk"] == 50.0 and out["os"] == 50.0
    assert math.isnan(out["os_star"]) and math.isnan(out["h_score"])


def test_open_set_known_class_without_samples_is_left_out():
    # class 1 absent from the target: OS* averages class 0 only
    out = open_set_metrics(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 0, 2, 2]), 3)
    assert (out["os_star"], out["unk"], out["os"]) == (50.0, 100.0, 75.0)
    assert out["h_score"] == pytest.approx(2 * 50 * 100 / 150)


# --------------------------------------------------------------------------------------------------
# segmentation


def test_segmentation_by_hand_with_ignored_pixels():
    # one 3x3 image, 3 classes, two unlabelled pixels (255)
    target = torch.tensor([[[0, 0, 1], [1, 1, 255], [2, 2, 255]]], dtype=torch.uint8)
    pred = torch.tensor([[[0, 1, 1], [1, 2, 0], [2, 0, 2]]])
    # counted pixels: (0,0) (0,1) (1,1) (1,1) (1,2) (2,2) (2,0)
    #   truth 0: [1, 1, 0]; truth 1: [0, 2, 1]; truth 2: [1, 0, 1]  -> 4 of 7 correct
    #   IoU_0 = 1 / (2 + 2 - 1); IoU_1 = 2 / (3 + 3 - 2); IoU_2 = 1 / (2 + 2 - 1)
    iou = [100 / 3, 50.0, 100 / 3]
    out = segmentation_metrics(pred, target, 3)
    assert set(out) == {"pixel_acc", "iou", "miou"}
    assert out["pixel_acc"] == pytest.approx(400 / 7)
    assert_close_nan(out["iou"], iou)
    assert out["miou"] == pytest.approx(sum(iou) / 3)
    logits = one_hot_logits(pred, 3)  # (1, 3, 3, 3)
    same = segmentation_metrics(logits, target, 3)
    assert same["pixel_acc"] == out["pixel_acc"] and torch.equal(same["iou"], out["iou"])
    subset = segmentation_metrics(pred, target, 3, classes=[1, 2])
    assert subset["miou"] == pytest.approx((50 + 100 / 3) / 2)


def test_segmentation_absent_class_and_ignore_index_none():
    target = torch.tensor([[[0, 0], [0, 255]]])
    pred = torch.tensor([[[0, 0], [1, 3]]])
    out = segmentation_metrics(pred, target, 4)
    # IoU_0 = 2/3, IoU_1 = 0 (predicted, never true), classes 2 and 3 never occur where counted
    assert_close_nan(out["iou"], [200 / 3, 0.0, NAN, NAN])
    assert out["miou"] == pytest.approx(100 / 3)
    # 255 is outside [0, 4) so it is skipped even without an ignore_index
    assert segmentation_metrics(pred, target, 4, ignore_index=None)["pixel_acc"] == pytest.approx(
        200 / 3
    )


def test_segmentation_rejects_mismatched_logits():
    with pytest.raises(
        ValueError,
        match=r"logits of shape \(2, 3, 4, 4\).*got torch.float32 of shape \(2, 4, 4, 4\)",
    ):
        segmentation_metrics(torch.randn(2, 4, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), 3)
