"""Upsampling inside a network (size arithmetic, transposed convolution, the upsampling zoo); RoI pooling and boxes."""

from cvlab.ops.arithmetic import conv_output_size, conv_transpose_output_size
from cvlab.ops.boxes import (
    anchor_grid,
    batched_nms,
    box_iou,
    decode_boxes,
    encode_boxes,
    fcos_points,
    fcos_targets,
    nms,
)
from cvlab.ops.roi import bilinear_sample, roi_align, roi_pool
from cvlab.ops.transposed import conv_as_matrix, conv_transpose2d, conv_transpose2d_zero_insertion
from cvlab.ops.upsampling import (
    bed_of_nails,
    bilinear_kernel,
    max_unpool,
    upsample_bilinear,
    upsample_nearest,
)

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "conv_transpose2d",
    "conv_transpose2d_zero_insertion",
    "conv_as_matrix",
    "upsample_nearest",
    "bed_of_nails",
    "max_unpool",
    "upsample_bilinear",
    "bilinear_kernel",
    "bilinear_sample",
    "roi_align",
    "roi_pool",
    # detection primer (unit 4)
    "box_iou",
    "nms",
    "batched_nms",
    "anchor_grid",
    "encode_boxes",
    "decode_boxes",
    "fcos_points",
    "fcos_targets",
]
