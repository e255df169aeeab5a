"""Explanation helpers: kernel copies, overlap counts and the checkerboard measure, against torch."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cvlab.ops.explain import (  # noqa: E402
    draw_copies_1d,
    draw_transposed_conv,
    kernel_copies,
    overlap_count,
    period_energy,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_kernel_copies_sum_to_the_transposed_convolution():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=g, dtype=torch.float64)
    w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    copies = kernel_copies(x, w, stride=2, padding=(1, 0), output_padding=1, dilation=(1, 2))
    expected = F.conv_transpose2d(x[None, None], w[None, None], stride=2, padding=(1, 0), output_padding=1,
                                  dilation=(1, 2))[0, 0]
    assert copies.shape == (3, 4, *expected.shape)
    torch.testing.assert_close(copies.sum((0, 1)), expected)


def test_kernel_copies_hand_worked_1d():
    # two inputs (a, b) = (2, -1), kernel (1, 2, 3), stride 2: the copies overlap on output 2
    copies = kernel_copies(torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 2.0, 3.0]]), stride=(1, 2))
    expected = torch.tensor([[2.0, 4.0, 6.0, 0.0, 0.0], [0.0, 0.0, -1.0, -2.0, -3.0]])
    torch.testing.assert_close(copies[0, :, 0], expected)


@pytest.mark.parametrize(
    "k, s, p, op, d", [(3, 2, 0, 0, 1), (4, 2, 1, 0, 1), (3, 2, 1, 1, 1), ((3, 2), (2, 1), 1, 0, 2)]
)
def test_overlap_count_equals_transposed_conv_of_ones(k, s, p, op, d):
    kernel = torch.ones(1, 1, *((k, k) if isinstance(k, int) else k))
    expected = F.conv_transpose2d(torch.ones(1, 1, 4, 5), kernel, None, s, p, op, 1, d)
    counts = overlap_count((4, 5), k, s, p, op, d)
    assert counts.dtype == torch.int64
    assert torch.equal(counts, expected[0, 0].long())


def test_overlap_count_hand_worked():
    assert overlap_count((1, 3), (1, 3), stride=2).tolist() == [[1, 1, 2, 1, 2, 1, 1]]
    # k=4, s=2 overlaps evenly inside (every pixel covered twice per axis), k=3, s=2 does not
    assert overlap_count(4, 4, 2, padding=1)[1:-1, 1:-1].unique().tolist() == [4]
    assert overlap_count(4, 3, 2, padding=1, output_padding=1)[1:-1, 1:-1].unique().tolist() == [1, 2, 4]


def test_period_energy_matches_the_fourier_definition():
    x = torch.randn(3, 2, 12, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for period in (2, 4):
        power = torch.fft.fft2(x).abs() ** 2
        power[..., 0, 0] = 0  # the mean is not a pattern
        on_grid = power[..., :: 12 // period, :: 8 // period].sum((-2, -1))
        torch.testing.assert_close(period_energy(x, period), on_grid / power.sum((-2, -1)))


def test_period_energy_extremes():
    board = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(4, 4)
    torch.testing.assert_close(period_energy(board), torch.tensor(1.0))
    wave = torch.cos(torch.arange(16.0) * torch.pi / 4).repeat(16, 1)  # period 8: nothing at period 2
    assert period_energy(wave) < 1e-6
    ramp = torch.arange(8.0).repeat(8, 1)  # even/odd column means differ by 1: (1/2)^2 / var = 0.25 / 5.25
    torch.testing.assert_close(period_energy(ramp), torch.tensor(0.25 / 5.25))


def test_drawings_return_axes():
    ax = draw_copies_1d(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 2.0, 3.0]), stride=2)
    assert len(ax.get_yticklabels()) == 3
    ax = draw_transposed_conv(2, 3, stride=2, padding=1, output_padding=1)
    assert "2x2 input -> 4x4 output" in ax.get_title()


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="^input:"):
        kernel_copies(torch.zeros(1, 2, 2), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="^kernel:"):
        kernel_copies(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="^input_size:"):
        overlap_count(0, 3)
    with pytest.raises(ValueError, match="^output_padding:"):
        overlap_count(3, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match="^input:"):
        period_energy(torch.zeros(5, 6))
    with pytest.raises(ValueError, match="^period:"):
        period_energy(torch.zeros(4, 4), period=1)
    with pytest.raises(ValueError, match="^output_padding:"):
        draw_transposed_conv(3, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="^input:"):
        draw_copies_1d(torch.zeros(2, 2), torch.zeros(3))
