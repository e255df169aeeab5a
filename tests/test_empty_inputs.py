"""Empty inputs (zero batch, zero height, zero points or nodes): the result torch would give, or an error that
names the argument."""

import pytest
import torch

from cvlab.classical import (
    adaptive_threshold,
    affinity_matrix,
    cut_value,
    kmeans,
    kmeans_assign,
    local_threshold,
    match_clusters,
    mean_shift,
    mean_shift_step,
    pixel_features,
)
from cvlab.geometry import backproject, normals_from_depth
from cvlab.metrics import confusion_matrix, segmentation_scores
from cvlab.ops import (
    bed_of_nails,
    conv_transpose2d,
    conv_transpose2d_zero_insertion,
    max_unpool,
    roi_align,
    upsample_bilinear,
    upsample_nearest,
)
from cvlab.viz import colorize, instance_colors

K = torch.tensor([[20.0, 0, 5], [0, 20, 4], [0, 0, 1]])
LONG = {"dtype": torch.long}

WORKS = {  # name: (call, expected shape)
    "mean_shift_step, no points": (lambda: mean_shift_step(torch.zeros(0, 3), torch.rand(5, 3), 0.3), (0, 3)),
    "affinity_matrix, no nodes": (lambda: affinity_matrix(torch.zeros(0, 3), 0.3), (0, 0)),
    "affinity_matrix, no nodes, sparse": (
        lambda: affinity_matrix(torch.zeros(0, 3), 0.3, radius=1.0, positions=torch.zeros(0, 2)), (0, 0)),
    "pixel_features, zero height": (lambda: pixel_features(torch.zeros(3, 0, 4)), (0, 3)),
    "pixel_features rgbxy, zero height": (lambda: pixel_features(torch.zeros(3, 0, 4), "rgbxy"), (0, 5)),
    "pixel_features lab, zero width": (lambda: pixel_features(torch.zeros(3, 4, 0), "labxy"), (0, 5)),
    "adaptive_threshold, zero height": (lambda: adaptive_threshold(torch.zeros(0, 5), 3), (0, 5)),
    "local_threshold, zero width": (lambda: local_threshold(torch.zeros(5, 0), 3), (5, 0)),
    "match_clusters, empty map": (lambda: match_clusters(torch.zeros(0, 5, **LONG), torch.zeros(0, 5, **LONG), 3),
                                  (0, 5)),
    "upsample_nearest, zero batch": (lambda: upsample_nearest(torch.zeros(0, 2, 3, 3), 2), (0, 2, 6, 6)),
    "upsample_nearest, zero height": (lambda: upsample_nearest(torch.zeros(1, 2, 0, 3), 2), (1, 2, 0, 6)),
    "bed_of_nails, zero batch": (lambda: bed_of_nails(torch.zeros(0, 2, 3, 3), 2), (0, 2, 6, 6)),
    "upsample_bilinear, zero batch": (lambda: upsample_bilinear(torch.zeros(0, 2, 3, 3), scale_factor=2),
                                      (0, 2, 6, 6)),
    "upsample_bilinear, zero channels": (lambda: upsample_bilinear(torch.zeros(1, 0, 3, 3), size=4), (1, 0, 4, 4)),
    "max_unpool, zero batch": (lambda: max_unpool(torch.zeros(0, 2, 2, 2), torch.zeros(0, 2, 2, 2, **LONG), 2),
                               (0, 2, 4, 4)),
    "conv_transpose2d, zero batch": (lambda: conv_transpose2d(torch.zeros(0, 2, 3, 3), torch.rand(2, 3, 3, 3)),
                                     (0, 3, 5, 5)),
    "conv_transpose2d_zero_insertion, zero batch": (
        lambda: conv_transpose2d_zero_insertion(torch.zeros(0, 2, 3, 3), torch.rand(2, 3, 3, 3)), (0, 3, 5, 5)),
    "roi_align, no boxes": (lambda: roi_align(torch.rand(1, 2, 5, 5), torch.zeros(0, 5), 2), (0, 2, 2, 2)),
    "confusion_matrix, zero batch": (
        lambda: confusion_matrix(torch.zeros(0, 3, 3, **LONG), torch.zeros(0, 3, 3, **LONG), 3), (3, 3)),
    "colorize, zero height": (lambda: colorize(torch.zeros(0, 3, **LONG)), (0, 3, 3)),
    "instance_colors, zero height": (lambda: instance_colors(torch.zeros(0, 3, **LONG)), (0, 3, 3)),
    "backproject, zero batch": (lambda: backproject(torch.zeros(0, 4, 5), K), (0, 3, 4, 5)),
    "normals_from_depth, zero batch": (lambda: normals_from_depth(torch.zeros(0, 4, 5), K), (0, 3, 4, 5)),
    "cut_value, no nodes": (lambda: torch.tensor(cut_value(torch.zeros(0, 0), torch.zeros(0, dtype=torch.bool))),
                            ()),
}

RAISES = {  # name: (call, the argument the message must start with)
    "kmeans, no points": (lambda: kmeans(torch.zeros(0, 3), 2), "features"),
    "kmeans_assign, no points": (lambda: kmeans_assign(torch.zeros(0, 3), torch.rand(2, 3)), "features"),
    "mean_shift, no points": (lambda: mean_shift(torch.zeros(0, 3), 0.3), "features"),
    "upsample_bilinear, zero height": (lambda: upsample_bilinear(torch.zeros(1, 2, 0, 3), size=(4, 4)), "input"),
}


@pytest.mark.parametrize("name", sorted(WORKS))
def test_empty_input_gives_an_empty_result(name):
    call, shape = WORKS[name]
    assert tuple(call().shape) == shape


@pytest.mark.parametrize("name", sorted(RAISES))
def test_empty_input_raises_naming_the_argument(name):
    call, argument = RAISES[name]
    with pytest.raises(ValueError, match=f"^{argument}: "):
        call()


def test_scores_of_an_empty_batch_are_nan():
    scores = segmentation_scores(torch.zeros(0, 3, 3, **LONG), torch.zeros(0, 3, 3, **LONG), 3)
    assert torch.isnan(torch.as_tensor(scores["mean_iou"])) and scores["confusion"].sum() == 0
