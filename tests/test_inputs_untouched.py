"""No public function writes into its inputs: every one is called here on fresh tensors (some of them views of
one another, the case that hides a write best) and the inputs are compared with copies taken before the call.

A public function or class added to one of ``MODULES`` without an entry in ``CALLS`` fails
``test_every_public_callable_is_covered``: add a call for it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODULES = ["cvlab.classical", "cvlab.ops", "cvlab.metrics", "cvlab.losses", "cvlab.geometry", "cvlab.viz"]
# result containers and factories that take no tensor
NOT_CALLED = {"Bipartition", "KMeansResult", "MeanShiftResult", "ThermalDemo", "uneven_illumination_demo",
              "pixel_positions", "bilinear_kernel", "conv_output_size", "conv_transpose_output_size", "palette",
              "class_colors", "PQSummary", "PanopticCounts", "PanopticQualityResult", "SegmentPairs", "anchor_grid",
              "fcos_points"}


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _features() -> torch.Tensor:
    return torch.rand(40, 3, generator=_g())


def _labels(*shape: int, k: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randint(k, shape, generator=_g(seed))


def _graph() -> torch.Tensor:
    x = torch.rand(12, 2, generator=_g())
    w = torch.exp(-torch.cdist(x, x).square() / 0.1)
    return w.fill_diagonal_(0)


def _boxes(n: int, seed: int = 0) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=_g(seed)) * 10
    return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=_g(seed + 1)) * 5], dim=1)


def _K() -> torch.Tensor:
    return torch.tensor([[20.0, 0, 5], [0, 20, 4], [0, 0, 1]])


def _pooled():
    pooled, indices = F.max_pool2d(torch.rand(1, 2, 4, 4, generator=_g()), 2, return_indices=True)
    return pooled, indices


def _depth() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    target = torch.rand(2, 1, 8, 8, generator=_g()) + 1
    return torch.rand(2, 1, 8, 8, generator=_g(1)) + 1, target, torch.rand(2, 1, 8, 8, generator=_g(2)) > 0.2


def _panoptic(seed: int) -> torch.Tensor:
    category = torch.randint(3, (6, 7), generator=_g(seed))
    return torch.stack([category, torch.where(category < 2, torch.randint(1, 3, (6, 7), generator=_g(seed + 1)), 0)],
                       dim=-1)


def _instances(seed: int) -> dict:
    masks = torch.rand(3, 8, 8, generator=_g(seed)) > 0.5
    return {"masks": masks, "boxes": _boxes(3, seed), "labels": torch.tensor([1, 2, 1]),
            "scores": torch.rand(3, generator=_g(seed + 7))}


def _mean_shift_on_a_view():
    x = _features()
    return (x, 0.3), {"seeds": x[:5]}  # seeds view the data: a write into one changes the other


def _meter(cls_name: str, *args):
    def call(output, target):
        meter = getattr(importlib.import_module("cvlab.train"), cls_name)(*args)
        meter.update(output, target)
        return meter.compute()
    return call


# name -> () -> (args, kwargs); the tensors in args/kwargs are those checked
CALLS: dict[str, Callable[[], tuple[tuple, dict]]] = {
    # classical
    "adaptive_threshold": lambda: ((torch.rand(9, 11, generator=_g()), 5), {}),
    "local_threshold": lambda: ((torch.rand(9, 11, generator=_g()), 5), {}),
    "affinity_matrix": lambda: ((_features(), 0.3), {"radius": 0.5, "positions": torch.rand(40, 2)}),
    "assoc": lambda: ((_graph(), torch.arange(12) < 5), {}),
    "cut_value": lambda: ((_graph(), torch.arange(12) < 5), {}),
    "ncut_value": lambda: ((_graph(), torch.arange(12) < 5), {}),
    "min_cut": lambda: ((_graph(), 0, torch.tensor([11])), {}),
    "ncut_bipartition": lambda: ((_graph(),), {}),
    "ncut_eigenvectors": lambda: ((_graph(),), {"k": 3}),
    "normalized_cut": lambda: ((_graph(),), {}),
    "clustering_miou": lambda: ((_labels(6, 7), _labels(6, 7, seed=2), 4), {}),
    "match_clusters": lambda: ((_labels(6, 7), _labels(6, 7, seed=2), 4), {}),
    "kmeans": lambda: ((_features(), 3), {"init": _features()[:3], "n_init": 1}),
    "kmeans_assign": lambda: ((_features(), _features()[:3]), {}),
    "kmeans_update": lambda: ((_features(), _labels(40, k=3), 3, _features()[:3]), {}),
    "mean_shift": _mean_shift_on_a_view,
    "mean_shift_step": lambda: (lambda x: ((x[:5], x, 0.3), {}))(_features()),
    "pixel_features": lambda: ((torch.rand(3, 5, 6, generator=_g()), "rgbxy"), {}),
    # ops
    "conv_transpose2d": lambda: ((torch.rand(1, 2, 4, 4), torch.rand(2, 3, 3, 3), torch.rand(3)), {"stride": 2}),
    "conv_transpose2d_zero_insertion": lambda: ((torch.rand(1, 2, 4, 4), torch.rand(2, 3, 3, 3), torch.rand(3)),
                                                {"stride": 2}),
    "conv_as_matrix": lambda: ((torch.rand(3, 2, 3, 3), (5, 5)), {}),
    "upsample_nearest": lambda: ((torch.rand(1, 2, 3, 4), 2), {}),
    "bed_of_nails": lambda: ((torch.rand(1, 2, 3, 4), 2), {}),
    "max_unpool": lambda: ((*_pooled(), 2), {}),
    "upsample_bilinear": lambda: ((torch.rand(1, 2, 3, 4),), {"scale_factor": 2}),
    "bilinear_sample": lambda: ((torch.rand(2, 5, 6), torch.rand(3, 4) * 4, torch.rand(3, 4) * 5), {}),
    "roi_align": lambda: ((torch.rand(2, 3, 8, 8), torch.tensor([[0, 1.0, 1, 5, 6], [1, 0, 2, 7, 7]]), 2), {}),
    "roi_pool": lambda: ((torch.rand(2, 3, 8, 8), torch.tensor([[0, 1.0, 1, 5, 6], [1, 0, 2, 7, 7]]), 2), {}),
    "box_iou": lambda: ((_boxes(4), _boxes(3, seed=2)), {}),
    "nms": lambda: ((_boxes(6), torch.rand(6, generator=_g()), 0.5), {}),
    "batched_nms": lambda: ((_boxes(6), torch.rand(6, generator=_g()), torch.tensor([0, 1, 0, 1, 0, 1]), 0.5), {}),
    "encode_boxes": lambda: ((_boxes(4), _boxes(4, seed=2)), {}),
    "decode_boxes": lambda: ((torch.rand(4, 4, generator=_g()) - 0.5, _boxes(4, seed=2)), {}),
    "fcos_targets": lambda: ((torch.rand(10, 2, generator=_g()) * 12, _boxes(3)), {}),
    # metrics
    "confusion_matrix": lambda: ((_labels(2, 5, 6), _labels(2, 5, 6, seed=2), 4), {}),
    "pixel_accuracy": lambda: ((_labels(4, 4, seed=3),), {}),
    "iou_per_class": lambda: ((_labels(4, 4, seed=3),), {}),
    "mean_iou": lambda: ((_labels(4, 4, seed=3),), {}),
    "dice_per_class": lambda: ((_labels(4, 4, seed=3),), {}),
    "segmentation_scores": lambda: ((_labels(2, 5, 6), _labels(2, 5, 6, seed=2), 4), {}),
    "mask_to_boundary": lambda: ((torch.rand(9, 9, generator=_g()) > 0.5,), {}),
    "boundary_iou": lambda: ((torch.rand(9, 9, generator=_g()) > 0.5, torch.rand(9, 9, generator=_g(1)) > 0.5), {}),
    "boundary_iou_per_class": lambda: ((_labels(2, 9, 9), _labels(2, 9, 9, seed=2), 4), {}),
    "depth_metrics": lambda: (_depth(), {}),
    "align_disparity": lambda: (_depth(), {}),
    "psnr": lambda: ((torch.rand(3, 8, 8, generator=_g()), torch.rand(3, 8, 8, generator=_g(1))), {}),
    "ssim": lambda: ((torch.rand(3, 16, 16, generator=_g()), torch.rand(3, 16, 16, generator=_g(1))), {}),
    "image_scores": lambda: (([torch.rand(3, 16, 16, generator=_g())], [torch.rand(3, 16, 16, generator=_g(1))]), {}),
    "match_segments": lambda: ((_panoptic(0), _panoptic(5), [0, 1], [2]), {}),
    "panoptic_counts": lambda: ((_panoptic(0), _panoptic(5), [0, 1], [2]), {}),
    "panoptic_quality": lambda: ((_panoptic(0), _panoptic(5), [0, 1], [2]), {}),
    "pq_from_counts": lambda: ((torch.tensor([2, 0]), torch.tensor([1, 1]), torch.tensor([0, 2]),
                                torch.tensor([1.5, 0.0])), {}),
    "mask_ap": lambda: (([_instances(0)], [{k: v for k, v in _instances(3).items() if k != "scores"}]), {}),
    # losses
    "iou_loss": lambda: ((_boxes(5), _boxes(5, seed=3)), {}),
    "giou_loss": lambda: ((_boxes(5), _boxes(5, seed=3)), {}),
    "IoULoss": lambda: ((_boxes(5), _boxes(5, seed=3)), {}),
    "GIoULoss": lambda: ((_boxes(5), _boxes(5, seed=3)), {}),
    "sigmoid_focal_loss": lambda: ((torch.randn(4, 6), torch.rand(4, 6).round()), {}),
    "SigmoidFocalLoss": lambda: ((torch.randn(4, 6), torch.rand(4, 6).round()), {}),
    "class_weights": lambda: ((_labels(2, 5, 6), 4), {}),
    "weighted_cross_entropy": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {"weight": torch.rand(4) + 0.5}),
    "WeightedCrossEntropyLoss": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {}),
    "softmax_focal_loss": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {"alpha": torch.rand(4)}),
    "SoftmaxFocalLoss": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {}),
    "dice_loss": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {}),
    "DiceLoss": lambda: ((torch.randn(2, 4, 5, 6), _labels(2, 5, 6)), {}),
    "compute_scale_and_shift": lambda: (_depth(), {}),
    "ssi_loss": lambda: (_depth(), {"trimmed": True}),
    "SSILoss": lambda: (_depth(), {}),
    "gradient_matching_loss": lambda: (_depth(), {}),
    "GradientMatchingLoss": lambda: (_depth(), {}),
    "silog_loss": lambda: (_depth(), {}),
    "SILogLoss": lambda: (_depth(), {}),
    # geometry
    "pixel_rays": lambda: ((_K(), 6, 7), {}),
    "backproject": lambda: ((torch.rand(6, 7) + 1, _K()), {}),
    "normals_from_depth": lambda: ((torch.rand(6, 7) + 1, _K()), {}),
    "depth_to_points": lambda: ((torch.rand(6, 7) + 1, _K(), torch.rand(6, 7) > 0.3), {}),
    "project": lambda: ((torch.rand(10, 3) + 1, _K()), {}),
    # viz
    "colorize": lambda: ((_labels(5, 6),), {}),
    "instance_colors": lambda: ((_labels(5, 6),), {}),
    "colorize_panoptic": lambda: ((torch.stack([_labels(5, 6), _labels(5, 6, seed=2)], dim=-1),), {}),
    "overlay": lambda: ((torch.rand(3, 5, 6), _labels(5, 6)), {}),
    "error_map": lambda: ((_labels(5, 6), _labels(5, 6, seed=2)), {}),
    "panel": lambda: (({"image": torch.rand(3, 5, 6), "labels": _labels(5, 6)},), {}),
    "show_depth": lambda: ((torch.rand(5, 6) + 1,), {}),
    "show_normals": lambda: ((F.normalize(torch.randn(3, 5, 6), dim=0),), {}),
    "plot_point_cloud": lambda: ((torch.rand(30, 3), torch.rand(30, 3)), {}),
    "plot_history": None,  # takes a History (no tensor input)
    "class_legend": None,  # takes a figure and names (no tensor input)
}

# classes outside MODULES whose methods take tensors
EXTRA_CALLS: dict[str, tuple[Callable, Callable[[], tuple[tuple, dict]]]] = {
    "SegmentationMeter(logits)": (_meter("SegmentationMeter", 4), lambda: ((torch.randn(2, 4, 5, 6),
                                                                             _labels(2, 5, 6)), {})),
    "SegmentationMeter(ids)": (_meter("SegmentationMeter", 4), lambda: ((_labels(2, 5, 6), _labels(2, 5, 6)), {})),
}


def _public(module_name: str) -> dict[str, object]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    found = {}
    for name in names:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith(module_name):
            found[name] = obj
    return found


PUBLIC = {name: obj for module in MODULES for name, obj in _public(module).items()}


def test_every_public_callable_is_covered():
    missing = sorted(set(PUBLIC) - set(CALLS) - NOT_CALLED)
    assert not missing, f"add an entry to CALLS in {__file__} for: {', '.join(missing)}"


def _tensors(obj) -> list:
    if isinstance(obj, torch.Tensor | np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, list | tuple):
        return [t for v in obj for t in _tensors(v)]
    return []


def _call_and_check(fn: Callable, make: Callable[[], tuple[tuple, dict]]) -> None:
    args, kwargs = make()
    inputs = _tensors((args, kwargs))
    before = [x.clone() if isinstance(x, torch.Tensor) else x.copy() for x in inputs]
    with torch.no_grad():
        fn(*args, **kwargs)
    plt.close("all")
    for i, (x, x0) in enumerate(zip(inputs, before, strict=True)):
        same = torch.equal(x, x0) if isinstance(x, torch.Tensor) else np.array_equal(x, x0)
        assert same, f"input {i} ({tuple(x.shape)}) was changed by the call"


@pytest.mark.parametrize("name", sorted(n for n, make in CALLS.items() if make is not None))
def test_inputs_are_untouched(name):
    obj = PUBLIC[name]
    fn = obj() if inspect.isclass(obj) else obj
    _call_and_check(fn, CALLS[name])


@pytest.mark.parametrize("name", sorted(EXTRA_CALLS))
def test_method_inputs_are_untouched(name):
    _call_and_check(*EXTRA_CALLS[name])


def test_pixel_features_leaves_a_numpy_image_untouched():
    image = np.random.default_rng(0).random((5, 6, 3))
    _call_and_check(PUBLIC["pixel_features"], lambda: ((image, "lab"), {}))
