import numpy as np
import pytest
import sklearn.metrics as skm
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight
from torchvision.ops import sigmoid_focal_loss as tv_focal

from cvlab.losses.segmentation import (
    DiceLoss,
    SoftmaxFocalLoss,
    WeightedCrossEntropyLoss,
    class_weights,
    dice_loss,
    sigmoid_focal_loss,
    softmax_focal_loss,
    weighted_cross_entropy,
)
from cvlab.metrics import confusion_matrix, dice_per_class


@pytest.mark.parametrize("alpha,gamma,reduction", [(0.25, 2.0, "none"), (-1, 0.0, "mean"), (0.5, 1.5, "sum")])
def test_sigmoid_focal_matches_torchvision(alpha, gamma, reduction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64) * 4
    t = (torch.rand(2, 3, 8, 8, generator=g) > 0.7).double()
    expected = tv_focal(x, t, alpha, gamma, reduction)
    torch.testing.assert_close(sigmoid_focal_loss(x, t, alpha, gamma, reduction), expected)


def test_focal_down_weighting_factors():
    # easy positive at p = 0.9 is down-weighted x100 vs CE for gamma = 2; p = 0.5 by x4
    for p, factor in [(0.9, 100.0), (0.5, 4.0)]:
        x = torch.logit(torch.tensor([p], dtype=torch.float64))
        t = torch.ones(1, dtype=torch.float64)
        ratio = sigmoid_focal_loss(x, t, -1, 0.0) / sigmoid_focal_loss(x, t, -1, 2.0)
        assert ratio.item() == pytest.approx(factor)


# --- class weights ---


def test_inverse_class_weights_match_sklearn_balanced():
    g = torch.Generator().manual_seed(0)
    target = torch.multinomial(torch.tensor([0.6, 0.3, 0.08, 0.02]), 2 * 16 * 16, True, generator=g).view(2, 16, 16)
    target[0, :2] = 255
    kept = target[target != 255].numpy()
    expected = compute_class_weight("balanced", classes=np.arange(4), y=kept)
    np.testing.assert_allclose(class_weights(target, 4).numpy(), expected, rtol=1e-6)


def test_median_frequency_weights_hand_case():
    # image 0: three 0s and a 1 (4 pixels); image 1: two 2s and a 0 (3 counted pixels, one ignored)
    target = torch.tensor([[0, 0, 0, 1], [2, 2, 0, 255]])
    # f0 = 4 / 7, f1 = 1 / 4, f2 = 2 / 3; median 4 / 7
    expected = torch.tensor([1.0, (4 / 7) / (1 / 4), (4 / 7) / (2 / 3)])
    torch.testing.assert_close(class_weights(target, 3, "median"), expected)


def test_absent_class_gets_zero_weight():
    target = torch.tensor([[0, 0, 1, 1]])
    for method in ("inverse", "median"):
        w = class_weights(target, 3, method)
        assert w[2] == 0 and torch.isfinite(w).all()


# --- weighted cross-entropy ---


def _logits_and_target(seed=0, shape=(2, 5, 6, 7), ignore=0.15, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=g, dtype=dtype) * 3).requires_grad_()
    target = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    target[torch.rand(target.shape, generator=g) < ignore] = 255
    return logits, target


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(2, 5, 6, 7), (3, 4, 9), (1, 2, 1, 1, 5)])
def test_weighted_cross_entropy_matches_torch(reduction, weighted, shape):
    logits, target = _logits_and_target(shape=shape)
    weight = torch.linspace(0.5, 3.0, shape[1], dtype=torch.float64) if weighted else None
    ours = weighted_cross_entropy(logits, target, weight, reduction=reduction)
    theirs = F.cross_entropy(logits, target, weight, ignore_index=255, reduction=reduction)
    torch.testing.assert_close(ours, theirs)
    g_ours, = torch.autograd.grad(ours.sum(), logits)
    g_theirs, = torch.autograd.grad(theirs.sum(), logits)
    torch.testing.assert_close(g_ours, g_theirs)


