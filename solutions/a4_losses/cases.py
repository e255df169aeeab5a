"""Reference cases of A4 "losses" -- built from the solution notebook with ``python -m cvlab.grading build a4_losses``
(visible ones ship with cvlab, hidden ones stay here).

The hidden cases are where loss implementations break: logits of +-100 (``log(sigmoid(x))`` gives -inf there, a
clamped log a finite but wrong value), every reduction, alpha < 0 (no weighting), gamma = 0, rare and absent
positives; for Dice, ``ignore_index`` pixels (with a custom index too), classes absent from the batch (the mean
runs over all classes), all-background batches, smooth = 0 with a class that nothing predicts; for the class
weights, ignored pixels, absent classes, median frequency with an odd and an even number of present classes and
classes present in only some images; for GIoU, identical, nested, touching, far-apart and zero-area boxes, no box at
all and a custom eps. float64 and a batch of 1 for each.
"""

import math

import torch

from cvlab.grading.build import case, function_test

g = torch.Generator().manual_seed(4)

# Shortcuts that compute an answer whole: refused at the Python name and, for binary cross-entropy, at the
# operators PyTorch runs (torchvision's focal loss calls it, so it is refused both ways).
FOCAL = [
    "torchvision.ops.sigmoid_focal_loss",
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.functional.binary_cross_entropy",
    "aten::binary_cross_entropy_with_logits", "aten::binary_cross_entropy",
    "cvlab.losses.sigmoid_focal_loss", "cvlab.losses.SigmoidFocalLoss.forward",
    "cvlab.losses.softmax_focal_loss", "cvlab.losses.SoftmaxFocalLoss.forward",
]
DICE = ["cvlab.losses.dice_loss", "cvlab.losses.DiceLoss.forward"]
WEIGHTS = [
    "cvlab.losses.class_weights",
    "sklearn.utils.class_weight.compute_class_weight", "sklearn.utils.class_weight.compute_sample_weight",
]
GIOU = [
    "torchvision.ops.generalized_box_iou_loss", "torchvision.ops.generalized_box_iou", "torchvision.ops.box_iou",
    "torchvision.ops.complete_box_iou_loss", "torchvision.ops.distance_box_iou_loss",
    "torchvision.ops.complete_box_iou", "torchvision.ops.distance_box_iou",
    "torchvision.ops._utils._loss_inter_union", "torchvision.ops.boxes._box_inter_union",
    "cvlab.losses.giou_loss", "cvlab.losses.iou_loss", "cvlab.losses.GIoULoss.forward",
    "cvlab.losses.IoULoss.forward", "cvlab.losses.boxes._iou_terms", "cvlab.ops.box_iou",
]


def logits(*shape, scale=3.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def binary(*shape, positive=0.3, dtype=torch.float32):
    """Binary targets in {0, 1}, a share ``positive`` of ones."""
    return (torch.rand(*shape, generator=g) < positive).to(dtype)


def labels(*shape, k, ignore=0.0, ignore_index=255, classes=None):
    """Random class ids (from ``classes``, else [0, k)), a share ``ignore`` set to ``ignore_index``."""
    pool = torch.tensor(classes if classes is not None else range(k))
    out = pool[torch.randint(len(pool), shape, generator=g)]
    out[torch.rand(shape, generator=g) < ignore] = ignore_index
    return out


def boxes(n, dtype=torch.float32, size=12.0, spread=20.0):
    """``n`` random (x1, y1, x2, y2) boxes with positive width and height."""
    corner = torch.rand(n, 2, generator=g, dtype=torch.float64) * spread
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * size + 0.5
    return torch.cat([corner, corner + wh], 1).to(dtype)


def near(b, shift=3.0):
    """Boxes near ``b``: every corner moved by up to ``shift`` (kept well formed), so most pairs overlap."""
    moved = b + (torch.rand(b.shape, generator=g, dtype=torch.float64) * 2 - 1).to(b.dtype) * shift
    x1, x2 = torch.minimum(moved[:, 0], moved[:, 2]), torch.maximum(moved[:, 0], moved[:, 2]) + 0.25
    y1, y2 = torch.minimum(moved[:, 1], moved[:, 3]), torch.maximum(moved[:, 1], moved[:, 3]) + 0.25
    return torch.stack([x1, y1, x2, y2], 1)


def pairs(rows):
    """(boxes1, boxes2) from rows of 8 numbers."""
    t = torch.tensor(rows, dtype=torch.float32)
    return t[:, :4].contiguous(), t[:, 4:].contiguous()


LN9 = math.log(9.0)  # the logit of p = 0.9
EXTREME = torch.tensor([[100.0, -100.0, 100.0, -100.0, 0.0, 50.0, -50.0, 30.0, -30.0, 17.0]])
EXTREME_T = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])

