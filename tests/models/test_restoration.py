import pytest
import torch
import torch.nn.functional as F

from cvlab.models import EDSR, DnCNN
from cvlab.models.restoration import ResidualBlock


def _image(shape=(2, 3, 20, 24), dtype=torch.float32):
    return torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)


def test_dncnn_shapes_dtype_and_residual_meaning():
    x = _image()
    for residual in (True, False):
        net = DnCNN(features=8, depth=4, residual=residual)
        assert net(x).shape == x.shape
        torch.nn.init.zeros_(net.body[-1].weight)
        torch.nn.init.zeros_(net.body[-1].bias)
        # a silent last layer: the residual net passes the input through, the direct one outputs zeros
        assert torch.equal(net(x), x if residual else torch.zeros_like(x))
    assert DnCNN(features=8, depth=3).double()(x.double()).dtype == torch.float64
    assert DnCNN(channels=1, features=8, depth=3)(x[:, :1]).shape == (2, 1, 20, 24)


def test_dncnn_receptive_field_is_2_depth_plus_1():
    net = DnCNN(features=4, depth=5)
    x = torch.zeros(1, 3, 31, 31, requires_grad=True)
    net(x)[0, 0, 15, 15].backward()
    rows = x.grad.abs().sum((0, 1, 3)).nonzero().flatten()
    assert rows.min().item() == 15 - 5 and rows.max().item() == 15 + 5


def test_dncnn_batch_norm_variant_and_checks():
    net = DnCNN(features=8, depth=4, batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 2
    with pytest.raises(ValueError, match="3 channels"):
        net(_image((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="depth"):
        DnCNN(depth=1)


def test_edsr_shapes_pixel_shuffle_and_bicubic_start():
    lr = _image((2, 3, 10, 12))
    for scale in (2, 3, 4):
        net = EDSR(scale=scale, features=8, blocks=2)
        assert net(lr).shape == (2, 3, 10 * scale, 12 * scale)
        shuffles = [m.upscale_factor for m in net.modules() if isinstance(m, torch.nn.PixelShuffle)]
        assert shuffles == ([2, 2] if scale == 4 else [scale])
        assert not any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.ConvTranspose2d) for m in net.modules())
    net = EDSR(scale=2, features=8, blocks=2)
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    bicubic = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(net(lr), bicubic)  # with the skip, a silent tail is plain bicubic
    assert EDSR(features=8, blocks=1, bicubic_skip=False).double()(lr.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="scale"):
        EDSR(scale=8)


def test_residual_block_adds_scaled_residual():
    block = ResidualBlock(4, res_scale=0.1)
    x = _image((1, 4, 6, 6))
    residual = block.conv2(F.relu(block.conv1(x)))
    assert torch.allclose(block(x), x + 0.1 * residual)


def test_a_few_steps_lower_the_denoising_loss():
    torch.manual_seed(0)
    clean = _image((8, 3, 16, 16))
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    net = DnCNN(features=8, depth=4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mse_loss(net(noisy), clean)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_dncnn_unshuffle_folds_odd_sizes_and_stays_residual():
    net = DnCNN(features=8, depth=3, unshuffle=2)
    assert net.body[0].in_channels == 12 and net.body[-1].out_channels == 12
    x = _image((1, 3, 15, 22))
    assert net(x).shape == x.shape
    torch.nn.init.zeros_(net.body[-1].weight)
    torch.nn.init.zeros_(net.body[-1].bias)
    assert torch.equal(net(x), x)
