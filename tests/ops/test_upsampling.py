"""The upsampling zoo against F.interpolate / F.max_unpool2d / F.conv_transpose2d, plus hand-worked cases."""

import pytest
import torch
import torch.nn.functional as F

from cvlab.ops import bed_of_nails, bilinear_kernel, max_unpool, upsample_bilinear, upsample_nearest

X = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)  # [[1, 2], [3, 4]]


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("scale", [1, 2, 3, (2, 3)])
def test_upsample_nearest_equals_interpolate(scale):
    x = _randn(2, 3, 4, 5)
    expected = F.interpolate(x, scale_factor=scale, mode="nearest")
    assert torch.equal(upsample_nearest(x, scale), expected)


def test_bed_of_nails_hand_worked_and_as_transposed_conv():
    expected = torch.tensor([[1.0, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    assert torch.equal(bed_of_nails(X, 2)[0, 0], expected)
    # the same as a depthwise transposed convolution whose kernel is 1 at its top-left tap
    x = _randn(2, 3, 3, 4)
    nail = torch.zeros(3, 1, 2, 3)
    nail[:, :, 0, 0] = 1
    assert torch.equal(bed_of_nails(x, (2, 3)), F.conv_transpose2d(x, nail, stride=(2, 3), groups=3))


@pytest.mark.parametrize(
    "kernel_size, stride, padding, size",
    [
        (2, None, 0, (8, 8)),
        (2, 2, 0, (7, 9)),  # odd sizes: output_size needed to get back
        (3, 2, 1, (8, 9)),  # overlapping windows
        (3, 1, 1, (5, 6)),  # heavily overlapping: one input pixel is the max of several windows
        ((2, 3), (1, 2), (1, 0), (6, 7)),
    ],
)
def test_max_unpool_equals_torch(kernel_size, stride, padding, size):
    x = _randn(2, 3, *size)
    pooled, indices = F.max_pool2d(x, kernel_size, stride, padding, return_indices=True)
    expected = F.max_unpool2d(pooled, indices, kernel_size, stride, padding, output_size=x.shape)
    got = max_unpool(pooled, indices, kernel_size, stride, padding, output_size=x.shape)
    assert torch.equal(got, expected)
    got = max_unpool(pooled, indices, kernel_size, stride, padding, output_size=size)
    assert torch.equal(got, expected)
    # every kept value sits where it came from
    assert torch.equal(got[got != 0], x[got != 0])


def test_max_unpool_hand_worked_and_default_size():
    x = torch.tensor([[[[1.0, 5, 2, 0], [3, 4, 8, 7], [0, 0, 1, 1], [9, 0, 1, 2]]]])
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    expected = torch.tensor([[0.0, 5, 0, 0], [0, 0, 8, 0], [0, 0, 0, 0], [9, 0, 0, 2]])
    assert torch.equal(max_unpool(pooled, indices, 2)[0, 0], expected)
    pooled, indices = F.max_pool2d(x[..., :6], 2, return_indices=True)
    assert torch.equal(max_unpool(pooled, indices, 2), F.max_unpool2d(pooled, indices, 2))


SIZES = [{"size": (7, 9)}, {"size": (3, 2)}, {"size": 1}, {"scale_factor": 2}, {"scale_factor": 1.7},
         {"scale_factor": (0.6, 2.5)}, {"scale_factor": 0.3}, {"size": (5, 6)}]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("kwargs", SIZES)
def test_upsample_bilinear_equals_interpolate(kwargs, align_corners, dtype):
    x = _randn(2, 3, 5, 6, dtype=dtype)
    expected = F.interpolate(x, mode="bilinear", align_corners=align_corners, **kwargs)
    got = upsample_bilinear(x, align_corners=align_corners, **kwargs)
    assert got.shape == expected.shape and got.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


def test_upsample_bilinear_hand_worked():
    # align_corners=True on 2 -> 3 puts the middle output exactly between the two inputs
    assert torch.equal(upsample_bilinear(X, size=(2, 3), align_corners=True)[0, 0],
                       torch.tensor([[1.0, 1.5, 2.0], [3.0, 3.5, 4.0]]))
    # align_corners=False on 2 -> 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped neighbour)
    row = upsample_bilinear(X[..., :1, :], size=(1, 4))[0, 0, 0]
    assert torch.equal(row, torch.tensor([1.0, 1.25, 1.75, 2.0]))


def test_bilinear_kernel_values_by_hand():
    for k, tent in [(4, [0.25, 0.75, 0.75, 0.25]), (3, [0.5, 1.0, 0.5]), (2, [0.5, 0.5])]:
        tent = torch.tensor(tent)
        torch.testing.assert_close(bilinear_kernel(1, k)[0, 0], torch.outer(tent, tent))
    assert torch.equal(bilinear_kernel(1, 1), torch.ones(1, 1, 1, 1))
    w = bilinear_kernel(3, 4, dtype=torch.float64)
    assert w.shape == (3, 3, 4, 4) and w.dtype == torch.float64
    off_diagonal = ~torch.eye(3, dtype=torch.bool)
    assert torch.all(w[off_diagonal] == 0)


@pytest.mark.parametrize("s", [2, 4])
def test_bilinear_kernel_upsamples_like_interpolate_in_the_interior(s):
    x = _randn(2, 3, 6, 5, dtype=torch.float64)
    got = F.conv_transpose2d(x, bilinear_kernel(3, 2 * s, dtype=torch.float64), stride=s, padding=s // 2)
    expected = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    assert got.shape == expected.shape
    # only a border of s/2 pixels differs (there interpolate clamps, the kernel sees zero padding)
    m = s // 2
    torch.testing.assert_close(got[..., m:-m, m:-m], expected[..., m:-m, m:-m])
    assert not torch.allclose(got, expected)


def test_runs_on_cuda_when_available():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = _randn(1, 2, 4, 6).cuda()
    torch.testing.assert_close(upsample_bilinear(x, scale_factor=1.5),
                               F.interpolate(x, scale_factor=1.5, mode="bilinear"))
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    pooled, indices = F.max_pool2d(x[..., :6], 2, return_indices=True)
    assert torch.equal(max_unpool(pooled, indices, 2), F.max_unpool2d(pooled, indices, 2))
    assert upsample_nearest(x, 2).device == bed_of_nails(x, 2).device == x.device


@pytest.mark.parametrize("fn", [upsample_nearest, bed_of_nails])
@pytest.mark.parametrize(
    "x, scale, error, name",
    [(X[0], 2, ValueError, "input"), (X.long(), 2, TypeError, "input"), (X, 0, ValueError, "scale_factor"),
     (X, 1.5, TypeError, "scale_factor"), (X, (2, -1), ValueError, "scale_factor"),
     ([[1.0]], 2, TypeError, "input")],
)
def test_nearest_and_nails_bad_input(fn, x, scale, error, name):
    with pytest.raises(error, match=f"^{name}:"):
        fn(x, scale)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"input": X[0, 0]}, ValueError, "input"),
        ({"indices": torch.zeros(1, 1, 2, 2)}, TypeError, "indices"),
        ({"input": X[0]}, ValueError, "indices"),
        ({"indices": torch.zeros(1, 1, 2, 1, dtype=torch.long)}, ValueError, "indices"),
        ({"indices": torch.full((1, 1, 2, 2), 16)}, ValueError, "indices"),
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"stride": 0}, ValueError, "stride"),
        ({"output_size": (6, 4)}, ValueError, "output_size"),
        ({"output_size": 4}, ValueError, "output_size"),
    ],
)
def test_max_unpool_bad_input(kwargs, error, name):
    args = {"input": X, "indices": torch.zeros(1, 1, 2, 2, dtype=torch.long), "kernel_size": 2} | kwargs
    with pytest.raises(error, match=f"^{name}:"):
        max_unpool(**args)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"input": X[0], "size": 4}, ValueError, "input"),
        ({"input": X.int(), "size": 4}, TypeError, "input"),
        ({}, ValueError, "size, scale_factor"),
        ({"size": 4, "scale_factor": 2}, ValueError, "size, scale_factor"),
        ({"size": 0}, ValueError, "size"),
        ({"scale_factor": -2}, ValueError, "scale_factor"),
        ({"scale_factor": (2, 2, 2)}, ValueError, "scale_factor"),
        ({"scale_factor": 0.1}, ValueError, "scale_factor"),
    ],
)
def test_upsample_bilinear_bad_input(kwargs, error, name):
    with pytest.raises(error, match=f"^{name}:"):
        upsample_bilinear(**({"input": X} | kwargs))


