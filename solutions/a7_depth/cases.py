"""Reference cases of A7 "depth" -- built from the solution notebook with ``python -m cvlab.grading build a7_depth``
(visible ones ship with cvlab, hidden ones stay here).

Masked-out pixels hold large garbage values in every case, so a fit or a score that reads them is far off. The
batches give their images different numbers of valid pixels, so pooling pixels and averaging images disagree;
the depth-metric cases put ratios exactly at 1.25, 1.25^2 and 1.25^3 (all exact in binary), so ``<=`` and ``<``
disagree; the intrinsics have f_x != f_y and an off-centre principal point, and images are non-square, so swapped
axes, a forgotten principal point or a forgotten half-pixel are caught.
"""

import torch

from cvlab.grading.build import case, function_test

g = torch.Generator().manual_seed(7)

CVLAB_DEPTH = [
    "cvlab.losses.compute_scale_and_shift", "cvlab.losses.depth.compute_scale_and_shift",
    "cvlab.losses.ssi_loss", "cvlab.losses.depth.ssi_loss", "cvlab.losses.SSILoss.forward",
    "cvlab.losses.silog_loss", "cvlab.losses.depth.silog_loss", "cvlab.losses.SILogLoss.forward",
    "cvlab.metrics.depth_metrics", "cvlab.metrics.depth.depth_metrics", "cvlab.metrics.align_disparity",
    "cvlab.geometry.backproject", "cvlab.geometry.depth_to_points", "cvlab.geometry.pixel_rays",
]


def rand(*shape, low=0.0, high=1.0, dtype=torch.float32):
    return torch.rand(*shape, generator=g, dtype=dtype) * (high - low) + low


def masked(shape, valid_counts, dtype=torch.float32, low=0.5, high=4.0):
    """Random values on ``valid_counts[b]`` random pixels of image b, garbage (100-1000) elsewhere, and the mask."""
    b, h, w = shape
    mask = torch.zeros(shape, dtype=torch.bool)
    for i, n in enumerate(valid_counts):
        mask[i].view(-1)[torch.randperm(h * w, generator=g)[:n]] = True
    values = rand(*shape, low=low, high=high, dtype=dtype)
    garbage = rand(*shape, low=100.0, high=1000.0, dtype=dtype)
    return torch.where(mask, values, garbage), mask


def fit_case(shape, valid_counts, *, dtype=torch.float32, target_fn=None, constant=None, description):
    """pred random (or ``constant`` on valid pixels), target = target_fn(pred) + noise on valid pixels."""
    pred, mask = masked(shape, valid_counts, dtype)
    if constant is not None:
        pred = torch.where(mask, torch.full_like(pred, constant), pred)
    target_fn = target_fn or (lambda p: 2.5 * p - 0.75)
    target = target_fn(pred) + 0.1 * rand(*shape, dtype=dtype)
    garbage, _ = masked(shape, [0] * shape[0], dtype)
    target = torch.where(mask, target, garbage)
    return case(pred, target, mask, description=description)


def positive_case(shape, valid_counts, *, dtype=torch.float32, lam=None, description):
    """Positive depths on valid pixels, zeros elsewhere (log would blow up there)."""
    gt, mask = masked(shape, valid_counts, dtype)
    pred = gt * torch.exp(0.3 * torch.randn(shape, generator=g, dtype=dtype))
    zero = torch.zeros((), dtype=dtype)
    pred, gt = torch.where(mask, pred, zero), torch.where(mask, gt, zero)
    kwargs = {} if lam is None else {"lam": lam}
    return case(pred, gt, mask, **kwargs, description=description)


def metric_case(shape, valid_counts, *, dtype=torch.float32, exact=True, description):
    """Positive depths; where ``exact``, a quarter of the valid pixels sit exactly at ratios 1.25^k (either way)."""
    gt, mask = masked(shape, valid_counts, dtype, low=1.0, high=8.0)
    pred = gt * torch.exp(0.25 * torch.randn(shape, generator=g, dtype=dtype))
    if exact:
        base = torch.randint(1, 9, shape, generator=g).to(dtype)  # integers: base * 1.25^k is exact
        factor = torch.tensor([1.25, 1.5625, 1.953125], dtype=dtype)[torch.randint(3, shape, generator=g)]
        at = mask & (torch.rand(shape, generator=g) < 0.25)
        over = torch.rand(shape, generator=g) < 0.5  # the prediction too far, or too near
        pred = torch.where(at, torch.where(over, base * factor, base), pred)
        gt = torch.where(at, torch.where(over, base, base * factor), gt)
    return case(pred, gt, mask, description=description)


def intrinsics(fx, fy, cx, cy, dtype=torch.float32):
    return torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=dtype)


