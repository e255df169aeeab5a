"""A2 "upsampling": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The transposed-convolution and unpooling mistakes include those that only show where copies or pooling windows
overlap (``conv_transpose2d_assigns_copies``, ``max_unpool_adds_duplicates``): the cases use kernels larger than
the stride so that these lose their points.
"""

import torch
import torch.nn.functional as F


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# --- conv_transpose_output_size(n, k, s=1, p=0, d=1, output_padding=0) -----------------------------------------


def conv_transpose_output_size_cvlab_shortcut(n, k, s=1, p=0, d=1, output_padding=0):
    from cvlab.ops import conv_transpose_output_size

    return conv_transpose_output_size(n, k, s, p, d, output_padding)


def conv_transpose_output_size_from_torch(n, k, s=1, p=0, d=1, output_padding=0):
    x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
    return F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=output_padding, dilation=d).shape[-1]


def conv_transpose_output_size_without_plus_one(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + d * (k - 1) + output_padding


def conv_transpose_output_size_n_times_s(n, k, s=1, p=0, d=1, output_padding=0):
    return n * s - 2 * p + d * (k - 1) + output_padding + 1


def conv_transpose_output_size_upsampling_factor(n, k, s=1, p=0, d=1, output_padding=0):
    return n * s


def conv_transpose_output_size_convolution_formula(n, k, s=1, p=0, d=1, output_padding=0):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_transpose_output_size_padding_once(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - p + d * (k - 1) + output_padding + 1


def conv_transpose_output_size_padding_added(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s + 2 * p + d * (k - 1) + output_padding + 1


def conv_transpose_output_size_no_dilation(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + (k - 1) + output_padding + 1


def conv_transpose_output_size_dilation_times_k(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + d * k + output_padding


def conv_transpose_output_size_no_output_padding(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + d * (k - 1) + 1


def conv_transpose_output_size_output_padding_both_sides(n, k, s=1, p=0, d=1, output_padding=0):
    return (n - 1) * s - 2 * p + d * (k - 1) + 2 * output_padding + 1


# --- conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0) ---------------------------


def _frame(input, weight, stride, *, add=True, kernel=None, first_image=False, first_channel=False,
           spacing=None, bias_per_copy=None, square=False):
    """The uncropped sum of scaled kernel copies, with switches for the mistakes below."""
    sh, sw = _pair(stride)
    w = weight if kernel is None else kernel(weight)
    batch, _, height, width = input.shape
    _, c_out, kh, kw = w.shape
    if square:
        width, kw = height, kh
    step_h, step_w, tap_h, tap_w = (sh, sw, 1, 1) if spacing is None else (1, 1, sh, sw)
    frame = input.new_zeros(batch, c_out, (height - 1) * step_h + tap_h * (kh - 1) + 1,
                            (width - 1) * step_w + tap_w * (kw - 1) + 1)
    for i in range(height):
        for j in range(width):
            if first_channel:
                copy = input[:, 0, i, j, None, None, None] * w[0]
            elif first_image:
                copy = torch.einsum("c,couv->ouv", input[0, :, i, j], w).expand(batch, -1, -1, -1)
            else:
                copy = torch.einsum("bc,couv->bouv", input[:, :, i, j], w)
            if bias_per_copy is not None:
                copy = copy + bias_per_copy.view(-1, 1, 1)
            rows = slice(i * step_h, i * step_h + tap_h * (kh - 1) + 1, tap_h)
            cols = slice(j * step_w, j * step_w + tap_w * (kw - 1) + 1, tap_w)
            if add:
                frame[:, :, rows, cols] += copy
            else:
                frame[:, :, rows, cols] = copy
    return frame


def _finish(frame, bias, padding, output_padding, *, top=None, left=None):
    """Extend by output_padding at the bottom / right, crop padding from every side, add the bias."""
    (ph, pw), (oh, ow) = _pair(padding), _pair(output_padding)
    frame = F.pad(frame, (0, ow, 0, oh))
    h, w = frame.shape[-2:]
    out = frame[:, :, ph:h - ph, pw:w - pw]
    if top is not None:  # the same size, cropped elsewhere
        out = frame[:, :, top:top + h - 2 * ph, left:left + w - 2 * pw]
    return out if bias is None else out + bias.view(-1, 1, 1)


def conv_transpose2d_torch_shortcut(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding)


def conv_transpose2d_fold_shortcut(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    batch, _, h, w = input.shape
    _, c_out, kh, kw = weight.shape
    (sh, sw) = _pair(stride)
    copies = torch.einsum("bcij,couv->bouvij", input, weight).reshape(batch, c_out * kh * kw, h * w)
    frame = F.fold(copies, ((h - 1) * sh + kh, (w - 1) * sw + kw), (kh, kw), stride=(sh, sw))
    return _finish(frame, bias, padding, output_padding)


def conv_transpose2d_gradient_shortcut(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    from torch.nn.grad import conv2d_input

    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, _, h, w), (_, c_out, kh, kw) = input.shape, weight.shape
    size = (batch, c_out, (h - 1) * sh - 2 * ph + kh + oh, (w - 1) * sw - 2 * pw + kw + ow)
    out = conv2d_input(size, weight, input, stride=(sh, sw), padding=(ph, pw))
    return out if bias is None else out + bias.view(-1, 1, 1)


def conv_transpose2d_adjoint_of_convolution(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """The transposed convolution is the adjoint of the convolution: its gradient with respect to the input.

    Correct values, but a banned route: autograd runs aten::convolution_backward, the very transposed convolution
    the task asks for, so the operator-level ban refuses it (it used to pass when bans watched Python names)."""
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, _, h, w), (_, c_out, kh, kw) = input.shape, weight.shape
    size = (batch, c_out, (h - 1) * sh - 2 * ph + kh + oh, (w - 1) * sw - 2 * pw + kw + ow)
    z = input.new_zeros(size, requires_grad=True)
    (result,) = torch.autograd.grad(F.conv2d(z, weight, stride=(sh, sw), padding=(ph, pw)), z, input)
    return result if bias is None else result + bias.view(-1, 1, 1)


def conv_transpose2d_cvlab_shortcut(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    from cvlab.ops import conv_transpose2d

    return conv_transpose2d(input, weight, bias, stride, padding, output_padding)


def conv_transpose2d_assigns_copies(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Writes each copy (=) instead of adding it: right only when stride >= kernel (no overlaps)."""
    return _finish(_frame(input, weight, stride, add=False), bias, padding, output_padding)


def conv_transpose2d_flipped_kernel(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride, kernel=lambda w: w.flip(-2, -1)), bias, padding, output_padding)


def conv_transpose2d_zero_insertion_unflipped(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Zero insertion and a full convolution -- with the kernel not flipped."""
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, c_in, h, w), (_, _, kh, kw) = input.shape, weight.shape
    spread = input.new_zeros(batch, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1)
    spread[:, :, ::sh, ::sw] = input
    spread = F.pad(spread, (kw - 1 - pw, kw - 1 - pw + ow, kh - 1 - ph, kh - 1 - ph + oh))
    return F.conv2d(spread, weight.transpose(0, 1), bias)


def conv_transpose2d_padding_not_cropped(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride), bias, 0, output_padding)


def conv_transpose2d_padding_cropped_at_start(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    ph, pw = _pair(padding)
    return _finish(_frame(input, weight, stride), bias, padding, output_padding, top=2 * ph, left=2 * pw)


def conv_transpose2d_padding_cropped_at_end(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride), bias, padding, output_padding, top=0, left=0)


def conv_transpose2d_padding_as_in_convolution(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Pads the input with zeros, as a convolution would, and crops nothing."""
    ph, pw = _pair(padding)
    return _finish(_frame(F.pad(input, (pw, pw, ph, ph)), weight, stride), bias, 0, output_padding)


def conv_transpose2d_stride_spaces_the_taps(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Applies the stride to the kernel's taps (a dilation) instead of to the spacing of the copies."""
    return _finish(_frame(input, weight, stride, spacing="taps"), bias, padding, output_padding)


def conv_transpose2d_weight_out_in(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Reads the weight as (C_out, C_in, kH, kW), the layout of nn.Conv2d."""
    return _finish(_frame(input, weight, stride, kernel=lambda w: w.transpose(0, 1)), bias, padding,
                   output_padding)


def conv_transpose2d_kernel_transposed(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride, kernel=lambda w: w.transpose(-2, -1)), bias, padding,
                   output_padding)


def conv_transpose2d_square_only(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Takes the height for the width, of the input and of the kernel."""
    return _finish(_frame(input, weight, stride, square=True), bias, padding, output_padding)


def conv_transpose2d_stride_height_only(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    sh = _pair(stride)[0]
    return _finish(_frame(input, weight, sh), bias, padding, output_padding)


def conv_transpose2d_first_image_only(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride, first_image=True), bias, padding, output_padding)


def conv_transpose2d_first_input_channel_only(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride, first_channel=True), bias, padding, output_padding)


def conv_transpose2d_averages_overlaps(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Divides every pixel by the number of copies that reach it."""
    frame = _frame(input, weight, stride)
    ones = torch.ones_like(input[:1, :1])
    count = _frame(ones, torch.ones_like(weight[:1, :1]), stride)
    return _finish(frame / count.clamp(min=1), bias, padding, output_padding)


def conv_transpose2d_frame_n_times_s(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Sizes the frame n * s + k (one stride too many), as if every input owned s pixels plus a kernel."""
    sh, sw = _pair(stride)
    frame = F.pad(_frame(input, weight, stride), (0, sw, 0, sh))
    return _finish(frame, bias, padding, output_padding)


def conv_transpose2d_output_padding_ignored(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride), bias, padding, 0)


def conv_transpose2d_output_padding_by_slicing(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Crops p - output_padding at the bottom / right by slicing: short where output_padding > padding."""
    (ph, pw), (oh, ow) = _pair(padding), _pair(output_padding)
    frame = _frame(input, weight, stride)
    h, w = frame.shape[-2:]
    out = frame[:, :, ph:h - ph + oh, pw:w - pw + ow]
    return out if bias is None else out + bias.view(-1, 1, 1)


def conv_transpose2d_output_padding_at_start(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    (ph, pw), (oh, ow) = _pair(padding), _pair(output_padding)
    frame = F.pad(_frame(input, weight, stride), (ow, 0, oh, 0))
    h, w = frame.shape[-2:]
    out = frame[:, :, ph:h - ph, pw:w - pw]
    return out if bias is None else out + bias.view(-1, 1, 1)


def conv_transpose2d_bias_ignored(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride), None, padding, output_padding)


def conv_transpose2d_bias_in_every_copy(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    return _finish(_frame(input, weight, stride, bias_per_copy=bias), None, padding, output_padding)


def conv_transpose2d_float32_accumulator(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Sums the copies into a default (float32) tensor: right values, but float64 inputs lose their precision."""
    return _finish(_frame(input.float(), weight.float(), stride), bias, padding, output_padding)


# --- bilinear_kernel(channels, k) -------------------------------------------------------------------------------


def _on_diagonal(tent, channels):
    weight = torch.zeros(channels, channels, len(tent), len(tent))
    weight[range(channels), range(channels)] = tent[:, None] * tent[None, :]
    return weight


def _tent(k, centre, factor):
    return 1 - (torch.arange(k, dtype=torch.float32) - centre).abs() / factor


def bilinear_kernel_interpolate_shortcut(channels, k):
    impulse = torch.tensor([[[0.0, 1.0, 0.0]]])
    tent = F.interpolate(impulse, size=k + 2, mode="linear", align_corners=True)[0, 0, 1:-1]
    return _on_diagonal(tent, channels)


def bilinear_kernel_cvlab_shortcut(channels, k):
    from cvlab.ops import bilinear_kernel

    return bilinear_kernel(channels, k)


def bilinear_kernel_centre_half_a_pixel_off(channels, k):
    return _on_diagonal(_tent(k, k / 2, (k + 1) // 2), channels)


def bilinear_kernel_factor_half_k(channels, k):
    return _on_diagonal(_tent(k, (k - 1) / 2, k / 2), channels)


def bilinear_kernel_factor_floor(channels, k):
    return _on_diagonal(_tent(k, (k - 1) / 2, max(k // 2, 1)), channels)


def bilinear_kernel_even_centre_for_odd_k(channels, k):
    f = (k + 1) // 2
    return _on_diagonal(_tent(k, f - 0.5, f), channels)


def bilinear_kernel_caffe_filler(channels, k):
    """Caffe's BilinearFiller, meant for k = 2f - f % 2 only."""
    f = (k + 1) // 2
    c = (2 * f - 1 - f % 2) / (2 * f)
    tent = 1 - (torch.arange(k, dtype=torch.float32) / f - c).abs()
    return _on_diagonal(tent, channels)


def bilinear_kernel_divides_by_k(channels, k):
    return _on_diagonal(_tent(k, (k - 1) / 2, k), channels)


def bilinear_kernel_every_channel_pair(channels, k):
    tent = _tent(k, (k - 1) / 2, (k + 1) // 2)
    return (tent[:, None] * tent[None, :]).expand(channels, channels, k, k).clone()


def bilinear_kernel_normalised(channels, k):
    weight = _on_diagonal(_tent(k, (k - 1) / 2, (k + 1) // 2), channels)
    return weight / weight[0, 0].sum()


def bilinear_kernel_rows_only(channels, k):
    tent = _tent(k, (k - 1) / 2, (k + 1) // 2)
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = tent[:, None].expand(k, k)
    return weight


def bilinear_kernel_outer_sum(channels, k):
    tent = _tent(k, (k - 1) / 2, (k + 1) // 2)
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = (tent[:, None] + tent[None, :]) / 2
    return weight


# --- max_unpool(input, indices, output_size) --------------------------------------------------------------------


def max_unpool_torch_shortcut(input, indices, output_size):
    return F.max_unpool2d(input, indices, kernel_size=2, output_size=output_size)


def max_unpool_cvlab_shortcut(input, indices, output_size):
    from cvlab.ops import max_unpool

    return max_unpool(input, indices, kernel_size=1, output_size=output_size)


def max_unpool_indices_into_the_whole_tensor(input, indices, output_size):
    """Reads the indices as positions in the whole (B, C, H, W) tensor rather than in each plane."""
    b, c = input.shape[:2]
    out = input.new_zeros(b * c * output_size[0] * output_size[1])
    out[indices.flatten()] = input.flatten()
    return out.view(b, c, *output_size)


def max_unpool_first_image_indices(input, indices, output_size):
    """Uses the first image's indices for every image of the batch."""
    b, c = input.shape[:2]
    out = input.new_zeros(b, c, output_size[0] * output_size[1])
    out = out.scatter(2, indices[:1].flatten(2).expand(b, -1, -1), input.flatten(2))
    return out.view(b, c, *output_size)


def max_unpool_rows_from_height(input, indices, output_size):
    """Splits a flat index with the height, right only for square maps."""
    h, w = output_size
    out = input.new_zeros(*input.shape[:2], h, w)
    rows, cols = indices // h, indices % h
    b = torch.arange(input.shape[0]).view(-1, 1, 1, 1)
    c = torch.arange(input.shape[1]).view(1, -1, 1, 1)
    out[b, c, rows.clamp(max=h - 1), cols.clamp(max=w - 1)] = input
    return out


def max_unpool_output_size_ignored(input, indices, output_size):
    """Assumes 2x2 pooling: the output is twice the input."""
    b, c, h, w = input.shape
    out = input.new_zeros(b, c, 4 * h * w).scatter(2, indices.flatten(2).clamp(max=4 * h * w - 1),
                                                   input.flatten(2))
    return out.view(b, c, 2 * h, 2 * w)


def max_unpool_adds_duplicates(input, indices, output_size):
    """scatter_add: a pixel that is the maximum of two overlapping windows comes back twice as large."""
    b, c = input.shape[:2]
    out = input.new_zeros(b, c, output_size[0] * output_size[1])
    return out.scatter_add(2, indices.flatten(2), input.flatten(2)).view(b, c, *output_size)


def max_unpool_amax_with_zeros(input, indices, output_size):
    """scatter_reduce('amax') onto zeros: negative maxima are lost."""
    b, c = input.shape[:2]
    out = input.new_zeros(b, c, output_size[0] * output_size[1])
    return out.scatter_reduce(2, indices.flatten(2), input.flatten(2), "amax").view(b, c, *output_size)


def max_unpool_nearest(input, indices, output_size):
    """Repeats every value over its window (nearest upsampling) instead of using the indices."""
    h, w = output_size
    sh, sw = -(-h // input.shape[-2]), -(-w // input.shape[-1])
    return input.repeat_interleave(sh, -2).repeat_interleave(sw, -1)[..., :h, :w]


def max_unpool_bed_of_nails(input, indices, output_size):
    """Puts every value at the top-left corner of its window, ignoring the indices."""
    h, w = output_size
    sh, sw = h // input.shape[-2], w // input.shape[-1]
    out = input.new_zeros(*input.shape[:2], h, w)
    out[..., : sh * input.shape[-2]: sh, : sw * input.shape[-1]: sw] = input
    return out


def max_unpool_rows_and_columns_swapped(input, indices, output_size):
    h, w = output_size
    out = input.new_zeros(*input.shape[:2], w, h).flatten(2)
    out = out.scatter(2, indices.flatten(2), input.flatten(2)).view(*input.shape[:2], w, h)
    return out.transpose(-2, -1)


WRONG = {
    "conv_transpose_output_size": [
        conv_transpose_output_size_cvlab_shortcut, conv_transpose_output_size_from_torch,
        conv_transpose_output_size_without_plus_one, conv_transpose_output_size_n_times_s,
        conv_transpose_output_size_upsampling_factor, conv_transpose_output_size_convolution_formula,
        conv_transpose_output_size_padding_once, conv_transpose_output_size_padding_added,
        conv_transpose_output_size_no_dilation, conv_transpose_output_size_dilation_times_k,
        conv_transpose_output_size_no_output_padding, conv_transpose_output_size_output_padding_both_sides,
    ],
    "conv_transpose2d": [
        conv_transpose2d_float32_accumulator,
        conv_transpose2d_torch_shortcut, conv_transpose2d_fold_shortcut, conv_transpose2d_gradient_shortcut,
        conv_transpose2d_adjoint_of_convolution,
        conv_transpose2d_cvlab_shortcut, conv_transpose2d_assigns_copies, conv_transpose2d_flipped_kernel,
        conv_transpose2d_zero_insertion_unflipped, conv_transpose2d_padding_not_cropped,
        conv_transpose2d_padding_cropped_at_start, conv_transpose2d_padding_cropped_at_end,
        conv_transpose2d_padding_as_in_convolution, conv_transpose2d_stride_spaces_the_taps,
        conv_transpose2d_weight_out_in, conv_transpose2d_kernel_transposed, conv_transpose2d_square_only,
        conv_transpose2d_stride_height_only, conv_transpose2d_first_image_only,
        conv_transpose2d_first_input_channel_only, conv_transpose2d_averages_overlaps,
        conv_transpose2d_frame_n_times_s, conv_transpose2d_output_padding_ignored,
        conv_transpose2d_output_padding_by_slicing, conv_transpose2d_output_padding_at_start,
        conv_transpose2d_bias_ignored, conv_transpose2d_bias_in_every_copy,
    ],
    "bilinear_kernel": [
        bilinear_kernel_interpolate_shortcut, bilinear_kernel_cvlab_shortcut, bilinear_kernel_centre_half_a_pixel_off,
        bilinear_kernel_factor_half_k, bilinear_kernel_factor_floor, bilinear_kernel_even_centre_for_odd_k,
        bilinear_kernel_caffe_filler, bilinear_kernel_divides_by_k, bilinear_kernel_every_channel_pair,
        bilinear_kernel_normalised, bilinear_kernel_rows_only, bilinear_kernel_outer_sum,
    ],
    "max_unpool": [
        max_unpool_torch_shortcut, max_unpool_cvlab_shortcut, max_unpool_indices_into_the_whole_tensor,
        max_unpool_first_image_indices, max_unpool_rows_from_height, max_unpool_output_size_ignored,
        max_unpool_adds_duplicates, max_unpool_amax_with_zeros, max_unpool_nearest, max_unpool_bed_of_nails,
        max_unpool_rows_and_columns_swapped,
    ],
}


# --- different correct implementations --------------------------------------------------------------------------


def conv_transpose_output_size_by_placing_taps(n, k, s=1, p=0, d=1, output_padding=0):
    """Place every tap of every copy, take the span, crop and extend."""
    last = max(i * s + u * d for i in range(n) for u in range(k))
    return last + 1 - 2 * p + output_padding


def conv_transpose_output_size_inverse_of_convolution(n, k, s=1, p=0, d=1, output_padding=0):
    """The smallest size a convolution with the same settings maps to n, plus output_padding."""
    extent = d * (k - 1) + 1
    return s * (n - 1) + extent - 2 * p + output_padding


def conv_transpose2d_tap_loop(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Loop over the kernel taps: tap (u, v) of all copies at once lands on a strided grid."""
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, _, h, w), (_, c_out, kh, kw) = input.shape, weight.shape
    frame = input.new_zeros(batch, c_out, (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow)
    for u in range(kh):
        for v in range(kw):
            tap = torch.einsum("bchw,co->bohw", input, weight[:, :, u, v])
            frame[:, :, u:u + (h - 1) * sh + 1:sh, v:v + (w - 1) * sw + 1:sw] += tap
    out = frame[:, :, ph:frame.shape[2] - ph, pw:frame.shape[3] - pw]
    return out if bias is None else out + bias.view(-1, 1, 1)


def conv_transpose2d_zero_insertion(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Insert s - 1 zeros between the inputs, pad by k - 1 - p, convolve with the flipped kernel."""
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, c_in, h, w), (_, _, kh, kw) = input.shape, weight.shape
    spread = input.new_zeros(batch, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1)
    spread[:, :, ::sh, ::sw] = input
    spread = F.pad(spread, (kw - 1 - pw, kw - 1 - pw + ow, kh - 1 - ph, kh - 1 - ph + oh))
    return F.conv2d(spread, weight.flip(-2, -1).transpose(0, 1), bias)


def conv_transpose2d_index_add(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """All copies at once: every (copy, tap) gets its flat target position; index_add sums the collisions."""
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    (batch, _, h, w), (_, c_out, kh, kw) = input.shape, weight.shape
    frame_h, frame_w = (h - 1) * sh + kh, (w - 1) * sw + kw
    copies = torch.einsum("bcij,couv->boijuv", input, weight).reshape(batch, c_out, -1)
    rows = (torch.arange(h)[:, None] * sh + torch.arange(kh)[None, :]).to(input.device)  # (h, kh)
    cols = (torch.arange(w)[:, None] * sw + torch.arange(kw)[None, :]).to(input.device)  # (w, kw)
    target = (rows[:, None, :, None] * frame_w + cols[None, :, None, :]).flatten()
    frame = input.new_zeros(batch, c_out, frame_h * frame_w).index_add(2, target, copies)
    frame = F.pad(frame.view(batch, c_out, frame_h, frame_w), (-pw, ow - pw, -ph, oh - ph))
    return frame if bias is None else frame + bias.view(-1, 1, 1)


def bilinear_kernel_fcn_centre(channels, k):
    """FCN's upsample_filt: centre factor - 1 for odd k, factor - 0.5 for even k; eye() for the channels."""
    factor = (k + 1) // 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    grid = torch.arange(k, dtype=torch.float32)
    tent = 1 - (grid - centre).abs() / factor
    return torch.eye(channels)[:, :, None, None] * (tent[:, None] * tent[None, :])


def bilinear_kernel_loops(channels, k):
    f = (k + 1) // 2
    c = (k - 1) / 2
    weight = torch.zeros(channels, channels, k, k)
    for ch in range(channels):
        for u in range(k):
            for v in range(k):
                weight[ch, ch, u, v] = (1 - abs(u - c) / f) * (1 - abs(v - c) / f)
    return weight


def max_unpool_advanced_indexing(input, indices, output_size):
    b, c = input.shape[:2]
    h, w = output_size
    out = input.new_zeros(b, c, h, w)
    batch = torch.arange(b, device=input.device).view(-1, 1, 1, 1)
    channel = torch.arange(c, device=input.device).view(1, -1, 1, 1)
    out[batch, channel, indices // w, indices % w] = input
    return out


def max_unpool_loops(input, indices, output_size):
    b, c = input.shape[:2]
    out = input.new_zeros(b, c, output_size[0] * output_size[1])
    for i in range(b):
        for j in range(c):
            out[i, j, indices[i, j].flatten()] = input[i, j].flatten()
    return out.view(b, c, *output_size)


def max_unpool_global_offsets(input, indices, output_size):
    """Shift every plane's indices by its offset in the whole tensor, then one flat assignment."""
    b, c = input.shape[:2]
    plane = output_size[0] * output_size[1]
    offsets = torch.arange(b * c, device=input.device).view(b, c, 1, 1) * plane
    out = input.new_zeros(b * c * plane)
    out[(indices + offsets).flatten()] = input.flatten()
    return out.view(b, c, *output_size)


CORRECT = {
    "conv_transpose_output_size": [conv_transpose_output_size_by_placing_taps,
                                   conv_transpose_output_size_inverse_of_convolution],
    "conv_transpose2d": [conv_transpose2d_tap_loop, conv_transpose2d_zero_insertion, conv_transpose2d_index_add],
    "bilinear_kernel": [bilinear_kernel_fcn_centre, bilinear_kernel_loops],
    "max_unpool": [max_unpool_advanced_indexing, max_unpool_loops, max_unpool_global_offsets],
}
