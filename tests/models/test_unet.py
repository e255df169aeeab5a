import pytest
import torch

from cvlab.models.unet import EncoderDecoder, UNet, unet_valid_sizes

SIZES = [(64, 64), (65, 71), (33, 17), (7, 100), (1, 1), (2, 3)]


@pytest.mark.parametrize("up", ["transpose", "bilinear"])
@pytest.mark.parametrize("size", SIZES)
def test_unet_output_has_the_input_size(up, size):
    model = UNet(3, 5, depth=3, width=4, up=up)
    assert model(torch.rand(2, 3, *size)).shape == (2, 5, *size)


def test_no_skip_twin_has_the_same_layers_minus_the_concatenated_inputs():
    with_skips, without = UNet(3, 5, 3, 4), EncoderDecoder(3, 5, 3, 4)
    assert without(torch.rand(1, 3, 21, 30)).shape == (1, 5, 21, 30)
    assert [n for n, _ in with_skips.named_parameters()] == [n for n, _ in without.named_parameters()]
    in_ch = [(b[0].in_channels, c[0].in_channels) for b, c in zip(with_skips.decoder, without.decoder, strict=True)]
    assert all(a == 2 * b for a, b in in_ch)


def test_skips_carry_the_fine_features():
    """Zeroing the bottleneck changes nothing a skip-less decoder could use; U-Net still sees the image."""
    torch.manual_seed(0)
    for model, sees_detail in ((UNet(1, 1, 2, 2), True), (EncoderDecoder(1, 1, 2, 2), False)):
        model.eval()
        x = torch.rand(1, 1, 16, 16)
        y = x.clone()
        y[..., 5, 5] += 1.0  # a one-pixel change
        with torch.no_grad():
            for block in model.encoder[-1]:
                if isinstance(block, torch.nn.BatchNorm2d):
                    block.weight.zero_(), block.bias.zero_()  # the bottleneck outputs zeros
            changed = bool((model(x) - model(y)).abs().max() > 0)
        assert changed == sees_detail


def test_valid_size_chain_is_the_papers():
    sizes = [s.size for s in unet_valid_sizes(572) if not s.op.startswith("crop")]
    assert sizes == [572, 570, 568, 284, 282, 280, 140, 138, 136, 68, 66, 64, 32, 30, 28,
                     56, 54, 52, 104, 102, 100, 200, 198, 196, 392, 390, 388, 388]
    crops = [s.op for s in unet_valid_sizes(572) if s.op.startswith("crop")]
    assert crops == ["crop skip 64 -> 56", "crop skip 136 -> 104", "crop skip 280 -> 200", "crop skip 568 -> 392"]


@pytest.mark.parametrize("size, depth", [(572, 4), (188, 4), (92, 3), (44, 2)])
def test_valid_size_chain_matches_the_valid_network(size, depth):
    model = UNet(1, 2, depth, 1, padding="valid")
    with torch.no_grad():
        out = model(torch.rand(1, 1, size, size))
    assert out.shape[-1] == unet_valid_sizes(size, depth)[-1].size


def test_valid_size_chain_refuses_odd_pools_and_vanishing_maps():
    with pytest.raises(ValueError, match="odd"):
        unet_valid_sizes(574)
    with pytest.raises(ValueError, match="too small"):
        unet_valid_sizes(60)


def test_bad_arguments():
    with pytest.raises(ValueError, match="up"):
        UNet(up="nearest")
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    with pytest.raises(ValueError, match="padding"):
        UNet(padding="full")


def test_residual_unet_adds_its_input():
    """``residual=True``: output = input + head(...), and the untrained network is the identity (any size)."""
    torch.manual_seed(0)
    model = UNet(3, 3, depth=2, width=4, residual=True).eval()
    x = torch.rand(2, 3, 19, 30)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x)
        torch.nn.init.normal_(model.head.weight)
        plain = UNet(3, 3, depth=2, width=4).eval()
        plain.load_state_dict(model.state_dict())
        assert (plain(x) - x).abs().max() > 0.1
        torch.testing.assert_close(model(x), x + plain(x))


def test_residual_unet_needs_matching_channels_and_same_padding():
    with pytest.raises(ValueError, match="residual.*num_classes=7, in_ch=3"):
        UNet(3, 7, residual=True)
    with pytest.raises(ValueError, match="residual.*padding='valid'"):
        UNet(3, 3, residual=True, padding="valid")
