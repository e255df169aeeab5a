"""Reference cases of A5 "RoI align" -- built from the solution notebook with ``python -m cvlab.grading build
a5_roi_align`` (visible ones ship with cvlab, hidden ones stay here). ``tests/grading/test_a5_roi_align.py`` checks
every stored answer against torchvision's compiled ``roi_align`` / ``roi_pool`` / ``nms`` and cvlab's own ops.

The hidden cases are where RoI pooling goes wrong: boxes crossing the border or wholly outside it (zeroed, not
clamped, samples), coordinates that round at exact halves, spatial_scale < 1, fixed and adaptive sampling (grids of
1 to 5 samples), batches of images with unordered batch indices, non-square outputs and maps, degenerate boxes
(zero and negative size), mask bins exactly half covered (>= vs >), NMS ties and IoU exactly at the threshold, chains
of overlaps, float64. Box coordinates are multiples of 1/8 where rounding decides (RoIPool, NMS) and mask boxes put
every sample on a multiple of 1/32 (`on_grid`), so every sane order of floating-point operations gives the same
answer; random NMS scenes are redrawn until no IoU lies within 1e-3 of the threshold.

Two limits of torchvision's compiled kernels the cases stay clear of: RoIPool computes bin edges in the input's
float precision, so at 57 feature pixels and 7 bins (float32) its last bin reaches one pixel past the RoI, where the
exercise's exact formula does not (every RoI here is shorter than 20 feature pixels); and RoIAlign with
``aligned=True`` and adaptive sampling fails on a box of negative size ("cannot create std::vector larger than
max_size()"), so negative sizes are tested with fixed sampling only.
"""

import torch

from cvlab.grading.build import case, function_test
from cvlab.ops import box_iou

g = torch.Generator().manual_seed(5)

# whole modules: their public functions and every private helper, present and future
_CVLAB = ["cvlab.ops.roi", "cvlab.ops.explain_rois", "cvlab.ops.boxes", "cvlab.models.mask_head"]
_TORCHVISION = ["torchvision.ops.roi_align", "torchvision.ops.RoIAlign", "torchvision.ops.roi_pool",
                "torchvision.ops.RoIPool", "torchvision.ops.ps_roi_align", "torchvision.ops.ps_roi_pool",
                "torchvision.ops.nms", "torchvision.ops.batched_nms", "torchvision.ops.box_iou",
                "torch.nn.functional.grid_sample"]
FORBID = _CVLAB + _TORCHVISION


def rand(*shape, low=0.0, high=1.0, dtype=torch.float32):
    return torch.rand(*shape, generator=g, dtype=dtype) * (high - low) + low


def eighths(*shape, low, high, dtype=torch.float32):
    """Random multiples of 1/8 in [low, high]: exact in binary, so rounding and thresholds are unambiguous."""
    return (rand(*shape, low=low, high=high, dtype=torch.float64) * 8).round().div(8).to(dtype)


def rois(count, images, low, high, *, min_size=0.0, max_size=None, dtype=torch.float32):
    """(count, 5) RoIs in image pixels, batch indices drawn from ``range(images)``, corners multiples of 1/8."""
    max_size = max_size or (high - low)
    xy = eighths(count, 2, low=low, high=high - min_size, dtype=dtype)
    wh = eighths(count, 2, low=min_size, high=max_size, dtype=dtype)
    index = torch.randint(images, (count, 1), generator=g).to(dtype)
    return torch.cat([index, xy, xy + wh], 1)


def fmap(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=dtype)


def T(rows, dtype=torch.float32):  # noqa: N802 -- a short constructor for hand-written boxes
    return torch.tensor(rows, dtype=dtype)


# --- bilinear_sample ----------------------------------------------------------------------------------------------

