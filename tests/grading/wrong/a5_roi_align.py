"""A5 "RoI align": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The mistakes the issue names are all here: coordinates rounded, the half-pixel offset missing, integer bin edges,
max instead of mean, x and y swapped, the batch index ignored or read from the wrong column, out-of-range samples
clamped instead of zeroed, NMS keeping the lower score or suppressing at IoU >= the threshold -- plus the library
shortcuts, which the operator-level ban refuses.
"""

import math

import torch


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _c_round(v):
    """C's round: halves away from zero."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


# --- bilinear_sample(input, y, x) ---------------------------------------------------------------------------------


def _sample(img, y, x, rule="torchvision", swap=False):
    """Bilinear samples (C, *S) of img (C, H, W). ``rule``: "torchvision" (the exercise: zero more than a pixel
    outside, else clamp onto the map), "clamp" (never zero), "zeros" (grid_sample's zero padding: neighbours
    outside the map count 0, nothing clamped)."""
    if swap:
        y, x = x, y
    _, h, w = img.shape
    if rule == "zeros":
        y0, x0 = y.floor(), x.floor()
        out = torch.zeros(img.shape[:1] + y.shape, dtype=img.dtype)
        for u in (y0, y0 + 1):
            for v in (x0, x0 + 1):
                inside = (u >= 0) & (u <= h - 1) & (v >= 0) & (v <= w - 1)
                value = img[:, u.long().clamp(0, h - 1), v.long().clamp(0, w - 1)] * inside
                out = out + (1 - (y - u).abs()) * (1 - (x - v).abs()) * value
        return out
    outside = (y < -1) | (y > h) | (x < -1) | (x > w)
    y, x = y.clamp(0, h - 1), x.clamp(0, w - 1)  # the same as moving y < 0 to 0 and y >= H - 1 onto the last row
    y0, x0 = y.floor().long(), x.floor().long()
    y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
    ly, lx = y - y0, x - x0
    out = sum(wy * wx * img[:, u, v] for wy, u in ((1 - ly, y0), (ly, y1)) for wx, v in ((1 - lx, x0), (lx, x1)))
    if rule == "torchvision":
        out = out * (~outside)
    return out


def bilinear_clamp_form(input, y, x):
    """Correct: clamp to [0, H - 1] (equivalent to the kernel's two moves), sum over the four neighbours."""
    return _sample(input, y, x)


def bilinear_point_loop(input, y, x):
    """Correct: one point at a time in Python floats, the kernel's rule written as branches."""
    c, h, w = input.shape
    out = torch.zeros(c, y.numel(), dtype=input.dtype)
    for i, (yy, xx) in enumerate(zip(y.flatten().tolist(), x.flatten().tolist(), strict=True)):
        if yy < -1 or yy > h or xx < -1 or xx > w:
            continue
        yy, xx = max(yy, 0.0), max(xx, 0.0)
        y0, x0 = int(yy), int(xx)
        if y0 >= h - 1:
            y0 = y1 = h - 1
            yy = float(y0)
        else:
            y1 = y0 + 1
        if x0 >= w - 1:
            x0 = x1 = w - 1
            xx = float(x0)
        else:
            x1 = x0 + 1
        ly, lx = yy - y0, xx - x0
        out[:, i] = ((1 - ly) * (1 - lx) * input[:, y0, x0] + (1 - ly) * lx * input[:, y0, x1]
                     + ly * (1 - lx) * input[:, y1, x0] + ly * lx * input[:, y1, x1])
    return out.reshape(c, *y.shape)


def bilinear_cvlab_shortcut(input, y, x):
    from cvlab.ops import bilinear_sample

    return bilinear_sample(input, y, x)


def bilinear_grid_sample_shortcut(input, y, x):
    _, h, w = input.shape
    grid = torch.stack([(2 * x + 1) / w - 1, (2 * y + 1) / h - 1], -1).reshape(1, 1, -1, 2)
    out = torch.nn.functional.grid_sample(input[None], grid, align_corners=False, padding_mode="border")
    return out.reshape(input.shape[0], *y.shape)


def bilinear_clamped_not_zeroed(input, y, x):
    return _sample(input, y, x, rule="clamp")


def bilinear_zero_padding(input, y, x):
    return _sample(input, y, x, rule="zeros")


def bilinear_swapped_xy(input, y, x):
    return _sample(input, y, x, swap=True)


def bilinear_nearest(input, y, x):
    return _sample(input, y.round(), x.round())


def bilinear_weights_swapped(input, y, x):
    """Each neighbour weighted by its own distance instead of the opposite one."""
    _, h, w = input.shape
    outside = (y < -1) | (y > h) | (x < -1) | (x > w)
    y, x = y.clamp(0, h - 1), x.clamp(0, w - 1)
    y0, x0 = y.floor().long(), x.floor().long()
    y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
    ly, lx = y - y0, x - x0
    out = sum(wy * wx * input[:, u, v] for wy, u in ((ly, y0), (1 - ly, y1)) for wx, v in ((lx, x0), (1 - lx, x1)))
    return out * (~outside)


def bilinear_half_pixel(input, y, x):
    """Pixel centres taken at +0.5 (the image convention) on a map whose centres are at integers."""
    return _sample(input, y - 0.5, x - 0.5)


# --- roi_pool(input, boxes, output_size, spatial_scale=1.0) -------------------------------------------------------


def _roi_pool(input, boxes, output_size, spatial_scale=1.0, *, rounding=_c_round, plus_one=1, reduce="max",
              swap=False, batch_col=0, empty=0.0):
    """RoIPool with one step changeable (the exercise with the defaults)."""
    out_h, out_w = _pair(output_size)
    _, c, h, w = input.shape
    out = input.new_zeros(len(boxes), c, out_h, out_w)
    for k, row in enumerate(boxes.tolist()):
        b = int(row[batch_col])
        coords = row[1:] if batch_col == 0 else row[:4]
        x1, y1, x2, y2 = (rounding(v * spatial_scale) for v in coords)
        if swap:
            x1, y1, x2, y2 = y1, x1, y2, x2
        lh, lw = max(y2 - y1 + plus_one, 1), max(x2 - x1 + plus_one, 1)
        for i in range(out_h):
            r0 = min(max(y1 + math.floor(i * lh / out_h), 0), h)
            r1 = min(max(y1 + math.ceil((i + 1) * lh / out_h), 0), h)
            for j in range(out_w):
                c0 = min(max(x1 + math.floor(j * lw / out_w), 0), w)
                c1 = min(max(x1 + math.ceil((j + 1) * lw / out_w), 0), w)
                if r1 <= r0 or c1 <= c0:
                    out[k, :, i, j] = empty
                    continue
                patch = input[b, :, r0:r1, c0:c1]
                out[k, :, i, j] = patch.amax((1, 2)) if reduce == "max" else patch.mean((1, 2))
    return out


def roi_pool_float_edges(input, boxes, output_size, spatial_scale=1.0):
    """Correct: the kernel's float arithmetic in the input's dtype (bin size L / h, floor and ceil of i * size)."""
    out_h, out_w = _pair(output_size)
    _, c, h, w = input.shape
    r = boxes.to(input.dtype)
    corner = torch.sign(r[:, 1:] * spatial_scale) * torch.floor((r[:, 1:] * spatial_scale).abs() + 0.5)
    out = input.new_zeros(len(boxes), c, out_h, out_w)
    for k in range(len(boxes)):
        x1, y1, x2, y2 = corner[k].long().tolist()
        bin_h = torch.tensor(max(y2 - y1 + 1, 1), dtype=input.dtype) / out_h
        bin_w = torch.tensor(max(x2 - x1 + 1, 1), dtype=input.dtype) / out_w
        for i in range(out_h):
            r0 = min(max(int(torch.floor(i * bin_h)) + y1, 0), h)
            r1 = min(max(int(torch.ceil((i + 1) * bin_h)) + y1, 0), h)
            for j in range(out_w):
                c0 = min(max(int(torch.floor(j * bin_w)) + x1, 0), w)
                c1 = min(max(int(torch.ceil((j + 1) * bin_w)) + x1, 0), w)
                if r1 > r0 and c1 > c0:
                    out[k, :, i, j] = input[int(r[k, 0]), :, r0:r1, c0:c1].reshape(c, -1).max(1).values
    return out


def roi_pool_membership(input, boxes, output_size, spatial_scale=1.0):
    """Correct: boolean bin membership of every row and column, one masked max per RoI (no loop over bins)."""
    out_h, out_w = _pair(output_size)
    _, c, h, w = input.shape

    def members(start, end, count, size):  # (count, size) bool: pixel p lies in bin i
        length = max(end - start + 1, 1)
        i = torch.arange(count)[:, None]
        p = torch.arange(size)[None, :] - start
        return (p >= i * length // count) & (p < -(-(i + 1) * length // count))

    out = []
    for row in boxes.tolist():
        x1, y1, x2, y2 = (_c_round(v * spatial_scale) for v in row[1:])
        rows, cols = members(y1, y2, out_h, h), members(x1, x2, out_w, w)
        inside = rows[:, None, :, None] & cols[None, :, None, :]  # (h, w, H, W)
        feat = input[int(row[0])][:, None, None]  # (C, 1, 1, H, W)
        best = torch.where(inside, feat, torch.tensor(-math.inf, dtype=input.dtype)).amax((3, 4))
        out.append(torch.where(inside.any(3).any(2), best, torch.zeros((), dtype=input.dtype)))
    return torch.stack(out) if out else input.new_zeros(0, c, out_h, out_w)


def roi_pool_cvlab_shortcut(input, boxes, output_size, spatial_scale=1.0):
    from cvlab.ops import roi_pool

    return roi_pool(input, boxes, output_size, spatial_scale)


def roi_pool_torchvision_shortcut(input, boxes, output_size, spatial_scale=1.0):
    import torchvision

    return torchvision.ops.roi_pool(input, boxes, output_size, spatial_scale)


def roi_pool_torch_round(input, boxes, output_size, spatial_scale=1.0):
    """Python's round sends halves to the even neighbour (2.5 -> 2)."""
    return _roi_pool(input, boxes, output_size, spatial_scale, rounding=round)


def roi_pool_truncated(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, spatial_scale, rounding=math.floor)


def roi_pool_end_excluded(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, spatial_scale, plus_one=0)


def roi_pool_mean(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, spatial_scale, reduce="mean")


def roi_pool_swapped_xy(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, spatial_scale, swap=True)


def roi_pool_batch_ignored(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes * torch.tensor([0.0, 1, 1, 1, 1], dtype=boxes.dtype), output_size, spatial_scale)


def roi_pool_batch_last_column(input, boxes, output_size, spatial_scale=1.0):
    """Reads the RoI as (x1, y1, x2, y2, batch_index): the index from the wrong column."""
    return _roi_pool(input, boxes, output_size, spatial_scale, batch_col=4)


def roi_pool_scale_ignored(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, 1.0)


def roi_pool_empty_bins_not_zero(input, boxes, output_size, spatial_scale=1.0):
    return _roi_pool(input, boxes, output_size, spatial_scale, empty=-math.inf)


# --- roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False) --------------------


def _roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False, *, rule="torchvision",
               reduce="mean", round_box=False, offset=True, int_bins=False, swap=False, batch="first",
               adaptive=math.ceil, clamp_to_one=None):
    """RoIAlign with one step changeable (the exercise with the defaults)."""
    out_h, out_w = _pair(output_size)
    channels = input.shape[1]
    out = input.new_zeros(len(boxes), channels, out_h, out_w)
    clamp_to_one = not aligned if clamp_to_one is None else clamp_to_one

    def axis(start, end, count):
        length = end - start
        if clamp_to_one:
            length = length.clamp(min=1)
        size = length / count
        grid = sampling_ratio if sampling_ratio > 0 else max(int(adaptive(float(size))), 0)
        i = torch.arange(count, dtype=input.dtype)[:, None]
        a = torch.arange(grid, dtype=input.dtype)[None, :]
        if int_bins:
            lo, hi = torch.floor(start + i * size), torch.ceil(start + (i + 1) * size)
            return (lo + (a + 0.5) * (hi - lo) / max(grid, 1)).flatten(), grid
        return (start + i * size + (a + 0.5) * size / max(grid, 1)).flatten(), grid

    for k in range(len(boxes)):
        row = boxes[k].to(input.dtype)
        b = {"first": int(row[0]), "zero": 0, "last": int(row[4])}[batch]
        coords = row[:4] if batch == "last" else row[1:]
        x1, y1, x2, y2 = coords * spatial_scale - (0.5 if aligned and offset else 0.0)
        if round_box:
            x1, y1, x2, y2 = x1.round(), y1.round(), x2.round(), y2.round()
        if swap:
            x1, y1, x2, y2 = y1, x1, y2, x2
        ys, grid_h = axis(y1, y2, out_h)
        xs, grid_w = axis(x1, x2, out_w)
        if grid_h * grid_w == 0:
            continue
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        values = _sample(input[b], yy, xx, rule=rule).reshape(channels, out_h, grid_h, out_w, grid_w)
        out[k] = values.amax((2, 4)) if reduce == "max" else values.sum((2, 4)) / (grid_h * grid_w)
    return out


def _axis_weights(start, end, count, grid, size, dtype):
    """(count, size): row i holds the summed bilinear weights, along one axis, of bin i's samples."""
    step = (end - start) / count
    pos = (start + torch.arange(count, dtype=dtype)[:, None] * step
           + (torch.arange(grid, dtype=dtype)[None, :] + 0.5) * step / max(grid, 1)).flatten()
    inside = ((pos >= -1) & (pos <= size)).to(dtype)
    p = pos.clamp(0, size - 1)
    lo = p.floor().long()
    hi = (lo + 1).clamp(max=size - 1)
    weights = torch.zeros(len(pos), size, dtype=dtype)
    rows = torch.arange(len(pos))
    weights.index_put_((rows, lo), (1 - (p - lo)) * inside, accumulate=True)
    weights.index_put_((rows, hi), (p - lo) * inside, accumulate=True)
    return weights.reshape(count, grid, size).sum(1)


def roi_align_separable(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Correct: bilinear weights and the out-of-map rule act per axis, so each RoI is A_y @ F @ A_x^T / count."""
    out_h, out_w = _pair(output_size)
    _, c, h, w = input.shape
    out = []
    for row in boxes.to(input.dtype):
        x1, y1, x2, y2 = row[1:] * spatial_scale - (0.5 if aligned else 0.0)
        if not aligned:
            x2, y2 = torch.maximum(x2, x1 + 1), torch.maximum(y2, y1 + 1)
        grids = [sampling_ratio if sampling_ratio > 0 else max(math.ceil(float((e - s) / n)), 0)
                 for s, e, n in ((y1, y2, out_h), (x1, x2, out_w))]
        ay = _axis_weights(y1, y2, out_h, grids[0], h, input.dtype)
        ax = _axis_weights(x1, x2, out_w, grids[1], w, input.dtype)
        out.append(torch.einsum("iu,cuv,jv->cij", ay, input[int(row[0])], ax) / max(grids[0] * grids[1], 1))
    return torch.stack(out) if out else input.new_zeros(0, c, out_h, out_w)


def roi_align_point_loop(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Correct: every sample position in Python floats, sampled one point at a time."""
    out_h, out_w = _pair(output_size)
    out = input.new_zeros(len(boxes), input.shape[1], out_h, out_w)
    off = 0.5 if aligned else 0.0
    for k, (b, *box) in enumerate(boxes.tolist()):
        x1, y1, x2, y2 = (v * spatial_scale - off for v in box)
        rh, rw = (y2 - y1, x2 - x1) if aligned else (max(y2 - y1, 1.0), max(x2 - x1, 1.0))
        bh, bw = rh / out_h, rw / out_w
        gh = sampling_ratio if sampling_ratio > 0 else max(math.ceil(bh), 0)
        gw = sampling_ratio if sampling_ratio > 0 else max(math.ceil(bw), 0)
        for i in range(out_h):
            for j in range(out_w):
                ys = [y1 + i * bh + (a + 0.5) * bh / gh for a in range(gh) for _ in range(gw)]
                xs = [x1 + j * bw + (c + 0.5) * bw / gw for _ in range(gh) for c in range(gw)]
                if ys:
                    values = bilinear_point_loop(input[int(b)], torch.tensor(ys, dtype=input.dtype),
                                                 torch.tensor(xs, dtype=input.dtype))
                    out[k, :, i, j] = values.sum(1) / (gh * gw)
    return out


def roi_align_cvlab_shortcut(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    from cvlab.ops import roi_align

    return roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned)


def roi_align_torchvision_shortcut(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    from torchvision.ops import RoIAlign

    return RoIAlign(output_size, spatial_scale, sampling_ratio, aligned)(input, boxes)


def _align_variant(name, doc, **change):
    def wrong(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
        return _roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned, **change)

    wrong.__name__, wrong.__doc__ = f"roi_align_{name}", doc
    return wrong


ROI_ALIGN_WRONG = [
    _align_variant("rounded_box", "The box rounded to whole feature pixels (RoIPool's first quantisation).",
                   round_box=True),
    _align_variant("no_half_pixel_offset", "aligned=True accepted but the -0.5 shift forgotten.", offset=False),
    _align_variant("integer_bin_edges", "Bins widened to whole pixels (floor / ceil), samples spread inside.",
                   int_bins=True),
    _align_variant("max", "The max of the samples instead of their mean.", reduce="max"),
    _align_variant("swapped_xy", "x and y swapped.", swap=True),
    _align_variant("batch_index_ignored", "Every RoI read from image 0.", batch="zero"),
    _align_variant("batch_index_last_column", "RoIs read as (x1, y1, x2, y2, batch_index).", batch="last"),
    _align_variant("clamped_not_zeroed", "Samples far outside read the border instead of 0.", rule="clamp"),
    _align_variant("adaptive_fixed_at_2", "sampling_ratio <= 0 treated as 2.", adaptive=lambda size: 2),
    _align_variant("adaptive_floor", "Adaptive grid floor(bin size) instead of ceil.", adaptive=math.floor),
    _align_variant("always_at_least_one", "RoIs raised to 1x1 also when aligned=True.", clamp_to_one=True),
    _align_variant("never_at_least_one", "Malformed RoIs never raised to 1x1.", clamp_to_one=False),
]


# --- mask_targets(masks, boxes, size) -----------------------------------------------------------------------------


def _mask_targets(masks, boxes, size, *, align=_roi_align, strict=False, aligned=True, sampling_ratio=2, own=True,
                  swap=False, binarise=True):
    """Mask targets with one step changeable (the exercise with the defaults)."""
    index = torch.arange(len(boxes), dtype=boxes.dtype)[:, None] * own
    if swap:
        boxes = boxes[:, [1, 0, 3, 2]]
    soft = align(masks[:, None].to(boxes.dtype), torch.cat([index, boxes], 1), size, 1.0, sampling_ratio, aligned)
    soft = soft[:, 0]
    if not binarise:
        return soft
    return ((soft > 0.5) if strict else (soft >= 0.5)).to(boxes.dtype)


def mask_targets_separable(masks, boxes, size):
    """Correct: through the matrix form of RoIAlign."""
    return _mask_targets(masks, boxes, size, align=roi_align_separable)


def mask_targets_own_sampling(masks, boxes, size):
    """Correct: the 2x2 samples of each bin written out, sampled with the clamp form of bilinear sampling."""
    out = []
    for m, (x1, y1, x2, y2) in zip(masks.to(boxes.dtype), boxes - 0.5, strict=True):
        steps = (torch.arange(2 * size, dtype=boxes.dtype) + 0.5) / (2 * size)
        ys, xs = y1 + steps * (y2 - y1), x1 + steps * (x2 - x1)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        soft = _sample(m[None], yy, xx)[0].reshape(size, 2, size, 2).mean((1, 3))
        out.append((soft >= 0.5).to(boxes.dtype))
    return torch.stack(out)


def mask_targets_cvlab_shortcut(masks, boxes, size):
    from cvlab.models.mask_head import mask_targets

    return mask_targets(masks, boxes, size)


def mask_targets_strictly_above_half(masks, boxes, size):
    return _mask_targets(masks, boxes, size, strict=True)


def mask_targets_not_aligned(masks, boxes, size):
    return _mask_targets(masks, boxes, size, aligned=False)


def mask_targets_adaptive_sampling(masks, boxes, size):
    return _mask_targets(masks, boxes, size, sampling_ratio=-1)


def mask_targets_soft(masks, boxes, size):
    return _mask_targets(masks, boxes, size, binarise=False)


def mask_targets_all_from_mask_0(masks, boxes, size):
    return _mask_targets(masks, boxes, size, own=False)


def mask_targets_boxes_as_yx(masks, boxes, size):
    return _mask_targets(masks, boxes, size, swap=True)


def mask_targets_bool(masks, boxes, size):
    return _mask_targets(masks, boxes, size).bool()


# --- select_class_masks(logits, labels) ---------------------------------------------------------------------------


def select_gather(logits, labels):
    """Correct: gather along the class axis."""
    index = labels.view(-1, 1, 1, 1).expand(-1, 1, *logits.shape[2:])
    return logits.gather(1, index)[:, 0]


def select_loop(logits, labels):
    """Correct: one RoI at a time."""
    return torch.stack([logits[k, int(c)] for k, c in enumerate(labels)])


def select_cvlab_shortcut(logits, labels):
    from cvlab.models.mask_head import select_class_masks

    return select_class_masks(logits, labels)


def select_first_axis(logits, labels):
    return logits[labels, 0]


def select_every_pair(logits, labels):
    return logits[:, labels]


def select_background_offset(logits, labels):
    """Labels treated as 1-based (0 = background), as in torchvision's detection labels."""
    return logits[torch.arange(len(labels)), labels - 1]


def select_argmax_class(logits, labels):
    return select_gather(logits, logits.mean((2, 3)).argmax(1))


def select_probabilities(logits, labels):
    return select_gather(logits, labels).sigmoid()


def select_max_over_classes(logits, labels):
    return logits.amax(1)


# --- nms(boxes, scores, iou_threshold) ----------------------------------------------------------------------------


def _iou(a, b, *, clamp=True, minus_inter=True, plus_one=0.0):
    area = lambda r: (r[:, 2] - r[:, 0] + plus_one) * (r[:, 3] - r[:, 1] + plus_one)  # noqa: E731
    wh = torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(a[:, None, :2], b[None, :, :2]) + plus_one
    inter = (wh.clamp(min=0) if clamp else wh).prod(2)
    union = area(a)[:, None] + area(b)[None, :] - (inter if minus_inter else 0)
    return inter / union


def _nms(boxes, scores, iou_threshold, *, order=None, suppress=torch.gt, every_box=False, positions=False,
         by_index=False, **iou):
    """Greedy NMS with one step changeable (the exercise with the defaults)."""
    order = torch.sort(scores, descending=True, stable=True).indices if order is None else order
    overlap = _iou(boxes[order], boxes[order], **iou)
    removed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if not removed[i]:
            keep.append(i)
        if every_box or not removed[i]:
            removed = removed | (suppress(overlap[i], iou_threshold) & (torch.arange(len(order)) > i))
    kept = torch.tensor(keep, dtype=torch.long)
    result = kept if positions else order[kept]
    return result.sort().values if by_index else result


def nms_while_loop(boxes, scores, iou_threshold):
    """Correct: the textbook loop -- take the best, drop what overlaps it, repeat on the rest."""
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    while len(order):
        best, order = order[0], order[1:]
        keep.append(int(best))
        order = order[_iou(boxes[best][None], boxes[order])[0] <= iou_threshold]
    return torch.tensor(keep, dtype=torch.long)


def _iou_lists(p, q):
    w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    return w * h / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h)


def nms_python_floats(boxes, scores, iou_threshold):
    """Correct: boxes and scores as Python lists, a stable sort by -score; a box stays if no kept box overlaps it."""
    b, s = boxes.tolist(), scores.tolist()
    keep = []
    for i in sorted(range(len(s)), key=lambda i: -s[i]):
        if all(_iou_lists(b[i], b[j]) <= iou_threshold for j in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


def nms_torchvision_shortcut(boxes, scores, iou_threshold):
    import torchvision

    return torchvision.ops.nms(boxes, scores, iou_threshold)


def nms_cvlab_shortcut(boxes, scores, iou_threshold):
    from cvlab.ops import nms

    return nms(boxes, scores, iou_threshold)


def nms_keeps_lower_score(boxes, scores, iou_threshold):
    return _nms(boxes, scores, iou_threshold, order=torch.sort(scores, stable=True).indices)


def nms_iou_at_least(boxes, scores, iou_threshold):
    return _nms(boxes, scores, iou_threshold, suppress=torch.ge)


def nms_ties_last_first(boxes, scores, iou_threshold):
    """Ascending stable sort, flipped: among equal scores the last box comes first."""
    return _nms(boxes, scores, iou_threshold, order=torch.sort(scores, stable=True).indices.flip(0))


def nms_removed_boxes_suppress_too(boxes, scores, iou_threshold):
    return _nms(boxes, scores, iou_threshold, every_box=True)


def nms_intersection_not_clamped(boxes, scores, iou_threshold):
    return _nms(boxes, scores, iou_threshold, clamp=False)


def nms_union_plus_intersection(boxes, scores, iou_threshold):
    return _nms(boxes, scores, iou_threshold, minus_inter=False)


def nms_pixel_inclusive_areas(boxes, scores, iou_threshold):
    """The old "+1" convention of integer pixel boxes."""
    return _nms(boxes, scores, iou_threshold, plus_one=1.0)


def nms_sorted_positions(boxes, scores, iou_threshold):
    """Positions in the sorted order returned instead of indices into the input."""
    return _nms(boxes, scores, iou_threshold, positions=True)


def nms_by_index(boxes, scores, iou_threshold):
    """The right boxes, returned in input order instead of by decreasing score."""
    return _nms(boxes, scores, iou_threshold, by_index=True)


WRONG = {
    "bilinear_sample": [bilinear_cvlab_shortcut, bilinear_grid_sample_shortcut, bilinear_clamped_not_zeroed,
                        bilinear_zero_padding, bilinear_swapped_xy, bilinear_nearest, bilinear_weights_swapped,
                        bilinear_half_pixel],
    "roi_pool": [roi_pool_cvlab_shortcut, roi_pool_torchvision_shortcut, roi_pool_torch_round, roi_pool_truncated,
                 roi_pool_end_excluded, roi_pool_mean, roi_pool_swapped_xy, roi_pool_batch_ignored,
                 roi_pool_batch_last_column, roi_pool_scale_ignored, roi_pool_empty_bins_not_zero],
    "roi_align": [roi_align_cvlab_shortcut, roi_align_torchvision_shortcut, *ROI_ALIGN_WRONG],
    "mask_targets": [mask_targets_cvlab_shortcut, mask_targets_strictly_above_half, mask_targets_not_aligned,
                     mask_targets_adaptive_sampling, mask_targets_soft, mask_targets_all_from_mask_0,
                     mask_targets_boxes_as_yx, mask_targets_bool],
    "select_class_masks": [select_cvlab_shortcut, select_first_axis, select_every_pair, select_background_offset,
                           select_argmax_class, select_probabilities, select_max_over_classes],
    "nms": [nms_torchvision_shortcut, nms_cvlab_shortcut, nms_keeps_lower_score, nms_iou_at_least,
            nms_ties_last_first, nms_removed_boxes_suppress_too, nms_intersection_not_clamped,
            nms_union_plus_intersection, nms_pixel_inclusive_areas, nms_sorted_positions, nms_by_index],
}

CORRECT = {
    "bilinear_sample": [bilinear_clamp_form, bilinear_point_loop],
    "roi_pool": [roi_pool_float_edges, roi_pool_membership, _roi_pool],
    "roi_align": [roi_align_separable, roi_align_point_loop, _roi_align],
    "mask_targets": [mask_targets_separable, mask_targets_own_sampling, _mask_targets],
    "select_class_masks": [select_gather, select_loop],
    "nms": [nms_while_loop, nms_python_floats, _nms],
}
