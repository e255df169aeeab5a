import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cvlab.metrics import image_scores, psnr, ssim


def _pair(seed=0, shape=(3, 40, 52), dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=torch.float64)
    pred = (target + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return pred.to(dtype), target.to(dtype)


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x.double().permute(1, 2, 0).numpy()


def _sk_ssim(pred, target, data_range=1.0):
    return structural_similarity(_hwc(target), _hwc(pred), data_range=data_range, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=-1)


def test_psnr_matches_skimage_over_all_channels():
    pred, target = _pair()
    expected = peak_signal_noise_ratio(_hwc(target), _hwc(pred), data_range=1.0)
    assert psnr(pred, target).item() == pytest.approx(expected, abs=1e-10)


def test_psnr_batch_data_range_and_dtype():
    pairs = [_pair(seed) for seed in range(3)]
    pred = torch.stack([p for p, _ in pairs]) * 255
    target = torch.stack([t for _, t in pairs]) * 255
    values = psnr(pred, target, data_range=255)
    assert values.shape == (3,) and values.dtype == torch.float64
    for value, (p, t) in zip(values, pairs, strict=True):
        assert value.item() == pytest.approx(peak_signal_noise_ratio(_hwc(t), _hwc(p), data_range=1.0), abs=1e-9)
    assert psnr(pred.float() / 255, target.float() / 255).dtype == torch.float32


def test_psnr_hand_cases():
    x = torch.full((3, 4, 4), 0.5)
    assert psnr(x + 0.1, x).item() == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert math.isinf(psnr(x, x).item())
    # noise of sd 25/255 scores 20 log10(255/25) = 20.17 dB
    grey = torch.full((3, 256, 256), 0.5)
    noisy = grey + 25 / 255 * torch.randn(3, 256, 256, generator=torch.Generator().manual_seed(0))
    assert psnr(noisy, grey).item() == pytest.approx(20 * math.log10(255 / 25), abs=0.05)


def test_ssim_matches_skimage_colour_float64():
    pred, target = _pair()
    assert ssim(pred, target).item() == pytest.approx(_sk_ssim(pred, target), abs=1e-10)


def test_ssim_matches_skimage_float32_batch_and_range_255():
    pairs = [_pair(seed, shape=(3, 33, 47), dtype=torch.float32) for seed in range(2)]
    pred, target = torch.stack([p for p, _ in pairs]), torch.stack([t for _, t in pairs])
    values = ssim(pred * 255, target * 255, data_range=255)
    assert values.shape == (2,) and values.dtype == torch.float32
    for value, (p, t) in zip(values, pairs, strict=True):
        assert value.item() == pytest.approx(_sk_ssim(p, t), abs=1e-5)


def test_ssim_grey_other_sigma_and_map():
    pred, target = _pair(3, shape=(1, 30, 30))
    expected = structural_similarity(target[0].numpy(), pred[0].numpy(), data_range=1.0, gaussian_weights=True,
                                     sigma=1.0, use_sample_covariance=False)
    score, ssim_map = ssim(pred, target, sigma=1.0, return_map=True)
    assert score.item() == pytest.approx(expected, abs=1e-10)
    assert ssim_map.shape == (1, 30 - 8, 30 - 8)  # radius int(3.5 + 0.5) = 4 dropped on each side


def test_ssim_identity_and_contrast():
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(1 - x, x).item() < 0  # inverted structure


def test_inputs_not_mutated_and_errors():
    pred, target = _pair()
    before = pred.clone(), target.clone()
    psnr(pred, target), ssim(pred, target)
    assert torch.equal(pred, before[0]) and torch.equal(target, before[1])
    with pytest.raises(ValueError, match="same shape"):
        psnr(pred, target[:, :-1])
    with pytest.raises(TypeError, match="floating"):
        ssim((pred * 255).to(torch.uint8), (target * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="data_range"):
        psnr(pred, target, data_range=0)
    with pytest.raises(ValueError, match="at least 11 x 11"):
        ssim(pred[:, :8, :8], target[:, :8, :8])
    with pytest.raises(ValueError, match="dimensions"):
        psnr(pred[0], target[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    pred, target = _pair(dtype=torch.float32)
    assert psnr(pred.cuda(), target.cuda()).item() == pytest.approx(psnr(pred, target).item(), abs=1e-4)
    assert ssim(pred.cuda(), target.cuda()).item() == pytest.approx(ssim(pred, target).item(), abs=1e-5)


def test_image_scores_average_images_of_different_sizes():
    pairs = [_pair(0, shape=(3, 20, 30)), _pair(1, shape=(3, 25, 16))]
    scores = image_scores([p for p, _ in pairs], [t for _, t in pairs])
    assert scores["psnr"] == pytest.approx(np.mean([psnr(p, t).item() for p, t in pairs]))
    assert scores["ssim"] == pytest.approx(np.mean([ssim(p, t).item() for p, t in pairs]))
    with pytest.raises(ValueError, match="same length"):
        image_scores([pairs[0][0]], [])


def test_docstring_examples():
    import doctest

    import cvlab.metrics.image

    result = doctest.testmod(cvlab.metrics.image, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 4