# rare positives in a dense (B, A, H, W) map, as in RetinaNet
DENSE_X, DENSE_T = logits(2, 3, 5, 6), binary(2, 3, 5, 6, positive=0.05)
DENSE_T[0, 0, 0, 0] = 1.0

# Dice: one image's worth of extreme logits where class 2 is predicted nowhere (its softmax is exactly 0)
NOWHERE = logits(1, 3, 4, 5)
NOWHERE[:, 2] = -200.0
NOWHERE_T = labels(1, 4, 5, k=2)

# median frequency: class 1 lives in image 0 only, class 2 in image 1 only; class 3 nowhere
SPLIT = torch.stack([labels(6, 7, k=4, classes=[0, 1]), labels(6, 7, k=4, classes=[0, 2])])

TESTS = {
    "sigmoid_focal_loss": function_test(
        forbid=FOCAL,
        visible=[
            case(torch.tensor([LN9, 0.0, -LN9, LN9]), torch.tensor([1.0, 1.0, 1.0, 0.0]),
                 description="the worked example: p = 0.9, 0.5, 0.1 on positives and p = 0.9 on a negative"),
            case(logits(2, 8), binary(2, 8), description="a batch of 2 x 8 logits, default alpha and gamma"),
        ],
        hidden=[
            case(DENSE_X, DENSE_T, description="a dense (2, 3, 5, 6) map with rare positives, reduction 'none'"),
            case(DENSE_X, DENSE_T, reduction="mean", description="the same map, reduction 'mean'"),
            case(DENSE_X, DENSE_T, reduction="sum", description="the same map, reduction 'sum'"),
            case(EXTREME, EXTREME_T, description="logits of +-100, +-50, +-30 on both targets: finite losses"),
            case(EXTREME, EXTREME_T, reduction="sum", description="logits of +-100, summed"),
            case(logits(3, 7), binary(3, 7), alpha=-1.0, description="alpha = -1: no alpha weighting"),
            case(logits(3, 7), binary(3, 7), alpha=0.75, gamma=0.0,
                 description="gamma = 0, alpha = 0.75: alpha-weighted binary cross-entropy"),
            case(logits(4, 5), binary(4, 5), alpha=0.6, gamma=1.5, reduction="mean",
                 description="alpha = 0.6, gamma = 1.5, reduction 'mean'"),
            case(logits(2, 6, 4), torch.zeros(2, 6, 4), reduction="mean",
                 description="an all-background batch (no positive), reduction 'mean'"),
            case(logits(1, 1, 4, 4, dtype=torch.float64), binary(1, 1, 4, 4, dtype=torch.float64), gamma=3.0,
                 description="float64, a batch of 1, gamma = 3"),
        ],
    ),
    "dice_loss": function_test(
        forbid=DICE,
        visible=[
            case(torch.tensor([[[[4.0, -4.0]], [[-4.0, 4.0]]]]), torch.tensor([[[0, 1]]]), smooth=0.0,
                 description="the worked example: two pixels, two classes, both nearly right, smooth = 0"),
            case(logits(2, 3, 4, 5), labels(2, 4, 5, k=3), description="a batch of 2, 3 classes, 4x5, smooth = 1"),
        ],
        hidden=[
            case(logits(2, 4, 5, 6), labels(2, 5, 6, k=4, ignore=0.3),
                 description="30 % of the pixels at ignore_index = 255 (left out of every sum)"),
            case(logits(2, 3, 4, 4), labels(2, 4, 4, k=3, ignore=0.25, ignore_index=-1), ignore_index=-1,
                 description="ignore_index = -1"),
            case(logits(2, 5, 4, 6), labels(2, 4, 6, k=5, classes=[0, 3]),
                 description="5 classes, only 0 and 3 in the target: the mean runs over all 5"),
            case(logits(2, 3, 5, 5), torch.zeros(2, 5, 5, dtype=torch.int64),
                 description="an all-background batch (every pixel class 0)"),
            case(NOWHERE, NOWHERE_T, smooth=0.0,
                 description="smooth = 0, class 2 in neither target nor prediction: its 0 / 0 counts as loss 0"),
            case(logits(2, 3, 3, 4), torch.full((2, 3, 4), 255), description="every pixel ignored: loss 0"),
            case(logits(3, 4, 6, 3), labels(3, 6, 3, k=4), smooth=0.5,
                 description="a batch of 3, non-square 6x3, smooth = 0.5 (sums over the whole batch)"),
            case(logits(1, 3, 5, 4, dtype=torch.float64), labels(1, 5, 4, k=3, ignore=0.2), smooth=2.0,
                 description="float64, a batch of 1, smooth = 2"),
        ],
    ),
    "class_weights": function_test(
        forbid=WEIGHTS,
        visible=[
            case(torch.tensor([[0, 0, 0, 1]]), 2, description="the worked example: 3 pixels of class 0, 1 of class 1"),
            case(labels(2, 5, 6, k=3), 3, description="a batch of 2, 3 classes, 5x6, inverse frequency"),
        ],
        hidden=[
            case(labels(2, 6, 5, k=4, ignore=0.3), 4, description="30 % of the pixels at ignore_index = 255"),
            case(labels(2, 5, 5, k=5, classes=[0, 1, 4]), 5, description="classes 2 and 3 absent: weight 0"),
            case(torch.zeros(2, 4, 4, dtype=torch.int64), 3, description="an all-background batch"),
            case(labels(1, 4, 7, k=3, ignore=0.2, ignore_index=-1), 3, ignore_index=-1,
                 description="a batch of 1, ignore_index = -1"),
            case(labels(3, 6, 6, k=3), 3, method="median", description="median frequency, 3 classes present"),
            case(labels(2, 5, 6, k=5, classes=[0, 1, 2, 4], ignore=0.1), 5, method="median",
                 description="median frequency, 4 classes present (an even count), one absent, ignored pixels"),
            case(SPLIT, 4, method="median",
                 description="median frequency, classes 1 and 2 each present in one image only, class 3 absent"),
            case(torch.full((2, 3, 3), 255), 3, description="every pixel ignored: all weights 0"),
        ],
    ),
    "giou_loss": function_test(
        forbid=GIOU,
        visible=[
            case(*pairs([[0, 0, 2, 2, 1, 1, 3, 3]]),
                 description="the worked example: intersection 1, union 7, enclosing box 9"),
            case(boxes(6), near(boxes(6)), description="6 random pairs of boxes, reduction 'none'"),
        ],
        hidden=[
            case(*pairs([[0, 0, 4, 3, 0, 0, 4, 3], [1, 1, 5, 5, 2, 2, 3, 4], [2, 2, 3, 4, 0, 1, 6, 5]]),
                 description="identical boxes, and a box nested in the other either way round"),
            case(*pairs([[0, 0, 2, 2, 2, 0, 4, 2], [0, 0, 2, 2, 5, 6, 8, 9], [0, 5, 1, 6, 3, 0, 4, 2]]),
                 description="boxes touching at an edge, far apart, and apart on both axes"),
            case(*pairs([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 4, 1, 1, 1, 4], [0, 0, 0, 0, 1, 1, 2, 3],
                         [0, 0, 3, 0, 0, 0, 3, 2]]),
                 description="zero-area boxes: the same point twice, the same line twice, a point, a line"),
            case(*(lambda b: (b, near(b, 6.0)))(boxes(8)), reduction="mean", description="8 pairs, reduction 'mean'"),
            case(*(lambda b: (b, near(b, 6.0)))(boxes(8)), reduction="sum", description="8 pairs, reduction 'sum'"),
            case(torch.zeros(0, 4), torch.zeros(0, 4), reduction="mean", description="no box at all, 'mean': 0"),
            case(*(lambda b: (b, near(b, 0.1)))(boxes(4, size=0.2)), eps=1e-2,
                 description="tiny boxes (under a pixel) with eps = 0.01"),
            case(*(lambda b: (b, near(b, 4.0)))(boxes(5, dtype=torch.float64)),
                 description="float64, 5 pairs"),
            case(*pairs([[3, 2, 9, 7, 5, 4, 12, 8]]), reduction="sum", description="a single pair, summed"),
        ],
    ),
}
