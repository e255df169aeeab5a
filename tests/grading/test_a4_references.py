"""A4's stored expectations (built from the solution notebook) agree with installed independent implementations on
every visible and hidden case: torchvision's focal and GIoU losses, scikit-learn's balanced class weights, and
cvlab's own Dice loss and median-frequency weights (themselves cross-checked in tests/losses)."""

import pytest
import torch
import torchvision
from sklearn.utils.class_weight import compute_class_weight

from cvlab.course import REPO
from cvlab.grading.store import CaseStore, store_dir
from cvlab.losses import class_weights, dice_loss

A4 = "a4_losses"


def _balanced(target, num_classes, method="inverse", ignore_index=255):
    """scikit-learn's "balanced" weights N / (P n_k) over the P present classes, rescaled to N / (K n_k)."""
    if method == "median":
        return class_weights(target, num_classes, method, ignore_index)
    y = target[target != ignore_index]
    w = torch.zeros(num_classes)
    if y.numel():
        present = torch.unique(y)
        balanced = compute_class_weight("balanced", classes=present.numpy(), y=y.numpy())
        w[present] = torch.as_tensor(balanced, dtype=torch.float32) * len(present) / num_classes
    return w


TWINS = {
    "sigmoid_focal_loss": torchvision.ops.sigmoid_focal_loss,
    "dice_loss": dice_loss,
    "class_weights": _balanced,
    "giou_loss": torchvision.ops.generalized_box_iou_loss,
}


def _cases():
    stores = {"visible": CaseStore.open(A4, "visible"), "hidden": CaseStore(store_dir(A4, "hidden", REPO))}
    return [(name, tier, i, c) for tier, store in stores.items() for name in store.names()
            for i, c in enumerate(store.load(name).cases)]


CASES = _cases()


def test_every_test_is_cross_checked():
    assert {name for name, *_ in CASES} == set(TWINS)


@pytest.mark.parametrize(("name", "tier", "index", "item"), CASES, ids=[f"{n}-{t}-{i}" for n, t, i, _ in CASES])
def test_expectation_matches_an_independent_implementation(name, tier, index, item):
    twin = TWINS[name](*item.args, **item.kwargs)
    assert item.expected.dtype == twin.dtype and item.expected.shape == twin.shape
    assert bool(torch.isfinite(item.expected).all()), item.description
    torch.testing.assert_close(item.expected, twin, rtol=1e-5, atol=1e-6)