def test_cross_entropy_all_ignored_is_zero_not_nan():
    logits, target = _logits_and_target()
    target = torch.full_like(target, 255)
    for fn in (weighted_cross_entropy, softmax_focal_loss):
        loss = fn(logits, target)
        assert loss.item() == 0.0
        grad, = torch.autograd.grad(loss, logits)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_class_weights_feed_weighted_cross_entropy_and_module_moves_weight():
    logits, target = _logits_and_target(dtype=torch.float32)
    w = class_weights(target, 5)
    module = WeightedCrossEntropyLoss(w).to(torch.float64)
    assert module.weight.dtype == torch.float64  # a buffer: follows the module
    loss64 = module(logits.double(), target)
    torch.testing.assert_close(loss64, F.cross_entropy(logits.double(), target, w.double(), ignore_index=255))


# --- softmax focal loss ---


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_focal_gamma_zero_is_cross_entropy(reduction):
    logits, target = _logits_and_target(seed=1)
    alpha = torch.tensor([0.1, 0.2, 0.3, 0.4, 1.0], dtype=torch.float64)
    for a in (None, alpha):
        ours = softmax_focal_loss(logits, target, gamma=0.0, alpha=a, reduction=reduction)
        torch.testing.assert_close(ours, F.cross_entropy(logits, target, a, ignore_index=255, reduction=reduction))


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 0.5), (0.9, 5.0)])
def test_softmax_focal_two_classes_is_torchvision_sigmoid_focal(alpha, gamma):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 8, 8, generator=g, dtype=torch.float64) * 4
    y = torch.randint(0, 2, (3, 8, 8), generator=g)
    logits = torch.stack([torch.zeros_like(x), x], 1)  # softmax((0, x))[1] = sigmoid(x)
    a = torch.tensor([1 - alpha, alpha], dtype=torch.float64)
    ours = softmax_focal_loss(logits, y, gamma, a, reduction="none")
    torch.testing.assert_close(ours, tv_focal(x, y.double(), alpha, gamma, "none"))
    total = softmax_focal_loss(logits, y, gamma, a, reduction="sum")
    torch.testing.assert_close(total, tv_focal(x, y.double(), alpha, gamma, "sum"))


def test_softmax_focal_down_weighting_factors():
    # p_t = 0.9 -> x100 smaller than CE for gamma = 2 ((1 - 0.9)^2 = 1/100); p_t = 0.5 -> x4
    for p, factor in [(0.9, 100.0), (0.5, 4.0)]:
        logits = torch.log(torch.tensor([[p, 1 - p]], dtype=torch.float64))
        target = torch.tensor([0])
        ratio = softmax_focal_loss(logits, target, 0.0) / softmax_focal_loss(logits, target, 2.0)
        assert ratio.item() == pytest.approx(factor)


def test_softmax_focal_extreme_logits_are_finite():
    logits = torch.tensor([[[1e4, -1e4, 0.0]], [[-1e4, 1e4, 0.0]]], requires_grad=True).permute(1, 0, 2)
    target = torch.tensor([[0, 0, 1]])  # right, confidently wrong, undecided
    for gamma in (0.0, 0.5, 2.0):
        loss = softmax_focal_loss(logits, target, gamma)
        grad, = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_softmax_focal_module_matches_function():
    logits, target = _logits_and_target(seed=3)
    alpha = torch.rand(5, dtype=torch.float64)
    module = SoftmaxFocalLoss(1.5, alpha)
    torch.testing.assert_close(module(logits, target), softmax_focal_loss(logits, target, 1.5, alpha))


# --- soft Dice loss ---


def test_dice_loss_on_hard_predictions_is_one_minus_f1():
    g = torch.Generator().manual_seed(4)
    target = torch.randint(0, 4, (2, 10, 10), generator=g)
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.7, target, torch.randint(0, 4, target.shape))
    logits = F.one_hot(pred, 4).movedim(-1, 1).double() * 100  # softmax = one-hot to 1e-43
    per_class = dice_loss(logits, target, smooth=0.0, reduction="none")
    f1 = skm.f1_score(target.flatten().numpy(), pred.flatten().numpy(), labels=[0, 1, 2, 3], average=None)
    np.testing.assert_allclose(1 - per_class.detach().numpy(), f1, rtol=1e-9)
    conf = confusion_matrix(pred, target, 4)
    torch.testing.assert_close(1 - per_class, dice_per_class(conf).double())
    assert dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - f1.mean())


