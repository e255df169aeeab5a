"""Reference cases of A0 "dense outputs" -- built from the solution notebook with
``python -m cvlab.grading build a0_dense_outputs`` (visible ones ship with cvlab, hidden ones stay here)."""

import torch

from cvlab.grading.build import case, function_test, value_test

g = torch.Generator().manual_seed(0)
later = torch.Generator().manual_seed(1)  # the cases added later draw from here, so the first ones stay as they were


def labels(*shape, k, ignore=0.0, ignore_index=255, gen=g):
    """Random labels in [0, k), a fraction ``ignore`` of them set to ``ignore_index``."""
    out = torch.randint(0, k, shape, generator=gen)
    out[torch.rand(shape, generator=gen) < ignore] = ignore_index
    return out


def encoded(lab, k):
    """One-hot (..., K, H, W) float32 of ``lab``; labels outside [0, k) give an all-zero column."""
    return (lab.unsqueeze(-3) == torch.arange(k).view(-1, 1, 1)).float()


def counts(k, high=20, gen=g):
    """A random k x k confusion matrix of counts."""
    return torch.randint(0, high, (k, k), generator=gen)


def with_absent(conf, *absent):
    """``conf`` with the rows and columns of classes ``absent`` zeroed (classes in neither map)."""
    conf = conf.clone()
    conf[list(absent), :] = 0
    conf[:, list(absent)] = 0
    return conf


pred_only = counts(4)
pred_only[2, :] = 0  # class 2 is predicted but never in the target: IoU 0, not NaN
target_only = counts(4, gen=later)
target_only[:, 1] = 0  # class 1 is in the target but never predicted: IoU 0, not NaN


def near_ties(*shape):
    """Scores (..., 3, H, W) whose two best classes differ by 1e-4 (class 1 just above class 0)."""
    scores = torch.randn(*shape[:-2], 3, *shape[-2:], generator=later)
    scores[..., 1, :, :] = scores[..., 0, :, :] + 1e-4
    scores[..., 2, :, :] = scores[..., 0, :, :] - 1.0
    return scores


def never_predicted(h, w):
    """(pred, target), 3 classes: the target has all three, the prediction never says 2."""
    return labels(h, w, k=2, gen=later), labels(h, w, k=3, gen=later)

