import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import sklearn.metrics as skm
import torch
import torch.nn.functional as F
from skimage import morphology

from cvlab.metrics import (
    boundary_iou,
    boundary_iou_per_class,
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mask_to_boundary,
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


# --- per-image and stacked confusion matrices ---


def test_per_image_matrices_sum_to_the_batch_matrix():
    pred, target = _random_case(seed=5, shape=(3, 11, 7))
    per = confusion_matrix(pred, target, K, per_image=True)
    assert per.shape == (3, K, K) and per.dtype == torch.int64
    for b in range(3):
        assert torch.equal(per[b], confusion_matrix(pred[b], target[b], K))
    assert torch.equal(per.sum(0), confusion_matrix(pred, target, K))


def test_scores_of_stacked_matrices_are_per_matrix():
    pred, target = _random_case(seed=6, shape=(4, 9, 9))
    per = confusion_matrix(pred, target, K, per_image=True)
    for fn in (pixel_accuracy, iou_per_class, dice_per_class, mean_iou):
        stacked = fn(per)
        one_by_one = torch.stack([fn(c) for c in per])
        torch.testing.assert_close(stacked, one_by_one, equal_nan=True)


def test_per_image_needs_a_batch_dimension():
    with pytest.raises(ValueError, match="per_image"):
        confusion_matrix(torch.tensor(0), torch.tensor(0), 2, per_image=True)


def test_confusion_matrix_does_not_mutate_inputs():
    pred, target = _random_case(seed=7)
    p0, t0 = pred.clone(), target.clone()
    confusion_matrix(pred, target, K, per_image=True)
    assert torch.equal(pred, p0) and torch.equal(target, t0)


# --- boundary IoU (Cheng et al., CVPR 2021) ---


def _paper_boundary(mask: np.ndarray, ratio: float) -> np.ndarray:
    """The Boundary IoU reference code's steps with SciPy: 1-px zero border, d iterations of a 3x3 erosion."""
    h, w = mask.shape
    d = max(1, int(round(ratio * np.sqrt(h**2 + w**2))))
    padded = np.pad(mask, 1)  # cv2.copyMakeBorder(..., value=0)
    eroded = ndi.binary_erosion(padded, np.ones((3, 3)), iterations=d, border_value=1)[1:-1, 1:-1]
    return mask & ~eroded


def _skimage_boundary(mask: np.ndarray, ratio: float) -> np.ndarray:
    """The same band with scikit-image: one (2d+1)^2 square erosion, outside the image = 0."""
    h, w = mask.shape
    d = max(1, int(round(ratio * np.hypot(h, w))))
    eroded = morphology.erosion(mask.astype(np.uint8), np.ones((2 * d + 1, 2 * d + 1)), mode="constant", cval=0)
    return mask & ~eroded.astype(bool)


def _blobs(seed: int, shape=(3, 37, 41)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(shape[0], 1, 6, 7, generator=g)
    return (F.interpolate(coarse, size=shape[1:], mode="bilinear") > 0.5)[:, 0]


def test_mask_to_boundary_hand_case():
    m = torch.zeros(5, 5, dtype=torch.bool)
    m[1:4, 1:4] = True
    band = mask_to_boundary(m, dilation_ratio=0.1)  # d = round(0.1 * 7.07) = 1
    expected = m.clone()
    expected[2, 2] = False
    assert torch.equal(band, expected)


def test_mask_to_boundary_image_border_is_background():
    full = torch.ones(4, 4, dtype=torch.bool)
    band = mask_to_boundary(full, dilation_ratio=0.2)  # d = 1: the outer ring, not the 2x2 centre
    assert band.sum() == 12 and not band[1:3, 1:3].any()


@pytest.mark.parametrize("ratio", [0.02, 0.05, 0.1, 0.3])
def test_mask_to_boundary_matches_reference_code_and_skimage(ratio):
    masks = _blobs(0)
    band = mask_to_boundary(masks, ratio)
    for m, b in zip(masks.numpy(), band.numpy(), strict=True):
        np.testing.assert_array_equal(b, _paper_boundary(m, ratio))
        np.testing.assert_array_equal(b, _skimage_boundary(m, ratio))


def test_boundary_iou_one_pixel_shift_hand_case():
    target = torch.zeros(8, 8, dtype=torch.bool)
    target[2:6, 2:6] = True
    pred = torch.roll(target, 1, dims=1)
    # d = 1: two 12-pixel rings sharing 3 + 3 pixels of their top and bottom rows -> 6 / 18
    assert boundary_iou(pred, target, dilation_ratio=0.1).item() == pytest.approx(1 / 3)
    mask_iou = (pred & target).sum() / (pred | target).sum()
    assert mask_iou.item() == pytest.approx(12 / 20)


def test_boundary_iou_matches_reference_formula():
    pred, target = _blobs(1), _blobs(2)
    ours = boundary_iou(pred, target)
    for i, (p, t) in enumerate(zip(pred.numpy(), target.numpy(), strict=True)):
        bp, bt = _paper_boundary(p, 0.02), _paper_boundary(t, 0.02)
        assert ours[i].item() == pytest.approx((bp & bt).sum() / (bp | bt).sum())
    assert ours.shape == (3,) and ours.dtype == torch.get_default_dtype()


def test_boundary_iou_identical_empty_and_disjoint():
    m = _blobs(3)[0]
    assert boundary_iou(m, m).item() == 1.0
    empty = torch.zeros_like(m)
    assert math.isnan(boundary_iou(empty, empty).item())
    assert boundary_iou(m, empty).item() == 0.0


def test_boundary_iou_per_class_sums_counts_over_images():
    g = torch.Generator().manual_seed(4)
    target = torch.randint(0, 3, (2, 6, 5), generator=g).repeat_interleave(4, 1).repeat_interleave(4, 2)
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.9, target, torch.randint(0, 3, target.shape))
    target[0, :3, :3] = 255
    ours = boundary_iou_per_class(pred, target, 4)
    counted = (target != 255).numpy()
    for k in range(3):
        inter = union = 0
        for p, t, c in zip(pred.numpy(), target.numpy(), counted, strict=True):
            bp, bt = _paper_boundary(p == k, 0.02) & c, _paper_boundary(t == k, 0.02) & c
            inter, union = inter + (bp & bt).sum(), union + (bp | bt).sum()
        assert ours[k].item() == pytest.approx(inter / union)
    assert math.isnan(ours[3].item())  # class 3 nowhere: undefined, skipped by nanmean


def test_boundary_iou_per_class_perfect_prediction():
    target = _blobs(5).long() + 1
    assert torch.equal(boundary_iou_per_class(target, target, 3)[1:], torch.ones(2))


def test_boundary_does_not_mutate_and_keeps_device():
    m = _blobs(6)
    m0 = m.clone()
    out = mask_to_boundary(m)
    assert torch.equal(m, m0) and out.device == m.device and out.dtype == torch.bool


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_boundary_on_cuda():
    pred, target = _blobs(7), _blobs(8)
    assert torch.equal(boundary_iou(pred.cuda(), target.cuda()).cpu(), boundary_iou(pred, target))
    p, t = pred.long(), target.long()
    got = boundary_iou_per_class(p.cuda(), t.cuda(), 2)
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), boundary_iou_per_class(p, t, 2))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mask_to_boundary(torch.zeros(4, 4)), r"mask: expected a bool tensor"),
        (lambda: mask_to_boundary(torch.zeros(4, dtype=torch.bool)), r"mask: expected a tensor of shape \(\.\.\."),
        (lambda: mask_to_boundary(torch.zeros(4, 4, dtype=torch.bool), 0.0), r"dilation_ratio: expected .* > 0"),
        (lambda: boundary_iou(torch.zeros(4, 4, dtype=torch.bool), torch.zeros(4, 5, dtype=torch.bool)),
         r"pred and target: expected the same shape"),
        (lambda: boundary_iou_per_class(torch.zeros(4, 4, dtype=torch.long), torch.full((4, 4), 3), 3),
         r"target: expected class ids in \[0, 3\)( or ignore_index=255)?, got 3"),
        (lambda: boundary_iou_per_class(torch.full((4, 4), 9), torch.zeros(4, 4, dtype=torch.long), 3),
         r"pred: expected class ids in \[0, 3\), got 9"),
    ],
)
def test_boundary_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