def test_dice_loss_soft_hand_case():
    # one image, 2 classes, 3 pixels, target (0, 0, 1); p(class 1) = 0.2, 0.6, 0.8
    p1 = torch.tensor([0.2, 0.6, 0.8], dtype=torch.float64)
    logits = torch.log(torch.stack([1 - p1, p1]))[None]  # (1, 2, 3)
    target = torch.tensor([[0, 0, 1]])
    # class 0: 2 (0.8 + 0.4) / (1.4 + 2) ; class 1: 2 (0.8) / (1.6 + 1)
    expected = torch.tensor([1 - 2.4 / 3.4, 1 - 1.6 / 2.6], dtype=torch.float64)
    torch.testing.assert_close(dice_loss(logits, target, smooth=0.0, reduction="none"), expected)
    smoothed = torch.tensor([1 - 3.4 / 4.4, 1 - 2.6 / 3.6], dtype=torch.float64)
    torch.testing.assert_close(dice_loss(logits, target, smooth=1.0, reduction="none"), smoothed)


def test_dice_loss_ignores_pixels_and_absent_classes():
    logits, target = _logits_and_target(seed=5)
    target[target == 4] = 0  # class 4 absent from the target
    keep = target != 255
    full = dice_loss(logits, target, reduction="none")
    changed = torch.where(keep.unsqueeze(1), logits, torch.randn_like(logits) * 50)  # ignored logits are not read
    torch.testing.assert_close(dice_loss(changed, target, reduction="none"), full)
    nothing = dice_loss(logits, torch.full_like(target, 255), smooth=0.0, reduction="none")
    assert torch.equal(nothing, torch.zeros(5, dtype=torch.float64))
    loss = dice_loss(logits, target)
    grad, = torch.autograd.grad(loss, logits)
    assert torch.isfinite(grad).all() and DiceLoss()(logits, target).item() == pytest.approx(loss.item())


def test_losses_keep_dtype_and_do_not_mutate():
    logits, target = _logits_and_target(dtype=torch.float32)
    l0, t0 = logits.detach().clone(), target.clone()
    for fn in (weighted_cross_entropy, softmax_focal_loss, dice_loss):
        assert fn(logits, target).dtype == torch.float32
    assert torch.equal(logits.detach(), l0) and torch.equal(target, t0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_on_cuda():
    logits, target = _logits_and_target(seed=6)
    w = class_weights(target.cuda(), 5)
    assert w.device.type == "cuda"
    for fn in (weighted_cross_entropy, softmax_focal_loss, dice_loss):
        torch.testing.assert_close(fn(logits.cuda(), target.cuda()).cpu(), fn(logits, target))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dice_loss(torch.zeros(2, 3, 4), torch.zeros(2, 5, dtype=torch.long)),
         r"logits and target: expected shapes \(B, K, \.\.\.\) and \(B, \.\.\.\)"),
        (lambda: dice_loss(torch.zeros(2, 3, 4), torch.zeros(2, 4)), r"target: expected an integer tensor"),
        (lambda: weighted_cross_entropy(torch.zeros(2, 3, 4), torch.full((2, 4), 3)),
         r"target: expected class ids in \[0, 3\)( or ignore_index=255)?, got 3"),
        (lambda: weighted_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), torch.ones(2)),
         r"weight: expected one weight per class \(3\)"),
        (lambda: weighted_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), -torch.ones(3)),
         r"weight: expected non-negative"),
        (lambda: softmax_focal_loss(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), -1.0),
         r"gamma: expected a finite number >= 0"),
        (lambda: dice_loss(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), reduction="avg"),
         r"reduction: expected one of"),
        (lambda: class_weights(torch.zeros(4, dtype=torch.long), 2, "median-ish"), r"method: expected one of"),
        (lambda: class_weights(torch.zeros(4), 2), r"target: expected an integer tensor"),
        (lambda: dice_loss(torch.zeros(2, 1, 4), torch.zeros(2, 4, dtype=torch.long)), r"expected K >= 2"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