TESTS = {
    "one_hot": function_test(
        forbid=["torch.nn.functional.one_hot", "sklearn.preprocessing.label_binarize"],
        visible=[
            case(labels(3, 4, k=3), 3, description="a 3x4 label map with 3 classes"),
            case(labels(4, 5, k=2, ignore=0.25), 2, description="a 4x5 map with ignore pixels (255)"),
        ],
        hidden=[
            case(labels(5, 7, k=4), 4, description="a non-square 5x7 map"),
            case(labels(3, 6, k=3), 8, description="more classes (8) than the labels present (0..2)"),
            case(labels(2, 4, 6, k=3, ignore=0.25), 3, description="a batch of 2 4x6 maps with ignore pixels"),
            case(labels(4, 4, 4, k=4), 4, description="a batch of 4 4x4 maps, 4 classes (B = K = H = W)"),
            case(labels(1, 1, k=1), 2, description="a single pixel"),
            case(torch.tensor([[-1, 0, 3], [7, 2, 255]]), 4,
                 description="labels outside [0, K) other than 255 (-1 and 7) belong to no class"),
            case(labels(1, 9, k=3, gen=later), 3, description="a 1-pixel-high 1x9 map"),
            case(labels(1, 3, 4, k=3, gen=later), 3, description="a batch of one 3x4 map"),
        ],
    ),
    "from_one_hot": function_test(
        visible=[
            case(encoded(labels(3, 4, k=3), 3), description="the one-hot encoding of a 3x4 map, 3 classes"),
            case(torch.randn(3, 4, 5, generator=g), description="scores (3 classes, 4x5): the highest wins"),
        ],
        hidden=[
            case(torch.randn(2, 4, 5, 6, generator=g), description="a batch of 2 score maps, 4 classes, 5x6"),
            case(torch.randn(3, 3, 4, 5, generator=g), description="a batch of 3 score maps with 3 classes"),
            case(encoded(labels(5, 3, k=4, ignore=0.3), 4), description="one-hot with all-zero (ignore) pixels"),
            case(encoded(labels(2, 3, 4, k=3, ignore=0.3), 3), ignore_index=-1,
                 description="a batch with all-zero pixels and ignore_index=-1"),
            case(encoded(labels(6, 2, k=1), 1), description="a single class"),
            case(near_ties(4, 5), description="near ties: the best class beats the second by 1e-4"),
            case(torch.randn(1, 3, 4, 5, generator=later), description="a batch of one score map"),
            case(torch.randn(3, 1, 7, generator=later), description="a 1-pixel-high map (3 classes, 1x7)"),
        ],
    ),
    "confusion_matrix": function_test(
        forbid=["cvlab.metrics.confusion_matrix", "sklearn.metrics.confusion_matrix"],
        visible=[
            case(labels(4, 5, k=3), labels(4, 5, k=3), 3, description="4x5 maps, 3 classes"),
            case(labels(6, 4, k=3), labels(6, 4, k=3, ignore=0.3), 3,
                 description="6x4 maps with ignore pixels (255) in the target"),
        ],
        hidden=[
            case(labels(3, 8, k=4), labels(3, 8, k=4), 4, description="non-square 3x8 maps, 4 classes"),
            case(labels(2, 5, 7, k=4), labels(2, 5, 7, k=4, ignore=0.2), 4,
                 description="a batch of 2 5x7 maps with ignore pixels"),
            case(labels(5, 5, k=3), labels(5, 5, k=3), 7, description="7 classes, only 0..2 present"),
            case(labels(4, 6, k=3), labels(4, 6, k=3, ignore=0.3, ignore_index=-1), 3, ignore_index=-1,
                 description="ignore_index=-1"),
            case(labels(6, 6, k=2), torch.zeros(6, 6, dtype=torch.int64), 2,
                 description="a target with a single class"),
            case(labels(5, 6, k=3, gen=later), labels(5, 6, k=3, gen=later), 3, ignore_index=0,
                 description="ignore_index=0, inside [0, K): target pixels of class 0 are skipped, "
                             "predictions of class 0 still count"),
            case(*never_predicted(4, 5), 3, description="class 2 is in the target but never predicted"),
            case(labels(1, 4, 5, k=3, gen=later), labels(1, 4, 5, k=3, ignore=0.2, gen=later), 3,
                 description="a batch of one map"),
            case(labels(1, 9, k=3, gen=later), labels(1, 9, k=3, gen=later), 3, description="1-pixel-high 1x9 maps"),
        ],
    ),
    "pixel_accuracy": function_test(
        forbid=["cvlab.metrics.pixel_accuracy"],
        visible=[case(counts(3), description="a 3x3 confusion matrix")],
        hidden=[
            case(counts(5, high=100), description="a 5x5 confusion matrix"),
            case(with_absent(counts(4), 1), description="a class absent from both maps"),
            case(torch.tensor([[7]]), description="a single class"),
        ],
    ),
    "iou_per_class": function_test(
        forbid=["cvlab.metrics.iou_per_class", "cvlab.metrics.mean_iou"],
        visible=[
            case(counts(3), description="a 3x3 confusion matrix"),
            case(with_absent(counts(3), 2), description="class 2 in neither map (IoU undefined: NaN)"),
        ],
        hidden=[
            case(counts(5, high=100), description="a 5x5 confusion matrix"),
            case(pred_only, description="a class that is predicted but never in the target"),
            case(target_only, description="a class that is in the target but never predicted (IoU 0)"),
            case(with_absent(counts(6), 0, 4), description="classes 0 and 4 in neither map"),
            case(torch.tensor([[9]]), description="a single class"),
        ],
    ),
    "ships_accuracy": value_test(tier="hidden", description="pixel accuracy on the ships example"),
    "ships_miou": value_test(tier="hidden", description="mean IoU on the ships example"),
}
