import pytest
import torch
import torch.nn.functional as F

from cvlab.models.fcn import FCN, FCN_VARIANTS, PatchClassifier, SegNet, VGGBackbone, bilinear_upsampler
from cvlab.ops import max_unpool

SMALL = {"widths": (4, 4, 8, 8, 8), "convs": (1, 1, 1, 1, 1)}
SIZES = [(64, 64), (65, 71), (33, 17), (7, 100), (1, 1)]


def test_backbone_has_the_five_strides_and_rounds_up():
    maps = VGGBackbone(3, **SMALL)(torch.rand(1, 3, 65, 40))
    assert [tuple(m.shape[-2:]) for m in maps] == [(33, 20), (17, 10), (9, 5), (5, 3), (3, 2)]
    assert [m.shape[1] for m in maps] == list(SMALL["widths"])


@pytest.mark.parametrize("variant", FCN_VARIANTS)
@pytest.mark.parametrize("size", SIZES)
def test_fcn_output_has_the_input_size(variant, size):
    model = FCN(5, variant, head_width=8, **SMALL)
    assert model(torch.rand(2, 3, *size)).shape == (2, 5, *size)


@pytest.mark.parametrize("size", SIZES)
def test_segnet_output_has_the_input_size(size):
    assert SegNet(5, **SMALL)(torch.rand(2, 3, *size)).shape == (2, 5, *size)


@pytest.mark.parametrize("learnable", [True, False])
@pytest.mark.parametrize("stride", [2, 8, 32])
def test_bilinear_upsampler_starts_as_bilinear_interpolation(stride, learnable):
    z = torch.randn(2, 3, 6, 5)
    up = bilinear_upsampler(3, stride, learnable=learnable)
    with torch.no_grad():
        ours = up(z)
    theirs = F.interpolate(z, scale_factor=stride, mode="bilinear", align_corners=False)
    m = stride // 2  # away from the border, where interpolate clamps and the transposed conv sees zeros
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours[..., m:-m, m:-m], theirs[..., m:-m, m:-m])
    assert up.weight.requires_grad == learnable


def test_bilinear_upsampler_refuses_odd_strides():
    with pytest.raises(ValueError, match="stride"):
        bilinear_upsampler(3, 3)


def test_skip_scores_start_at_zero_so_8s_begins_as_upsampled_coarse_scores():
    torch.manual_seed(0)
    model = FCN(5, "8s", head_width=8, **SMALL).eval()
    x = torch.rand(2, 3, 70, 45)
    with torch.no_grad():
        maps = model.backbone(x)
        score = model.score_fr(model.head(maps[4]))  # stride 32
        for up, skip in zip(model.up2, (maps[3], maps[2]), strict=True):
            score = up(score)[..., : skip.shape[-2], : skip.shape[-1]]  # no skip term: it is zero at first
        expected = model.up_final(score)[..., :70, :45]
        torch.testing.assert_close(model(x), expected)


def test_8s_skip_layers_receive_gradient_and_the_input_is_untouched():
    model = FCN(4, "8s", head_width=8, **SMALL)
    x = torch.rand(2, 3, 37, 45)
    before = x.clone()
    F.cross_entropy(model(x), torch.randint(0, 4, (2, 37, 45))).backward()
    assert all(layer.weight.grad.abs().sum() > 0 for layer in model.score_pool)
    assert torch.equal(x, before)


def test_segnet_unpools_like_cvlab_max_unpool_on_odd_sizes():
    backbone = VGGBackbone(3, **SMALL)
    maps, indices, sizes = backbone.forward_with_indices(torch.rand(1, 3, 33, 21))
    assert [tuple(s) for s in sizes] == [(33, 21), (17, 11), (9, 6), (5, 3), (3, 2)]
    for m, i, s in zip(maps, indices, sizes, strict=True):
        torch.testing.assert_close(F.max_unpool2d(m, i, 2, output_size=s), max_unpool(m, i, 2, output_size=s))


def test_float64_and_bad_arguments():
    model = FCN(3, "16s", head_width=8, **SMALL).double().eval()
    assert model(torch.rand(1, 3, 20, 20, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(ValueError, match="variant"):
        FCN(3, "4s")
    with pytest.raises(ValueError, match="widths"):
        FCN(3, widths=(4, 4))
    with pytest.raises(TypeError, match="x"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.long))


def test_patch_classifier_scores_one_patch_or_every_window():
    model = PatchClassifier(5, 9, widths=(4, 4), hidden=8)
    assert model(torch.rand(3, 3, 9, 9)).shape == (3, 5, 1, 1)
    assert model(torch.rand(2, 3, 20, 13)).shape == (2, 5, 12, 5)
    with pytest.raises(ValueError, match="patch"):
        PatchClassifier(5, 8, widths=(4, 4))
    with pytest.raises(ValueError, match="patch"):
        PatchClassifier(5, 3, widths=(4, 4))
    with pytest.raises(ValueError, match="x: expected H, W >= patch"):
        model(torch.rand(1, 3, 8, 30))