BILINEAR = function_test(
    forbid=FORBID,
    visible=[
        case(T([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]), T([0.5, -0.5, 2.5]), T([0.25, 2.5, 1.0]),
             description="the worked example: f = 3u + v on a 2x3 map, a point inside, one near the corner, one out"),
        case(fmap(3, 5, 6), rand(4, 7, high=4.0), rand(4, 7, high=5.0),
             description="3 channels, 5x6, 4x7 points inside the map"),
    ],
    hidden=[
        case(fmap(2, 4, 5), T([-1.0, -0.75, -0.25, 3.25, 3.5, 4.0, 1.5, 1.5, 1.5, 1.5]),
             T([2.25, 0.5, 4.5, 1.0, -0.5, 4.75, -1.0, -0.125, 4.25, 5.0]),
             description="4x5, points within one pixel outside every side (exactly -1 and H, W included)"),
        case(fmap(1, 5, 4), rand(3, 6, low=-3.0, high=7.0), rand(3, 6, low=-3.0, high=6.0),
             description="5x4, points inside, near and far outside the map"),
        case(fmap(3, 3, 8), T([0.0, 2.0, 1.0, 2.0, 0.5]), T([0.0, 7.0, 3.0, 7.0, 6.5]),
             description="non-square 3x8, points on pixel centres, the last row and column"),
        case(fmap(2, 1, 6), T([0.0, 0.4, -0.6, 0.9, 1.2]), T([2.5, 1.25, 3.0, 5.5, 0.0]),
             description="a single-row map 1x6"),
        case(fmap(2, 6, 4, dtype=torch.float64), rand(2, 3, 4, low=-1.5, high=6.5, dtype=torch.float64),
             rand(2, 3, 4, low=-1.5, high=4.5, dtype=torch.float64), description="float64, 6x4, points (2, 3, 4)"),
    ],
)

# --- roi_pool -----------------------------------------------------------------------------------------------------

ARANGE = torch.arange(36.0).reshape(1, 1, 6, 6)

ROI_POOL = function_test(
    forbid=FORBID,
    visible=[
        case(ARANGE, T([[0.0, 1.4, 0.2, 3.5, 2.6]]), 2, description="the worked example: 6x6 map 6u + v, 2x2 bins"),
        case(fmap(1, 2, 8, 8), rois(3, 1, 0.0, 7.0, min_size=2.0), 2, description="one 8x8 map, 3 boxes inside"),
    ],
    hidden=[
        case(fmap(1, 2, 6, 7), T([[0, -2.25, -1.5, 3.0, 2.75], [0, 4.0, 3.5, 9.5, 8.0], [0, -5.0, 1.0, -2.0, 4.0],
                                  [0, 1.0, 7.5, 5.0, 9.0], [0, 0.0, 0.0, 6.0, 5.0]]), 3,
             description="6x7, boxes crossing the border and wholly outside (empty bins give 0)"),
        case(fmap(2, 3, 10, 12), rois(5, 2, -4.0, 48.0, min_size=8.0), 2, spatial_scale=0.25,
             description="a batch of 2, 10x12 map of a stride-4 image, spatial_scale = 0.25"),
        case(fmap(3, 2, 9, 9), T([[2, 5.0, 1.0, 13.0, 9.0], [0, 3.0, 5.0, 9.0, 15.0], [1, 1.0, 3.0, 7.0, 11.0],
                                  [2, -1.0, -3.0, 11.0, 5.0]]), (2, 4), spatial_scale=0.5,
             description="a batch of 3 (unordered indices), non-square 2x4 output, coordinates at exact halves "
                         "after scaling (2.5 rounds to 3)"),
        case(fmap(1, 2, 6, 6), T([[0, 2.0, 1.0, 2.0, 4.0], [0, 4.0, 4.0, 1.0, 2.0], [0, 3.0, 3.0, 3.25, 3.125],
                                  [0, 1.0, 2.0, 5.0, 2.0]]), (3, 2),
             description="degenerate boxes: zero width, x2 < x1 and y2 < y1, a point, zero height"),
        case(fmap(1, 1, 7, 11, dtype=torch.float64), rois(4, 1, 0.0, 20.0, min_size=3.0, dtype=torch.float64), 3,
             spatial_scale=0.5, description="float64, non-square 7x11 map, spatial_scale = 0.5"),
        case(fmap(1, 2, 5, 5), T([[0, 1.0, 2.0, 2.0, 3.0], [0, 0.0, 0.0, 4.0, 1.0]]), 4,
             description="4x4 bins over boxes of 2x2 and 5x2 pixels (bins share pixels)"),
    ],
)