TESTS = {
    "compute_scale_and_shift": function_test(
        forbid=CVLAB_DEPTH,
        visible=[
            case(torch.tensor([[[0.0, 1.0, 2.0, 9.0]]]), torch.tensor([[[1.0, 1.0, 4.0, -9.0]]]),
                 torch.tensor([[[True, True, True, False]]]),
                 description="the worked example: p = (0, 1, 2), y = (1, 1, 4), one masked-out pixel"),
            fit_case((2, 5, 6), [20, 24], description="a batch of 2, 5x6, target about 2.5 p - 0.75"),
        ],
        hidden=[
            fit_case((2, 4, 4), [2, 3], description="only 2 and 3 valid pixels"),
            fit_case((3, 4, 5), [12, 0, 7], description="a batch of 3 whose middle image has no valid pixel"),
            fit_case((2, 4, 4), [9, 6], constant=0.5,
                     description="constant valid predictions (a degenerate system): scale 0, shift = mean target"),
            fit_case((2, 3, 3), [1, 5], description="one valid pixel in the first image (degenerate)"),
            fit_case((2, 6, 5), [25, 11], target_fn=lambda p: 1 / p,
                     description="a depth-like prediction fitted to a disparity target: negative scales"),
            fit_case((3, 7, 3), [15, 21, 4], dtype=torch.float64, target_fn=lambda p: -0.3 * p + 4.0,
                     description="float64, non-square 7x3, different valid counts"),
        ],
    ),
    "ssi_loss": function_test(
        forbid=CVLAB_DEPTH,
        visible=[
            case(torch.tensor([[[0.0, 1.0, 2.0, 9.0]]]), torch.tensor([[[1.0, 1.0, 4.0, -9.0]]]),
                 torch.tensor([[[True, True, True, False]]]), description="the worked example: 0.25"),
            fit_case((2, 5, 6), [20, 24], description="a batch of 2, 5x6"),
        ],
        hidden=[
            fit_case((3, 6, 6), [30, 4, 12], description="a batch of 3 with 30, 4 and 12 valid pixels"),
            fit_case((3, 4, 5), [12, 0, 7], description="a batch of 3 whose middle image has no valid pixel"),
            fit_case((2, 4, 4), [9, 13], constant=0.5, description="constant valid predictions in both images"),
            fit_case((2, 6, 5), [25, 11], target_fn=lambda p: 1 / p,
                     description="a depth-like prediction fitted to a disparity target"),
            fit_case((2, 3, 8), [20, 9], dtype=torch.float64, description="float64, non-square 3x8"),
            fit_case((1, 3, 3), [0], description="no valid pixel at all: 0"),
        ],
    ),
    "silog_loss": function_test(
        forbid=CVLAB_DEPTH,
        visible=[
            case(torch.tensor([[[2.0, 1.0]]]), torch.ones(1, 1, 2), torch.ones(1, 1, 2, dtype=torch.bool),
                 description="the worked example: d = (log 2, 0), lam = 0.5"),
            positive_case((2, 5, 6), [20, 24], description="a batch of 2, 5x6, default lam = 0.5"),
        ],
        hidden=[
            positive_case((2, 5, 5), [20, 6], lam=0.0, description="lam = 0: the mean squared log error"),
            positive_case((2, 5, 5), [20, 6], lam=1.0, description="lam = 1: the biased variance of d"),
            positive_case((3, 6, 4), [24, 3, 10], lam=0.85, description="lam = 0.85, 24, 3 and 10 valid pixels"),
            positive_case((3, 4, 4), [10, 0, 5], description="a batch of 3 whose middle image has no valid pixel"),
            positive_case((2, 3, 7), [15, 12], lam=0.5, dtype=torch.float64, description="float64, non-square 3x7"),
        ],
    ),
    "depth_metrics": function_test(
        forbid=CVLAB_DEPTH,
        visible=[
            case(torch.tensor([[[1.25, 2.0, 2.0, 1.0]]]), torch.tensor([[[1.0, 2.0, 4.0, 1.0]]]),
                 torch.ones(1, 1, 4, dtype=torch.bool), description="the worked example, a ratio exactly 1.25"),
            metric_case((2, 5, 6), [22, 27], exact=False, description="a batch of 2, 5x6"),
        ],
        hidden=[
            metric_case((2, 6, 6), [30, 25], description="ratios exactly 1.25, 1.5625 and 1.953125, either way round"),
            metric_case((3, 6, 5), [28, 3, 12], description="a batch of 3 with 28, 3 and 12 valid pixels"),
            metric_case((2, 4, 9), [30, 18], dtype=torch.float64, description="float64, non-square 4x9"),
            metric_case((1, 5, 5), [20], exact=False, description="one image, 20 valid pixels"),
        ],
    ),
    "backproject": function_test(
        forbid=CVLAB_DEPTH,
        visible=[
            case(torch.full((1, 2), 2.0), intrinsics(2.0, 4.0, 1.0, 0.5), description="the worked example"),
            case(rand(4, 5, low=1.0, high=5.0), intrinsics(60.0, 45.0, 2.5, 2.0),
                 description="4x5, f_x = 60, f_y = 45, principal point at the centre"),
        ],
        hidden=[
            case(rand(3, 7, low=1.0, high=5.0), intrinsics(50.0, 40.0, 2.0, 1.0),
                 description="non-square 3x7, off-centre principal point (2, 1)"),
            case(rand(6, 2, low=0.5, high=9.0), intrinsics(30.0, 70.0, 0.3, 4.7),
                 description="tall 6x2, f_x = 30, f_y = 70, principal point (0.3, 4.7)"),
            case(rand(5, 4, low=1.0, high=3.0, dtype=torch.float64), intrinsics(80.0, 80.0, 1.0, 3.0, torch.float64),
                 description="float64, 5x4, principal point (1, 3)"),
            case(torch.tensor([[3.0]]), intrinsics(10.0, 20.0, 5.0, -2.0), description="a single pixel"),
            case(torch.where(rand(4, 6) > 0.5, rand(4, 6, low=1.0, high=4.0), torch.zeros(())),
                 intrinsics(40.0, 35.0, 3.5, 1.5), description="4x6 with zero-depth (invalid) pixels"),
        ],
    ),
}
