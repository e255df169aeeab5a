import numpy as np
import pytest
import torch
from sklearn.metrics import mean_absolute_percentage_error, mean_squared_error

from cvlab.metrics.depth import DEPTH_METRICS, align_disparity, depth_metrics


def _batch(seed, b=3, h=8, w=9, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, h, w, generator=g, dtype=dtype) * 4 + 1
    pred = gt * torch.exp(0.3 * torch.randn(b, h, w, generator=g, dtype=dtype))
    mask = torch.rand(b, h, w, generator=g) > 0.4
    return pred, gt, mask


def _numpy_scores(p, y):
    ratio = np.maximum(p / y, y / p)
    return {
        "abs_rel": mean_absolute_percentage_error(y, p),
        "sq_rel": np.mean((p - y) ** 2 / y),
        "rmse": np.sqrt(mean_squared_error(y, p)),
        "rmse_log": np.sqrt(mean_squared_error(np.log(y), np.log(p))),
        "log10": np.mean(np.abs(np.log10(p) - np.log10(y))),
        **{f"delta{k}": np.mean(ratio < 1.25**k) for k in (1, 2, 3)},
    }


def test_per_image_scores_match_sklearn_and_numpy():
    pred, gt, mask = _batch(0)
    per_image = depth_metrics(pred, gt, mask, reduction="none")
    mean = depth_metrics(pred, gt, mask)
    assert tuple(mean) == DEPTH_METRICS
    refs = [_numpy_scores(pred[i][mask[i]].numpy(), gt[i][mask[i]].numpy()) for i in range(3)]
    for name in DEPTH_METRICS:
        np.testing.assert_allclose(per_image[name].numpy(), [r[name] for r in refs], rtol=1e-10)
        assert mean[name].item() == pytest.approx(np.mean([r[name] for r in refs]), rel=1e-10)


def test_per_image_average_differs_from_pixel_pooling():
    pred, gt, mask = _batch(1)
    mask[0, :, 2:] = False  # a small valid region in image 0
    pooled = _numpy_scores(pred[mask].numpy(), gt[mask].numpy())
    assert depth_metrics(pred, gt, mask)["abs_rel"].item() != pytest.approx(pooled["abs_rel"], rel=1e-3)


def test_hand_worked_and_strict_delta():
    gt = torch.tensor([[[1.0, 2.0, 4.0, 1.0]]], dtype=torch.float64)
    pred = torch.tensor([[[1.25, 2.0, 2.0, 1.0]]], dtype=torch.float64)  # ratio exactly 1.25 at pixel 0
    s = depth_metrics(pred, gt)
    assert s["abs_rel"].item() == pytest.approx((0.25 + 0 + 0.5 + 0) / 4)
    assert s["sq_rel"].item() == pytest.approx((0.0625 + 0 + 1.0 + 0) / 4)
    assert s["rmse"].item() == pytest.approx(np.sqrt((0.0625 + 4) / 4))
    assert s["delta1"].item() == pytest.approx(0.5)  # 1.25 is not < 1.25
    assert s["delta2"].item() == pytest.approx(0.75)  # ratio 2 is not < 1.5625
    assert s["delta3"].item() == pytest.approx(0.75)  # 1.25^3 = 1.953 < 2: still out
    assert s["log10"].item() == pytest.approx((np.log10(1.25) + np.log10(2)) / 4)


def test_alignment_removes_scale_or_affine_error():
    pred, gt, mask = _batch(2)
    med = depth_metrics(3 * gt, gt, mask, align="median")
    ss = depth_metrics(0.5 * gt + 2, gt, mask, align="scale_shift")
    for scores in (med, ss):
        assert scores["abs_rel"].item() == pytest.approx(0, abs=1e-12)
        assert scores["delta1"].item() == 1
    assert depth_metrics(3 * gt, gt, mask)["delta1"].item() == 0


def test_invalid_ground_truth_is_never_read():
    pred, gt, mask = _batch(3)
    bad = gt.clone()
    bad[~mask] = float("inf")
    bad[0, 0, 0], mask2 = 0.0, mask.clone()
    mask2[0, 0, 0] = False
    ref = depth_metrics(pred, gt, mask2)
    got = depth_metrics(pred, bad)  # the default mask keeps finite gt > 0 only
    ref_default = depth_metrics(pred, torch.where(torch.isfinite(bad) & (bad > 0), gt, 0.0))
    for name in DEPTH_METRICS:
        assert torch.isfinite(got[name])
        torch.testing.assert_close(got[name], ref_default[name])
    got_masked = depth_metrics(pred, bad, mask)
    for name in DEPTH_METRICS:
        torch.testing.assert_close(got_masked[name], ref[name])


def test_empty_images_are_skipped_and_dtype_kept():
    pred, gt, mask = _batch(4, dtype=torch.float32)
    mask[1] = False
    per_image = depth_metrics(pred, gt, mask, reduction="none")
    assert per_image["rmse"][1].isnan()
    mean = depth_metrics(pred[:, None], gt[:, None], mask[:, None])
    assert mean["rmse"].item() == pytest.approx(per_image["rmse"][[0, 2]].mean().item())
    assert all(v.dtype == torch.float32 for v in mean.values())


def test_negative_aligned_predictions_are_clamped():
    gt = torch.tensor([[[1.0, 2.0, 3.0]]])
    pred = torch.tensor([[[-1.0, 2.0, 3.0]]])
    s = depth_metrics(pred, gt, min_depth=0.5)
    assert s["abs_rel"].item() == pytest.approx(0.5 / 3)


def test_validation():
    x = torch.rand(1, 4, 4) + 1
    with pytest.raises(ValueError, match="align"):
        depth_metrics(x, x, align="mean")
    with pytest.raises(ValueError, match="pred and gt"):
        depth_metrics(x, torch.rand(1, 4, 5))


def test_align_disparity_recovers_depth_from_affine_disparity():
    _, gt, mask = _batch(5)
    disparity = 0.3 / gt + 2.0  # scale and shift unknown to the metric
    depth = align_disparity(disparity[:, None], gt[:, None], mask[:, None])
    assert depth.shape == (3, 1, 8, 9)
    torch.testing.assert_close(depth[:, 0][mask], gt[mask])
    scores = depth_metrics(depth, gt[:, None], mask[:, None])
    assert scores["abs_rel"].item() == pytest.approx(0, abs=1e-10)


def test_align_disparity_clamps_at_max_depth():
    gt = torch.tensor([[[1.0, 2.0, 4.0]]])
    pred = torch.tensor([[[-1.0, -2.0, -4.0]]])  # fits 1/gt with a negative scale; near-zero disparities clamp
    depth = align_disparity(pred, gt, max_depth=3.0)
    assert torch.isfinite(depth).all() and (depth <= 3.0 + 1e-6).all() and (depth > 0).all()