# --- roi_align ----------------------------------------------------------------------------------------------------

ROI_ALIGN = function_test(
    forbid=FORBID,
    visible=[
        case(ARANGE, T([[0.0, 2.0, 1.0, 4.0, 3.0]]), 2, sampling_ratio=1, aligned=True,
             description="the worked example: 6x6 map 6y + x, one sample per bin, aligned"),
        case(fmap(1, 3, 8, 8), rois(4, 1, 0.0, 7.5, min_size=1.5), 3, sampling_ratio=2, aligned=True,
             description="one 8x8 map, 4 boxes inside, 3x3 bins, 2x2 samples, aligned"),
    ],
    hidden=[
        case(fmap(1, 2, 6, 7), T([[0, -2.3, -1.6, 3.1, 2.7], [0, 4.2, 3.4, 9.7, 8.1], [0, -5.0, 1.0, -2.0, 4.0],
                                  [0, 5.6, -0.9, 7.4, 6.6], [0, 0.0, 0.0, 7.0, 6.0]]), 3, sampling_ratio=2,
             aligned=False, description="6x7, boxes crossing the border and wholly outside, aligned=False"),
        case(fmap(2, 3, 10, 12), rois(6, 2, -4.0, 48.0, min_size=4.0), 3, spatial_scale=0.25, sampling_ratio=-1,
             aligned=True, description="a batch of 2, spatial_scale = 0.25, adaptive sampling (1 to 5 per bin)"),
        case(fmap(3, 2, 9, 9), rois(5, 3, -2.0, 20.0, min_size=2.0), (2, 5), spatial_scale=0.5, sampling_ratio=3,
             aligned=False, description="a batch of 3 (unordered indices), non-square 2x5 output, 3x3 samples"),
        case(fmap(2, 2, 8, 6), rois(5, 2, 0.0, 14.0, min_size=6.0), (4, 2),
             description="a batch of 2, 4x2 output, the defaults (spatial_scale 1, adaptive, aligned=False)"),
        case(fmap(1, 2, 6, 6), T([[0, 2.0, 1.0, 2.0, 4.0], [0, 4.0, 4.5, 1.5, 2.0], [0, 3.0, 3.0, 3.25, 3.125]]),
             (3, 2), sampling_ratio=-1, aligned=False,
             description="degenerate boxes (zero width, negative size, tiny), aligned=False: raised to 1x1"),
        case(fmap(1, 2, 6, 6), T([[0, 2.0, 1.0, 2.0, 4.0], [0, 4.0, 4.5, 1.5, 2.0], [0, 3.0, 3.0, 3.25, 3.125]]),
             (3, 2), sampling_ratio=2, aligned=True,
             description="degenerate boxes (zero width, negative size, tiny), aligned=True, 2x2 samples"),
        case(fmap(1, 2, 6, 6), T([[0, 2.0, 1.0, 2.0, 4.0], [0, 1.0, 1.0, 1.0, 1.0], [0, 0.5, 0.5, 5.5, 4.0]]),
             (3, 2), sampling_ratio=0, aligned=True,
             description="zero-width and zero-size boxes with adaptive sampling, aligned=True: no samples, 0"),
        case(fmap(1, 2, 7, 11, dtype=torch.float64), rois(4, 1, -1.0, 11.0, min_size=2.0, dtype=torch.float64),
             (4, 3), sampling_ratio=0, aligned=True, description="float64, non-square 7x11 map, adaptive, aligned"),
    ],
)

