import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from PIL import Image
from skimage import restoration as sk

from cvlab.data import load_sample
from cvlab.data.samples import SAMPLE_NAMES
from cvlab.metrics import psnr
from cvlab.restoration import (
    DEBLURRERS,
    DENOISERS,
    RECIPES,
    TEST_IMAGES,
    TRAIN_IMAGES,
    PatchDataset,
    add_gaussian_noise,
    blur,
    blur_and_noise,
    classical_deblur,
    classical_denoise,
    corrupt,
    corruption_mask,
    crop_to_multiple,
    downsample,
    gaussian_kernel,
    load_pretrained,
    load_split,
    motion_kernel,
    restore,
    train_recipe,
    upsample_bicubic,
)


@pytest.fixture(scope="module")
def photo():
    """A 96 x 128 crop of a held-out photograph, float32 in [0, 1]."""
    return load_sample("chelsea")[:, 100:196, 150:278].contiguous()


# ------------------------------------------------------------------------------------------------------- split
def test_split_is_disjoint_and_named():
    assert not set(TRAIN_IMAGES) & set(TEST_IMAGES)
    assert set(TRAIN_IMAGES) | set(TEST_IMAGES) <= set(SAMPLE_NAMES)
    assert len(set(TRAIN_IMAGES)) == len(TRAIN_IMAGES) >= 10