def test_bilinear_kernel_bad_input():
    with pytest.raises(ValueError, match="^channels:"):
        bilinear_kernel(0, 4)
    with pytest.raises(TypeError, match="^k:"):
        bilinear_kernel(2, 4.0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("align_corners", [False, True])
def test_upsample_bilinear_low_precision_large_images_as_accurate_as_torch(dtype, align_corners):
    # source coordinates up to ~300 need more than bfloat16's 8 significant bits
    x = torch.rand(1, 2, 150, 160, generator=torch.Generator().manual_seed(0))
    exact = F.interpolate(x.double(), size=(300, 320), mode="bilinear", align_corners=align_corners)
    theirs = F.interpolate(x.to(dtype), size=(300, 320), mode="bilinear", align_corners=align_corners)
    got = upsample_bilinear(x.to(dtype), size=(300, 320), align_corners=align_corners)
    assert got.dtype == dtype
    their_error = float((theirs.double() - exact).abs().max())
    assert float((got.double() - exact).abs().max()) <= 2 * their_error + 1e-3


@pytest.mark.parametrize("kwargs", [{"size": (7, 9)}, {"scale_factor": 2}, {"scale_factor": 0.5}])
def test_upsample_bilinear_keeps_channels_last(kwargs):
    x = _randn(2, 3, 6, 8).contiguous(memory_format=torch.channels_last)
    expected = F.interpolate(x, mode="bilinear", **kwargs)
    got = upsample_bilinear(x, **kwargs)
    assert got.is_contiguous(memory_format=torch.channels_last) == expected.is_contiguous(
        memory_format=torch.channels_last) is True
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("fn", [upsample_nearest, bed_of_nails, upsample_bilinear])
def test_every_upsampler_takes_torchs_scale_factor_keyword(fn):
    x = _randn(1, 2, 3, 4)
    assert fn(x, scale_factor=2).shape == F.interpolate(x, scale_factor=2).shape == (1, 2, 6, 8)


def test_max_unpool_accepts_unbatched_input_as_torch_does():
    x = _randn(3, 6, 7)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)  # (C, h, w)
    expected = F.max_unpool2d(pooled, indices, 2, output_size=x.shape[-2:])
    assert expected.shape == (3, 6, 7)
    assert torch.equal(max_unpool(pooled, indices, 2, output_size=x.shape[-2:]), expected)
    assert torch.equal(max_unpool(pooled, indices, 2, output_size=x.shape), expected)
    pooled, indices = F.max_pool2d(x[..., :6], 2, return_indices=True)
    assert torch.equal(max_unpool(pooled, indices, 2), F.max_unpool2d(pooled, indices, 2))