# --- mask_targets -------------------------------------------------------------------------------------------------


def blobs(count, h, w, size):
    """Random elliptic blobs (bool (count, h, w)), one per mask, and a box around each (see `on_grid`)."""
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    masks, boxes = [], []
    for _ in range(count):
        cy, cx = rand(1, low=0.0, high=h).item(), rand(1, low=0.0, high=w).item()
        ry, rx = rand(1, low=2.0, high=h / 2).item(), rand(1, low=2.0, high=w / 2).item()
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        masks.append(m)
        boxes.append([cx - rx, cy - ry, cx + rx, cy + ry])
    return torch.stack(masks), on_grid(torch.tensor(boxes), size)


def on_grid(boxes, size):
    """``boxes`` moved to corners at multiples of 1/8 and sides at multiples of size/8: every RoIAlign sample of the
    crop then sits at a multiple of 1/32, so any order of operations gives the same values (exact 0.5 included)."""
    corner = (boxes[:, :2] * 8).round() / 8
    side = ((boxes[:, 2:] - boxes[:, :2]) / size * 8).round().clamp(min=1) / 8 * size
    return torch.cat([corner, corner + side], 1)


STRIPES = torch.zeros(2, 8, 8, dtype=torch.bool)
STRIPES[0, :, ::2] = True  # every other column: each 2-pixel bin is exactly half covered
STRIPES[1, ::2, :] = True
STRIPES[1, :, 4:] = True

MASK_TARGETS = function_test(
    forbid=FORBID,
    visible=[
        case(torch.zeros(1, 8, 8, dtype=torch.bool).index_fill_(1, torch.arange(2, 6), True)
             .logical_and_(torch.zeros(1, 8, 8, dtype=torch.bool).index_fill_(2, torch.arange(3, 7), True)),
             T([[2.0, 1.0, 8.0, 7.0]]), 3, description="the worked example: a 4x4 square in a 6x6 box"),
        case(*blobs(3, 16, 16, 7), 7, description="3 blobs on 16x16, their boxes, 7x7 targets"),
    ],
    hidden=[
        case(STRIPES, T([[0.0, 0.0, 8.0, 8.0], [0.0, 0.0, 8.0, 8.0]]), 4,
             description="stripes: bins exactly half (and a quarter, three quarters) covered -- at least 0.5 is 1"),
        case(*blobs(4, 12, 20, 5), 5, description="4 blobs on 12x20, 5x5 targets"),
        case(blobs(3, 10, 10, 6)[0], T([[-3.0, -2.0, 6.0, 4.0], [4.0, 5.0, 13.0, 11.0], [-1.0, 3.0, 11.0, 6.0]]), 6,
             description="boxes crossing the border of the 10x10 masks"),
        case(blobs(3, 14, 14, 4)[0], T([[3.25, 1.0, 3.75, 12.0], [1.0, 6.125, 13.0, 6.625], [5.0, 5.0, 9.0, 9.0]]), 4,
             description="thin boxes (under a pixel wide or high) and a square one"),
        case(blobs(3, 20, 24, 6)[0], on_grid(blobs(3, 20, 24, 6)[1], 6).double(), 6,
             description="float64 boxes, 20x24 masks of other blobs than the boxes"),
    ],
)

# --- select_class_masks -------------------------------------------------------------------------------------------

SELECT = function_test(
    forbid=FORBID,
    visible=[
        case(torch.arange(12.0).reshape(2, 3, 2, 1), torch.tensor([2, 0]), description="the worked example"),
        case(fmap(4, 5, 6, 6), torch.tensor([3, 0, 4, 1]), description="4 RoIs, 5 classes, 6x6 masks"),
    ],
    hidden=[
        case(fmap(3, 8, 4, 4), torch.tensor([5, 5, 7]), description="more classes than RoIs, a repeated label"),
        case(fmap(6, 2, 5, 5), torch.tensor([1, 0, 1, 1, 0, 1]), description="6 RoIs, 2 classes"),
        case(fmap(3, 4, 3, 7), torch.tensor([0, 3, 2]), description="non-square 3x7 masks"),
        case(fmap(4, 4, 4, 4), torch.tensor([3, 2, 1, 0]), description="as many RoIs as classes, labels reversed"),
        case(fmap(2, 6, 5, 5, dtype=torch.float64), torch.tensor([4, 1]), description="float64"),
    ],
)

