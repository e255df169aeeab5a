import math

import numpy as np
import pytest
import sklearn.metrics as skm
import torch

from cvlab.metrics import (
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
    segmentation_scores,
)

K = 5


def _random_case(seed: int = 0, shape=(2, 17, 23)):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, K, shape, generator=g)
    pred = torch.where(torch.rand(shape, generator=g) < 0.6, target, torch.randint(0, K, shape, generator=g))
    target[torch.rand(shape, generator=g) < 0.1] = 255
    return pred, target


def _sk_inputs(pred, target):
    keep = target != 255
    return target[keep].numpy(), pred[keep].numpy()


def test_confusion_matrix_matches_sklearn():
    pred, target = _random_case()
    y_true, y_pred = _sk_inputs(pred, target)
    expected = skm.confusion_matrix(y_true, y_pred, labels=list(range(K)))
    conf = confusion_matrix(pred, target, K)
    assert conf.dtype == torch.int64 and conf.shape == (K, K)
    np.testing.assert_array_equal(conf.numpy(), expected)


def test_confusion_matrix_hand_case_rows_are_target():
    conf = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), num_classes=2)
    assert conf.tolist() == [[1, 1], [0, 1]]


def test_confusion_matrix_any_int_dtype_shape_and_ignored_pred_values():
    target = torch.tensor([[0, 1], [255, 1]], dtype=torch.uint8)
    pred = torch.tensor([[0, 1], [255, 0]], dtype=torch.int32)  # 255 sits on an ignored pixel: not inspected
    assert confusion_matrix(pred, target, 2).tolist() == [[1, 0], [1, 1]]
    assert confusion_matrix(pred[0], target[0], 2, ignore_index=None).tolist() == [[1, 0], [0, 1]]


def test_confusion_matrix_custom_ignore_index():
    target = torch.tensor([-100, 0, 1])
    pred = torch.tensor([1, 0, 0])
    assert confusion_matrix(pred, target, 2, ignore_index=-100).tolist() == [[1, 0], [1, 0]]


def test_scores_match_sklearn():
    pred, target = _random_case(seed=1)
    y_true, y_pred = _sk_inputs(pred, target)
    conf = confusion_matrix(pred, target, K)
    labels = list(range(K))
    np.testing.assert_allclose(float(pixel_accuracy(conf)), skm.accuracy_score(y_true, y_pred), rtol=1e-6)
    np.testing.assert_allclose(
        iou_per_class(conf).numpy(), skm.jaccard_score(y_true, y_pred, labels=labels, average=None), rtol=1e-6
    )
    np.testing.assert_allclose(
        dice_per_class(conf).numpy(), skm.f1_score(y_true, y_pred, labels=labels, average=None), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(mean_iou(conf)), skm.jaccard_score(y_true, y_pred, labels=labels, average="macro"), rtol=1e-6
    )


def test_absent_class_is_nan_and_skipped_by_mean():
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 1, 1, 1])
    conf = confusion_matrix(pred, target, 3)  # class 2 appears nowhere
    iou = iou_per_class(conf)
    assert math.isnan(iou[2]) and math.isnan(dice_per_class(conf)[2])
    sk = skm.f1_score(target.numpy(), pred.numpy(), labels=[0, 1, 2], average=None, zero_division=np.nan)
    np.testing.assert_allclose(dice_per_class(conf).numpy(), sk, rtol=1e-6)  # NaN where sklearn too
    assert float(mean_iou(conf)) == pytest.approx((0.5 + 2 / 3) / 2)


def test_ships_example_from_the_lecture():
    target = torch.zeros(10, 10, dtype=torch.long)
    target[0, :5] = 1  # 5 ship pixels out of 100
    pred = torch.zeros_like(target)  # "background everywhere"
    conf = confusion_matrix(pred, target, 2)
    assert float(pixel_accuracy(conf)) == pytest.approx(0.95)
    assert iou_per_class(conf).tolist() == pytest.approx([0.95, 0.0])
    assert float(mean_iou(conf)) == pytest.approx(0.475)


def test_empty_matrix_gives_nan():
    conf = torch.zeros(3, 3, dtype=torch.long)
    assert math.isnan(pixel_accuracy(conf)) and math.isnan(mean_iou(conf))


def test_float_matrix_keeps_dtype():
    conf = torch.tensor([[3.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
    assert iou_per_class(conf).dtype == torch.float64
    assert iou_per_class(conf).tolist() == pytest.approx([0.75, 2 / 3])


def test_segmentation_scores_consistent():
    pred, target = _random_case(seed=2)
    s = segmentation_scores(pred, target, K)
    conf = confusion_matrix(pred, target, K)
    assert torch.equal(s["confusion"], conf)
    assert s["mean_iou"] == pytest.approx(float(mean_iou(conf)))
    assert s["pixel_accuracy"] == pytest.approx(float(pixel_accuracy(conf)))
    assert s["mean_dice"] == pytest.approx(float(dice_per_class(conf).mean()))
    assert s["iou"].shape == (K,) and s["dice"].shape == (K,)


def test_summed_batches_equal_whole_set():
    pred, target = _random_case(seed=3, shape=(4, 9, 9))
    total = sum(confusion_matrix(p, t, K) for p, t in zip(pred, target, strict=True))
    assert torch.equal(total, confusion_matrix(pred, target, K))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    pred, target = _random_case(seed=4)
    conf = confusion_matrix(pred.cuda(), target.cuda(), K)
    assert conf.device.type == "cuda"
    assert torch.equal(conf.cpu(), confusion_matrix(pred, target, K))
    assert iou_per_class(conf).device.type == "cuda"


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (torch.tensor([0, 5]), torch.tensor([0, 1]), r"pred: expected class ids in \[0, 3\), got 5"),
        (torch.tensor([0, 1]), torch.tensor([0, 7]), r"target: expected class ids in \[0, 3\) or \w+=255, got 7"),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), r"target: .* or ignore_index=255, got -1"),
        (torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), r"pred: expected an integer tensor"),
        (torch.tensor([0, 1]), torch.tensor([[0, 1]]), r"pred and target: expected the same shape"),
    ],
)
def test_confusion_matrix_bad_input(pred, target, message):
    with pytest.raises((ValueError, TypeError), match=message):
        confusion_matrix(pred, target, 3)


def test_confusion_matrix_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 0)


@pytest.mark.parametrize("fn", [pixel_accuracy, iou_per_class, mean_iou, dice_per_class])
@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (torch.zeros(2, 3), r"conf: expected a square"),
        (torch.zeros(4), r"conf: expected a tensor of shape \(K, K\)"),
        (torch.tensor([[1, -1], [0, 1]]), r"conf: expected non-negative counts"),
        (torch.zeros(2, 2, dtype=torch.bool), r"conf: expected an integer or floating"),
    ],
)
def test_confusion_consumers_bad_input(fn, conf, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fn(conf)
