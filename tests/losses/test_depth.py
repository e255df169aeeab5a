import numpy as np
import pytest
import torch

from cvlab.losses.depth import (
    GradientMatchingLoss,
    SILogLoss,
    SSILoss,
    compute_scale_and_shift,
    gradient_matching_loss,
    masked_median,
    silog_loss,
    ssi_loss,
)


def _batch(seed, b=3, h=6, w=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(b, h, w, generator=g, dtype=dtype) + 0.1
    target = torch.rand(b, h, w, generator=g, dtype=dtype) + 0.1
    mask = torch.rand(b, h, w, generator=g) > 0.3
    return pred, target, mask


# ---------------------------------------------------------------- compute_scale_and_shift


def test_scale_and_shift_matches_numpy_lstsq_per_image():
    pred, target, mask = _batch(0)
    scale, shift = compute_scale_and_shift(pred, target, mask)
    for i in range(pred.shape[0]):
        p, y = pred[i][mask[i]].numpy(), target[i][mask[i]].numpy()
        (s, t), *_ = np.linalg.lstsq(np.stack([p, np.ones_like(p)], 1), y, rcond=None)
        assert scale[i].item() == pytest.approx(s, rel=1e-10)
        assert shift[i].item() == pytest.approx(t, rel=1e-10)


def test_scale_and_shift_recovers_an_exact_affine_map_and_ignores_masked_pixels():
    pred, _, mask = _batch(1)
    target = 2.5 * pred - 0.75
    target = torch.where(mask, target, torch.full_like(target, float("inf")))  # unread where masked
    scale, shift = compute_scale_and_shift(pred[:, None], target[:, None], mask[:, None])
    torch.testing.assert_close(scale, torch.full((3,), 2.5, dtype=torch.float64))
    torch.testing.assert_close(shift, torch.full((3,), -0.75, dtype=torch.float64))


def test_scale_and_shift_hand_worked():
    # p = (0, 1, 2), y = (1, 1, 4): p_mean 1, y_mean 2, cov = (-1)(-1) + 0 + (1)(2) = 3, var = 2 -> s 1.5, t 0.5
    pred = torch.tensor([[[0.0, 1.0, 2.0, 9.0]]])
    target = torch.tensor([[[1.0, 1.0, 4.0, -9.0]]])
    mask = torch.tensor([[[True, True, True, False]]])
    scale, shift = compute_scale_and_shift(pred, target, mask)
    assert scale.item() == pytest.approx(1.5) and shift.item() == pytest.approx(0.5)


def test_scale_and_shift_degenerate_cases_are_defined():
    target = torch.arange(12.0).reshape(3, 2, 2)
    pred = torch.stack([torch.full((2, 2), 0.3), torch.rand(2, 2), torch.rand(2, 2)])
    mask = torch.ones(3, 2, 2, dtype=torch.bool)
    mask[1] = False  # no valid pixel
    mask[2] = torch.tensor([[True, False], [False, False]])  # one valid pixel
    scale, shift = compute_scale_and_shift(pred, target, mask)
    assert torch.isfinite(scale).all() and torch.isfinite(shift).all()
    torch.testing.assert_close(scale, torch.zeros(3))
    torch.testing.assert_close(shift, torch.tensor([1.5, 0.0, 8.0]))  # best constant: the target mean


def test_negative_scale_is_reported():
    pred, _, _ = _batch(2)
    scale, _ = compute_scale_and_shift(pred, 1 / pred)  # depth fitted to disparity
    assert (scale < 0).all()


def test_scale_and_shift_gradients_flow_and_inputs_are_untouched():
    pred, target, mask = _batch(3)
    pred.requires_grad_(True)
    before = target.clone()
    scale, shift = compute_scale_and_shift(pred, target, mask)
    (scale.sum() + shift.sum()).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert torch.equal(target, before)


# ---------------------------------------------------------------- ssi_loss


def _ssi_numpy(pred, target, mask):
    """Reference per image: lstsq alignment, then sum of squares / 2M."""
    out = []
    for i in range(pred.shape[0]):
        p, y = pred[i][mask[i]].numpy(), target[i][mask[i]].numpy()
        a = np.stack([p, np.ones_like(p)], 1)
        h, *_ = np.linalg.lstsq(a, y, rcond=None)
        out.append(((a @ h - y) ** 2).sum() / (2 * len(p)))
    return np.array(out)


def test_ssi_loss_matches_numpy_and_reductions():
    pred, target, mask = _batch(4)
    ref = _ssi_numpy(pred, target, mask)
    np.testing.assert_allclose(ssi_loss(pred, target, mask, reduction="none").numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(ssi_loss(pred, target, mask, reduction="image").item(), ref.mean(), rtol=1e-10)
    m = mask.sum((1, 2)).numpy()
    np.testing.assert_allclose(ssi_loss(pred, target, mask).item(), (ref * 2 * m).sum() / (2 * m.sum()), rtol=1e-10)


def test_ssi_loss_hand_worked_half_mean_square():
    # same numbers as the hand-worked alignment: residuals (0.5, -1, 0.5) -> (0.25 + 1 + 0.25) / (2 * 3) = 0.25
    pred = torch.tensor([[[0.0, 1.0, 2.0]]])
    target = torch.tensor([[[1.0, 1.0, 4.0]]])
    assert ssi_loss(pred, target).item() == pytest.approx(0.25)


def test_ssi_loss_is_invariant_to_scale_and_shift_of_the_target():
    pred, target, mask = _batch(5)
    base = ssi_loss(pred, target, mask, reduction="none")
    # the residual scales with the target's scale: L(p, a y + b) = a^2 L(p, y)
    torch.testing.assert_close(ssi_loss(pred, 3 * target + 7, mask, reduction="none"), 9 * base)
    torch.testing.assert_close(ssi_loss(-2 * pred + 5, target, mask, reduction="none"), base)
    assert ssi_loss(4 * target - 1, target, mask).item() == pytest.approx(0.0, abs=1e-20)


def test_empty_images_are_left_out_of_the_means():
    pred, target, mask = _batch(6)
    mask[1] = False
    per_image = ssi_loss(pred, target, mask, reduction="none")
    assert per_image[1] == 0
    assert ssi_loss(pred, target, mask, reduction="image").item() == pytest.approx(per_image[[0, 2]].mean().item())
    assert ssi_loss(pred, target, torch.zeros_like(mask)).item() == 0


def _trimmed_numpy(p, y, trim=0.2):
    """The paper's eqs. 6-7 for one image's valid values."""

    def norm(d):
        t = np.median(d)
        return (d - t) / np.mean(np.abs(d - t))

    r = np.sort(np.abs(norm(p) - norm(y)))
    kept = int(np.floor((1 - trim) * len(p) + 1e-9))
    return r[:kept].sum() / (2 * len(p))


def test_trimmed_matches_the_paper_definition_with_masks():
    pred, target, mask = _batch(7, h=9, w=11)
    got = ssi_loss(pred, target, mask, trimmed=True, reduction="none")
    for i in range(pred.shape[0]):
        ref = _trimmed_numpy(pred[i][mask[i]].numpy(), target[i][mask[i]].numpy())
        assert got[i].item() == pytest.approx(ref, rel=1e-10)


def test_trimming_drops_the_largest_residuals():
    # 10 pixels with one outlier: trimming 20 % drops exactly the two largest normalised residuals
    target = torch.linspace(1, 2, 10, dtype=torch.float64)
    pred = target.clone()
    pred[3] = 100.0
    trimmed = ssi_loss(pred[None, None], target[None, None], trimmed=True)
    full = ssi_loss(pred[None, None], target[None, None], trimmed=True, trim=0.0)

    def norm(d):
        return (d - np.median(d)) / np.mean(np.abs(d - np.median(d)))

    r = np.sort(np.abs(norm(pred.numpy()) - norm(target.numpy())))
    assert full.item() == pytest.approx(r.sum() / 20, rel=1e-10)
    assert trimmed.item() == pytest.approx(r[:8].sum() / 20, rel=1e-10)  # still divided by 2M = 20
    assert full.item() - trimmed.item() == pytest.approx((r[8] + r[9]) / 20, rel=1e-10)
    assert trimmed.item() < 0.5 * full.item()
    assert trimmed.item() == pytest.approx(_trimmed_numpy(pred.numpy(), target.numpy()), rel=1e-10)


def test_trimmed_medians_ignore_masked_out_zeros():
    # masked-out zeros must not pull the median: padding the image with masked zeros changes nothing
    pred, target, _ = _batch(8, b=1, h=1, w=10)
    padded_p = torch.cat([pred, torch.zeros(1, 1, 30, dtype=pred.dtype)], 2)
    padded_t = torch.cat([target, torch.zeros(1, 1, 30, dtype=pred.dtype)], 2)
    mask = torch.arange(40)[None, None] < 10
    torch.testing.assert_close(
        ssi_loss(padded_p, padded_t, mask, trimmed=True), ssi_loss(pred, target, trimmed=True)
    )


def test_masked_median_matches_numpy():
    x, _, mask = _batch(9)
    got = masked_median(x, mask)
    for i in range(3):
        assert got[i].item() == pytest.approx(np.median(x[i][mask[i]].numpy()))
    assert masked_median(x, torch.zeros_like(mask)).isnan().all()


# ---------------------------------------------------------------- gradient matching


def test_gradient_matching_hand_worked():
    # residual (pred - target) = [[0, 1], [3, 3]] at full res: |dx| = 1 + 0, |dy| = 3 + 2 -> 6 / 4 pixels
    pred = torch.tensor([[[0.0, 1.0], [3.0, 3.0]]])
    target = torch.zeros(1, 2, 2)
    assert gradient_matching_loss(pred, target, scales=1).item() == pytest.approx(1.5)
    # scale 2 keeps one pixel (no differences): adds 0 / 1
    assert gradient_matching_loss(pred, target, scales=2).item() == pytest.approx(1.5)
    # masking pixel (1, 0) removes its two differences: |dx| top 1, |dy| right 2 -> 3 / 3
    mask = torch.tensor([[[True, True], [False, True]]])
    assert gradient_matching_loss(pred, target, mask, scales=1).item() == pytest.approx(1.0)


def _gradient_numpy(r, m, scales):
    total = 0.0
    for k in range(scales):
        rs, ms = r[:: 2**k, :: 2**k], m[:: 2**k, :: 2**k]
        gx = np.abs(np.diff(rs, axis=1)) * (ms[:, 1:] & ms[:, :-1])
        gy = np.abs(np.diff(rs, axis=0)) * (ms[1:] & ms[:-1])
        total += (gx.sum() + gy.sum()) / max(ms.sum(), 1)
    return total


def test_gradient_matching_matches_numpy_per_image():
    pred, target, mask = _batch(10, h=17, w=23)
    got = gradient_matching_loss(pred, target, mask, scales=3, reduction="none")
    for i in range(3):
        r = (pred[i] - target[i]).numpy()
        assert got[i].item() == pytest.approx(_gradient_numpy(r, mask[i].numpy(), 3), rel=1e-10)


def test_gradient_matching_is_zero_for_a_shifted_target_and_module():
    pred, _, mask = _batch(11)
    assert gradient_matching_loss(pred, pred + 3, mask).item() == pytest.approx(0, abs=1e-12)
    assert GradientMatchingLoss(scales=2)(pred, pred + 3, mask).item() == pytest.approx(0, abs=1e-12)


def test_ssi_with_alpha_adds_gradient_matching_of_the_aligned_prediction():
    pred, target, mask = _batch(12, h=16, w=16)
    s, t = compute_scale_and_shift(pred, target, mask)
    aligned = s[:, None, None] * pred + t[:, None, None]
    expected = ssi_loss(pred, target, mask) + 0.5 * gradient_matching_loss(aligned, target, mask)
    torch.testing.assert_close(SSILoss()(pred, target, mask), expected)


# ---------------------------------------------------------------- silog


def test_silog_matches_the_paper_formula_and_biased_variance():
    pred, target, mask = _batch(13)
    for lam in (0.0, 0.5, 1.0):
        got = silog_loss(pred, target, mask, lam=lam, reduction="none")
        for i in range(3):
            d = np.log(pred[i][mask[i]].numpy()) - np.log(target[i][mask[i]].numpy())
            n = len(d)
            assert got[i].item() == pytest.approx((d**2).sum() / n - lam * d.sum() ** 2 / n**2, rel=1e-10)
            if lam == 1.0:  # the biased (ddof=0) variance, not the unbiased one
                assert got[i].item() == pytest.approx(np.var(d, ddof=0), rel=1e-10)
                assert got[i].item() != pytest.approx(np.var(d, ddof=1), rel=1e-6)


def test_silog_hand_worked():
    # log ratios d = (log 2, 0): mean d^2 = (log 2)^2 / 2; lam 0.5 subtracts 0.5 * (log 2 / 2)^2
    pred = torch.tensor([[[2.0, 1.0]]])
    target = torch.ones(1, 1, 2)
    l2 = np.log(2) ** 2
    assert silog_loss(pred, target, lam=0.0).item() == pytest.approx(l2 / 2)
    assert silog_loss(pred, target, lam=0.5).item() == pytest.approx(l2 / 2 - 0.5 * l2 / 4)
    assert silog_loss(pred, target, lam=1.0).item() == pytest.approx(l2 / 4)


def test_silog_scale_invariance_only_at_lambda_one():
    pred, target, mask = _batch(14)
    torch.testing.assert_close(silog_loss(5 * pred, target, mask, lam=1.0), silog_loss(pred, target, mask, lam=1.0))
    assert silog_loss(5 * pred, target, mask, lam=0.5) > silog_loss(pred, target, mask, lam=0.5)


def test_silog_masked_zeros_are_fine_and_gradients_finite():
    pred, target, mask = _batch(15)
    target = torch.where(mask, target, torch.zeros_like(target))
    pred = torch.where(mask, pred, torch.zeros_like(pred)).requires_grad_(True)
    loss = SILogLoss()(pred, target, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match="pred: expected depths > 0"):
        silog_loss(pred.detach(), target)


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(dtype):
    pred, target, mask = _batch(16, dtype=dtype)
    for out in (
        ssi_loss(pred, target, mask),
        ssi_loss(pred, target, mask, trimmed=True, alpha=0.5),
        gradient_matching_loss(pred, target, mask),
        silog_loss(pred, target, mask),
        *compute_scale_and_shift(pred, target, mask),
    ):
        assert out.dtype == dtype


def test_validation_messages():
    x = torch.rand(2, 4, 4)
    with pytest.raises(ValueError, match="pred and target"):
        ssi_loss(x, torch.rand(2, 4, 5))
    with pytest.raises(TypeError, match="mask: expected a bool tensor"):
        ssi_loss(x, x, torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match="pred: expected one channel"):
        ssi_loss(torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="reduction"):
        ssi_loss(x, x, reduction="mean")
    with pytest.raises(ValueError, match="trim"):
        ssi_loss(x, x, trimmed=True, trim=1.0)
    with pytest.raises(ValueError, match="lam"):
        silog_loss(x + 1, x + 1, lam=2.0)