# --- nms ----------------------------------------------------------------------------------------------------------


def scene(count, size, threshold, dtype=torch.float32, ties=False):
    """Random boxes (multiples of 1/8) and scores, redrawn until no IoU lies within 1e-3 of ``threshold``."""
    while True:
        xy = eighths(count, 2, low=0.0, high=size, dtype=dtype)
        boxes = torch.cat([xy, xy + eighths(count, 2, low=1.0, high=size / 3, dtype=dtype)], 1)
        iou = box_iou(boxes.double(), boxes.double())
        if bool(((iou - threshold).abs() > 1e-3).all()):
            break
    scores = (rand(count, dtype=dtype) * 4).round() / 4 if ties else rand(count, dtype=dtype)
    return boxes, scores


NMS = function_test(
    forbid=FORBID,
    visible=[
        case(T([[0.0, 0.0, 4.0, 4.0], [1.0, 0.0, 5.0, 4.0], [6.0, 0.0, 9.0, 3.0]]), T([0.9, 0.8, 0.3]), 0.5,
             description="the worked example: IoU 0.6 removes box 1"),
        case(*scene(8, 12.0, 0.5), 0.5, description="8 random boxes, distinct scores, threshold 0.5"),
    ],
    hidden=[
        case(T([[0.0, 0.0, 4.0, 4.0], [0.5, 0.0, 4.5, 4.0], [10.0, 0.0, 14.0, 4.0], [10.0, 0.5, 14.0, 4.5],
                [20.0, 0.0, 24.0, 4.0]]), T([0.5, 0.5, 0.7, 0.7, 0.7]), 0.5,
             description="equal scores on overlapping boxes: the first in the input wins"),
        case(T([[0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0], [0.0, 5.0, 5.0, 6.0], [3.0, 5.0, 8.0, 6.0]]),
             T([0.9, 0.8, 0.7, 0.6]), 0.5, description="IoU exactly 0.5 at threshold 0.5 (kept), and 0.25"),
        case(T([[0.0, 5.0, 5.0, 6.0], [3.0, 5.0, 8.0, 6.0], [0.0, 0.0, 2.0, 2.0]]), T([0.6, 0.7, 0.1]), 0.25,
             description="IoU exactly 0.25 at threshold 0.25 (kept)"),
        case(T([[0.0, 0.0, 4.0, 4.0], [2.0, 0.0, 6.0, 4.0], [4.0, 0.0, 8.0, 4.0], [6.0, 0.0, 10.0, 4.0]]),
             T([0.9, 0.8, 0.7, 0.6]), 0.3,
             description="a chain: box 1 removed by box 0 must not remove box 2 (box 2 then removes box 3)"),
        case(*scene(30, 20.0, 0.3, ties=True), 0.3, description="30 random boxes, scores with ties, threshold 0.3"),
        case(*scene(25, 20.0, 0.6, dtype=torch.float64), 0.6, description="float64, 25 boxes, threshold 0.6"),
        case(torch.zeros(0, 4), torch.zeros(0), 0.5, description="no boxes at all"),
        case(T([[1.0, 2.0, 3.0, 5.0]]), T([0.2]), 0.5, description="a single box"),
    ],
)

TESTS = {"bilinear_sample": BILINEAR, "roi_pool": ROI_POOL, "roi_align": ROI_ALIGN, "mask_targets": MASK_TARGETS,
         "select_class_masks": SELECT, "nms": NMS}