def test_load_split_factor():
    full, half = load_split("test"), load_split("test", 2)
    assert [tuple(x.shape) for x in half] == [(3, 256, 256), (3, 150, 225), (3, 200, 300)]
    assert all(h.shape[-2] == f.shape[-2] // 2 for h, f in zip(half, full, strict=True))
    with pytest.raises(ValueError, match="split"):
        load_split("val")


# ------------------------------------------------------------------------------------------------------- noise
def test_noise_is_seeded_sized_in_255_units_and_device_free(photo):
    a = add_gaussian_noise(photo, 25, seed=3)
    assert torch.equal(a, add_gaussian_noise(photo, 25, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(a, add_gaussian_noise(photo, 25, seed=4))
    assert ((a - photo).std() * 255).item() == pytest.approx(25, rel=0.02)
    assert (a - photo).mean().abs().item() < 0.01
    b = add_gaussian_noise(photo.double(), 25, seed=3)
    assert b.dtype == torch.float64 and torch.allclose(b.float(), a, atol=1e-6)
    assert torch.equal(add_gaussian_noise(photo, 0, seed=0), photo)
    clipped = add_gaussian_noise(photo, 50, seed=0, clip=True)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_noise_leaves_input_and_checks_arguments(photo):
    before = photo.clone()
    add_gaussian_noise(photo[None], 15, seed=0)
    assert torch.equal(photo, before)
    with pytest.raises(ValueError, match="at most one"):
        add_gaussian_noise(photo, 25, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="sigma"):
        add_gaussian_noise(photo, -1)
    with pytest.raises(TypeError, match="floating"):
        add_gaussian_noise((photo * 255).to(torch.uint8), 25)


# -------------------------------------------------------------------------------------------------------- blur
def test_gaussian_kernel_is_scipys():
    k = gaussian_kernel(9, 1.6)
    assert k.shape == (9, 9) and k.sum().item() == pytest.approx(1.0, abs=1e-6)
    impulse = np.zeros((9, 9))
    impulse[4, 4] = 1
    expected = ndi.gaussian_filter(impulse, 1.6, truncate=4 / 1.6, mode="constant")
    np.testing.assert_allclose(k.numpy(), expected / expected.sum(), atol=1e-7)
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(4, 1.0)


def test_motion_kernel_shapes():
    assert torch.allclose(motion_kernel(5, 0.0)[2], torch.full((5,), 0.2))
    assert torch.equal(motion_kernel(1), torch.ones(1, 1))
    for length, angle in ((7, 0.0), (8, 30.0), (11, 135.0)):
        k = motion_kernel(length, angle)
        assert k.shape[0] % 2 == 1 and k.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert torch.allclose(k, k.flip(0, 1), atol=1e-7)  # a centred segment is point-symmetric
    assert torch.allclose(motion_kernel(7, 90.0), motion_kernel(7, 0.0).T, atol=1e-7)
    assert torch.allclose(motion_kernel(7, 45.0), motion_kernel(7, -45.0).flip(0), atol=1e-7)


def test_blur_is_a_true_convolution_like_scipy(photo):
    kernel = torch.rand(5, 3, generator=torch.Generator().manual_seed(0))  # asymmetric: the flip matters
    ours = blur(photo.double(), kernel.double())
    expected = np.stack([ndi.convolve(c, kernel.double().numpy(), mode="mirror") for c in photo.double().numpy()])
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)
    batch = blur(photo[None].repeat(2, 1, 1, 1), kernel)
    assert batch.shape == (2, *photo.shape) and torch.allclose(batch[1], ours.float(), atol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        blur(photo, torch.ones(2, 2))


def test_blur_and_noise_is_blur_then_noise(photo):
    k = gaussian_kernel(7, 1.2)
    assert torch.equal(blur_and_noise(photo, k, 10, seed=1), add_gaussian_noise(blur(photo, k), 10, seed=1))


# -------------------------------------------------------------------------------------------------- resolution
def test_downsample_antialias_is_pils_bicubic():
    image = load_sample("coffee")[:, :200, :300]
    array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    exact = torch.from_numpy(array).permute(2, 0, 1).double() / 255
    for factor in (2, 4):
        size = (300 // factor, 200 // factor)
        pil = np.asarray(Image.fromarray(array).resize(size, Image.BICUBIC)).astype(np.float64) / 255
        ours = downsample(exact, factor).permute(1, 2, 0).numpy()
        # PIL works in 8-bit fixed point: within 1.5 grey levels everywhere, a third of one on average
        assert np.abs(ours - pil).max() <= 1.5 / 255 and np.abs(ours - pil).mean() < 0.35 / 255
        aliased = downsample(exact, factor, antialias=False).permute(1, 2, 0).numpy()
        assert np.abs(aliased - pil).mean() > 2 * np.abs(ours - pil).mean()


def test_downsample_upsample_shapes_and_checks(photo):
    assert downsample(photo, 2).shape == (3, 48, 64)
    assert downsample(photo[None], 4).shape == (1, 3, 24, 32)
    assert upsample_bicubic(downsample(photo, 2), 2).shape == photo.shape
    flat = torch.full((3, 8, 8), 0.25)
    assert torch.allclose(upsample_bicubic(flat, 2), torch.full((3, 16, 16), 0.25))
    assert crop_to_multiple(photo[:, :95, :127], 4).shape == (3, 92, 124)
    with pytest.raises(ValueError, match="multiples"):
        downsample(photo[:, :95], 2)


# ------------------------------------------------------------------------------------------------- corruption
def test_corruption_masks(photo):
    for kind in ("dirt", "rain"):
        mask = corruption_mask(96, 128, kind, seed=0)
        assert mask.dtype == torch.bool and mask.shape == (96, 128)
        assert torch.equal(mask, corruption_mask(96, 128, kind, seed=0))
        assert 0.02 < mask.float().mean().item() < 0.1
    assert corruption_mask(96, 128, "dirt", count=1, seed=0).sum() <= 49  # one speck of radius <= 4
    mask = corruption_mask(96, 128, "rain", seed=1)
    damaged = corrupt(photo, mask, fill=(1.0, 0.0, 0.0))
    assert torch.equal(damaged[:, mask], torch.tensor([1.0, 0.0, 0.0])[:, None].expand(3, int(mask.sum())))
    assert torch.equal(damaged[:, ~mask], photo[:, ~mask])
    with pytest.raises(ValueError, match="kind"):
        corruption_mask(8, 8, "snow")
    with pytest.raises(ValueError, match="mask"):
        corrupt(photo, mask[:-1])


# ---------------------------------------------------------------------------------------------------- patches
def test_patch_dataset_is_a_fixed_sample_of_crops():
    images = [load_sample("camera")[:, :100, :120], load_sample("coins")[:, :80, :90]]
    ds = PatchDataset(images, lambda x, g: add_gaussian_noise(x, 25, generator=g), patch_size=32, length=20,
                      seed=1, augment=False)
    assert len(ds) == 20
    noisy, clean = ds[7]
    assert noisy.shape == clean.shape == (3, 32, 32)
    again = ds[7]
    assert torch.equal(noisy, again[0]) and torch.equal(clean, again[1])
    assert not torch.equal(clean, PatchDataset(images, lambda x, g: x, 32, 20, seed=2)[7][1])

    def is_crop(patch):  # the clean patch lies somewhere in one of the images
        for image in images:
            windows = image.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, H', W', 32, 32)
            if (windows == patch[:, None, None]).flatten(3).all(-1).all(0).any():
                return True
        return False

    assert all(is_crop(ds[i][1]) for i in range(5))
    assert ((noisy - clean).std() * 255).item() == pytest.approx(25, rel=0.15)


def test_patch_dataset_checks():
    with pytest.raises(ValueError, match="at least 64"):
        PatchDataset([torch.rand(3, 40, 80)], lambda x, g: x, patch_size=64)
    with pytest.raises(TypeError, match="degrade"):
        PatchDataset([torch.rand(3, 40, 80)], None, patch_size=16)
    with pytest.raises(IndexError):
        PatchDataset([torch.rand(3, 40, 80)], lambda x, g: x, patch_size=16, length=3)[3]


# ---------------------------------------------------------------------------------------------------- classical
def test_classical_denoisers_help_and_equal_skimage(photo):
    noisy = add_gaussian_noise(photo, 25, seed=0)
    before = noisy.clone()
    for method in DENOISERS:
        out = classical_denoise(noisy, method, 25)
        assert out.shape == photo.shape and out.dtype == torch.float32
        assert psnr(out, photo) > psnr(noisy, photo) + 2, method
    assert torch.equal(noisy, before)
    expected = sk.denoise_tv_chambolle(noisy.double().permute(1, 2, 0).numpy(), weight=0.9 * 25 / 255,
                                       channel_axis=-1)
    ours = classical_denoise(noisy.double(), "tv", 25)
    np.testing.assert_allclose(ours.permute(1, 2, 0).numpy(), np.clip(expected, 0, 1), atol=1e-12)
    expected = sk.denoise_wavelet(noisy.double().permute(1, 2, 0).numpy(), sigma=25 / 255, wavelet="db1",
                                  convert2ycbcr=True, rescale_sigma=True, channel_axis=-1)
    ours = classical_denoise(noisy.double(), "wavelet", 25)
    np.testing.assert_allclose(ours.permute(1, 2, 0).numpy(), np.clip(expected, 0, 1), atol=1e-12)
    with pytest.raises(ValueError, match="method"):
        classical_denoise(noisy, "bm3d", 25)


def test_classical_deblurrers_help_and_equal_skimage(photo):
    kernel = gaussian_kernel(7, 1.5)
    blurred = blur_and_noise(photo, kernel, 2, seed=0)
    for method in DEBLURRERS:
        out = classical_deblur(blurred, kernel, method, num_iter=10)
        assert out.shape == photo.shape
        assert psnr(out, photo) > psnr(blurred, photo), method
    channel = np.pad(blurred[1].double().numpy(), 7, mode="symmetric")
    expected = sk.wiener(channel, kernel.double().numpy(), 0.01, clip=False)[7:-7, 7:-7]
    ours = classical_deblur(blurred[None].double(), kernel, "wiener")[0, 1].numpy()
    np.testing.assert_allclose(ours, np.clip(expected, 0, 1), atol=1e-12)


# ------------------------------------------------------------------------------------------ recipes and weights
def test_restore_clamps_keeps_mode_and_leaves_inputs(photo):
    net = torch.nn.Conv2d(3, 3, 1)
    torch.nn.init.constant_(net.weight, 0.0)
    torch.nn.init.constant_(net.bias, 2.0)
    net.train()
    images = [photo, photo[:, :50, :61]]
    out = restore(net, images)
    assert [o.shape for o in out] == [i.shape for i in images]
    assert all(bool((o == 1).all()) for o in out) and net.training


def test_train_recipe_is_deterministic_and_saves(tmp_path):
    model_a, losses_a = train_recipe("edsr_x2", steps=2, progress=False, out=tmp_path, checkpoints=[1])
    _, losses_b = train_recipe("edsr_x2", steps=2, progress=False)
    assert losses_a == losses_b and len(losses_a) == 2
    assert {p.name for p in tmp_path.iterdir()} == {"edsr_x2.pt", "edsr_x2_1.pt"}
    assert not model_a.training
    with pytest.raises(ValueError, match="name"):
        train_recipe("bm3d", steps=1)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_shipped_weights_load_with_their_hash(name):
    model = load_pretrained(name)
    assert not model.training and RECIPES[name].sha256
    x = torch.rand(1, 3, 24, 24)
    scale = RECIPES[name].model_args.get("scale", 1)
    assert model(x).shape == (1, 3, 24 * scale, 24 * scale)


def test_docstring_examples():
    import doctest

    import cvlab.restoration

    result = doctest.testmod(cvlab.restoration, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 3


def test_motion_blur_recipe_degrades_with_blur_and_noise(photo):
    from cvlab.restoration import _recipe_degrade

    recipe = RECIPES["dncnn_motion9"]
    assert recipe.degradation == "motion_blur" and recipe.model_args["unshuffle"] == 2
    degraded = _recipe_degrade(recipe)(photo, torch.Generator().manual_seed(0))
    expected = blur_and_noise(photo, motion_kernel(9, 30.0), 2.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(degraded, expected)
