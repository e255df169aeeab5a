"""A5's stored answers equal torchvision's compiled kernels (``roi_align``, ``roi_pool``, ``nms``) and cvlab's own
ops, case by case: the solution notebook is held to the libraries it teaches, not only to itself."""

import pytest
import torch
import torchvision.ops as tv

from cvlab.course import REPO
from cvlab.grading.check import compare
from cvlab.grading.store import CaseStore, store_dir
from cvlab.models.mask_head import mask_targets, select_class_masks
from cvlab.ops import bilinear_sample, nms, roi_align, roi_pool

A5 = "a5_roi_align"
CASES = [(tier, test, i, c) for tier in ("visible", "hidden")
         for test in CaseStore(store_dir(A5, tier, REPO)).names()
         for i, c in enumerate(CaseStore(store_dir(A5, tier, REPO)).load(test).cases)]


def _point_rois(y, x):
    """1x1 RoIs that RoIAlign (aligned=False, one sample) samples exactly at (y, x): a unit box centred there."""
    y, x = y.flatten(), x.flatten()
    return torch.stack([torch.zeros_like(x), x - 0.5, y - 0.5, x + 0.5, y + 0.5], 1)


def _torchvision(test, args, kwargs):
    """The answer torchvision's compiled kernels give (None where torchvision has no such op)."""
    if test == "roi_align":
        return tv.roi_align(*args, **kwargs)
    if test == "roi_pool":
        return tv.roi_pool(*args, **kwargs)
    if test == "nms":
        return tv.nms(*args, **kwargs)
    if test == "bilinear_sample":
        image, y, x = args
        out = tv.roi_align(image[None], _point_rois(y, x), 1, 1.0, 1, False)  # (P, C, 1, 1)
        return out[:, :, 0, 0].T.reshape(image.shape[0], *y.shape)
    if test == "mask_targets":
        masks, boxes, size = args
        own = torch.arange(len(boxes), dtype=boxes.dtype)[:, None]
        soft = tv.roi_align(masks[:, None].to(boxes.dtype), torch.cat([own, boxes], 1), size, 1.0, 2, True)
        return (soft[:, 0] >= 0.5).to(boxes.dtype)
    return None


CVLAB = {"roi_align": roi_align, "roi_pool": roi_pool, "nms": nms, "bilinear_sample": bilinear_sample,
         "mask_targets": mask_targets, "select_class_masks": select_class_masks}


@pytest.mark.parametrize(("tier", "test", "index", "case"), CASES,
                         ids=[f"{tier}-{test}-{i}" for tier, test, i, _ in CASES])
def test_stored_answer_equals_torchvision_and_cvlab(tier, test, index, case):
    reference = _torchvision(test, case.args, case.kwargs)
    if reference is not None:
        exact = test in ("roi_pool", "nms", "mask_targets")
        assert compare(case.expected, reference, rtol=0 if exact else None, atol=0 if exact else None) is None
    assert compare(case.expected, CVLAB[test](*case.args, **case.kwargs)) is None


def test_cases_cover_the_brief():
    """Every function is tested on several cases, and the hidden ones include float64."""
    hidden = [(test, c) for tier, test, _, c in CASES if tier == "hidden"]
    for test in CVLAB:
        dtypes = {c.expected.dtype for t, c in hidden if t == test}
        assert any(t == test for t, _ in hidden), test
        assert test == "nms" or torch.float64 in dtypes, test
    assert any(len(c.args[0]) == 0 for t, c in hidden if t == "nms")
