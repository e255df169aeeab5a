"""One network, three dense tasks: depth, surface normals and semantic labels from a shared encoder.

Eigen & Fergus predict depth, normals and labels with one multi-scale architecture whose coarse layers are shared
between tasks; here one `PyramidEncoder` is shared and every task has its own head (a `FusionDecoder` and an output
convolution), so a single-task model is the same network with one head (``MultiTaskNet(tasks=("depth",))``): a
multi-task model and single-task models can be compared at equal architecture and training steps.

Per-task losses (each a mean over the valid pixels of an image, then over the images):

- depth: Eigen's scale-invariant log loss `cvlab.losses.silog_loss` with ``lam`` (0.5 as in the paper);
- normals: Eigen & Fergus's ``1 - N . N*``, one minus the cosine between the predicted and true unit normals;
- semantic: cross-entropy, pixels labelled ``ignore_index`` left out.

The combined loss is ``sum_t weights[t] * loss_t`` over the model's tasks (`multitask_loss`; the stated default
weights are `MULTITASK_WEIGHTS`).

Reference:
    D. Eigen and R. Fergus, "Predicting Depth, Surface Normals and Semantic Labels with a Common Multi-Scale
    Convolutional Architecture", ICCV 2015.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_choice, check_ignore_index, check_int, check_number, check_tensor
from cvlab.losses.depth import silog_loss
from cvlab.metrics.depth import depth_metrics
from cvlab.metrics.segmentation import confusion_matrix, mean_iou
from cvlab.models.blocks import conv_block
from cvlab.models.depth import FusionDecoder, PyramidEncoder

__all__ = ["TASKS", "MULTITASK_WEIGHTS", "MultiTaskNet", "multitask_loss", "MultiTaskLoss", "normal_angle_error",
           "multitask_scores"]

TASKS = ("depth", "normals", "semantic")

MULTITASK_WEIGHTS: dict[str, float] = {"depth": 1.0, "normals": 1.0, "semantic": 1.0}
"""The stated weights of the combined loss: every task counts once (each part is already a per-pixel mean)."""


class _Head(nn.Module):
    def __init__(self, channels: tuple[int, ...], out_ch: int) -> None:
        super().__init__()
        self.decoder = FusionDecoder(channels)
        self.out = nn.Sequential(conv_block(channels[0], channels[0], 1), nn.Conv2d(channels[0], out_ch, 1))

    def forward(self, features: list[Tensor]) -> Tensor:
        return self.out(self.decoder(features))


class MultiTaskNet(nn.Module):
    """A shared encoder and one head per task, each head a fusion decoder and an output convolution.

    Outputs, per task in ``tasks``:

    - ``"depth"``: Tensor[B, 1, H, W], metres, positive (``exp`` of the head's log-depth);
    - ``"normals"``: Tensor[B, 3, H, W], unit vectors in the camera frame (the head's 3 channels normalised);
    - ``"semantic"``: Tensor[B, num_classes, H, W], logits.

    Args:
        tasks: a non-empty subset of ``TASKS`` (one task: a single-task model of the same architecture).
        num_classes: K, the classes of the semantic head.
        width: channels of the encoder's first level (`PyramidEncoder`).
        levels: down-samplings of the encoder; H and W need not be multiples of ``2**levels``.

    Shapes:
        input Tensor[B, 3, H, W] -> dict {task: Tensor[B, C_task, H, W]}.

    Example:
        >>> out = MultiTaskNet(width=4)(torch.rand(2, 3, 30, 44))
        >>> {task: tuple(x.shape) for task, x in out.items()}
        {'depth': (2, 1, 30, 44), 'normals': (2, 3, 30, 44), 'semantic': (2, 7, 30, 44)}
    """

    def __init__(self, tasks: Sequence[str] = TASKS, num_classes: int = 7, width: int = 8, levels: int = 3) -> None:
        super().__init__()
        self.tasks = _check_tasks(tasks, "tasks")
        self.num_classes = check_int(num_classes, "num_classes")
        self.encoder = PyramidEncoder(width, levels)
        out_ch = {"depth": 1, "normals": 3, "semantic": self.num_classes}
        self.heads = nn.ModuleDict({task: _Head(self.encoder.channels, out_ch[task]) for task in self.tasks})

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        check_tensor(image, "image", ndim=4, shape="(B, 3, H, W)", dtype="float")
        features = self.encoder(image)
        out = {task: head(features) for task, head in self.heads.items()}
        if "depth" in out:
            out["depth"] = torch.exp(out["depth"])
        if "normals" in out:
            out["normals"] = F.normalize(out["normals"], dim=1)
        return out


def _check_tasks(tasks: object, name: str) -> tuple[str, ...]:
    if isinstance(tasks, str) or not isinstance(tasks, Sequence | Mapping) or not tasks:
        raise ValueError(f"{name}: expected a non-empty sequence of tasks from {TASKS}, got {tasks!r}")
    for task in tasks:
        check_choice(task, name, TASKS)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"{name}: expected each task once, got {tuple(tasks)}")
    return tuple(tasks)


def _check_normals(pred: Tensor, target: Tensor, valid: Tensor) -> None:
    check_tensor(pred, "pred", ndim=4, shape="(B, 3, H, W)", dtype="float")
    check_tensor(target, "target", ndim=4, shape="(B, 3, H, W)", dtype="float")
    check_tensor(valid, "valid", ndim=4, shape="(B, 1, H, W)", dtype="bool")
    if pred.shape != target.shape or pred.shape[1] != 3 or valid.shape != (pred.shape[0], 1, *pred.shape[2:]):
        raise ValueError(f"pred, target, valid: expected shapes (B, 3, H, W), (B, 3, H, W), (B, 1, H, W), got "
                         f"{tuple(pred.shape)}, {tuple(target.shape)}, {tuple(valid.shape)}")


def _per_image_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` (B, H, W) over each image's valid pixels, then over the images that have some."""
    count = valid.sum((-2, -1))
    per_image = torch.where(valid, values, 0).sum((-2, -1)) / count.clamp(min=1)
    has = count > 0
    return (per_image * has).sum() / has.sum().clamp(min=1)


def _normal_loss(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    cosine = (F.normalize(pred, dim=1) * target).sum(1)
    return _per_image_mean(1 - cosine, valid[:, 0])


def normal_angle_error(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean angle between predicted and true surface normals, in degrees: per image over its valid pixels, then
    averaged over the images that have valid pixels (as `cvlab.metrics.depth_metrics` averages).

    Args:
        pred (Tensor[B, 3, H, W]): predicted normals (normalised here; need not be unit).
        target (Tensor[B, 3, H, W]): true unit normals.
        valid (Tensor[B, 1, H, W]): bool, pixels with a surface.

    Returns:
        Tensor[]: degrees in [0, 180], in pred's dtype (0 when no pixel is valid).
    """
    _check_normals(pred, target, valid)
    cosine = (F.normalize(pred, dim=1) * F.normalize(target, dim=1)).sum(1).clamp(-1, 1)
    return _per_image_mean(torch.rad2deg(torch.acos(cosine)), valid[:, 0])


def multitask_loss(
    outputs: Mapping[str, Tensor],
    targets: Mapping[str, object],
    weights: Mapping[str, float] | None = None,
    *,
    lam: float = 0.5,
    ignore_index: int | None = 255,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""The weighted sum of the per-task losses of the tasks in ``outputs``, and the parts.

    .. math:: L = \sum_{t \in \text{outputs}} w_t L_t

    with :math:`L_\text{depth}` = `silog_loss` (``lam``), :math:`L_\text{normals}` = mean of :math:`1 - N \cdot N^*`,
    :math:`L_\text{semantic}` = cross-entropy (see the module docstring).

    Args:
        outputs: `MultiTaskNet`'s dict (any non-empty subset of ``TASKS``).
        targets: as `cvlab.data.SceneDataset(task=("depth", "normals", "semantic"))` gives them, batched:
            ``{"depth": {"depth": Tensor[B, 1, H, W] metres, "valid": bool Tensor[B, 1, H, W]},
            "normals": {"normals": Tensor[B, 3, H, W], "valid": ...}, "semantic": int64 Tensor[B, H, W]}``; the
            tasks of ``outputs`` must be there.
        weights: ``{task: w >= 0}`` for every task of ``outputs`` (default `MULTITASK_WEIGHTS`).
        lam: λ of the depth loss, in [0, 1].
        ignore_index: semantic label left out of the cross-entropy (None: none).

    Returns:
        (Tensor[], dict[str, Tensor[]]): the combined loss and the unweighted part of every task.
    """
    tasks = _check_tasks(tuple(outputs), "outputs")
    weights = dict(MULTITASK_WEIGHTS if weights is None else weights)
    _check_tasks(tuple(weights), "weights")
    if not isinstance(targets, Mapping):
        raise TypeError(f"targets: expected a dict {{task: target}}, got {type(targets).__name__}")
    for task in tasks:
        if task not in weights:
            raise ValueError(f"weights: expected a weight for every task of outputs {tasks}, got {tuple(weights)}")
        if task not in targets:
            raise ValueError(f"targets: expected a target for every task of outputs {tasks}, got {tuple(targets)}")
        weights[task] = check_number(weights[task], f"weights[{task!r}]", minimum=0)
    parts: dict[str, Tensor] = {}
    if "depth" in tasks:
        parts["depth"] = silog_loss(outputs["depth"], targets["depth"]["depth"], targets["depth"]["valid"], lam)
    if "normals" in tasks:
        pred, target, valid = outputs["normals"], targets["normals"]["normals"], targets["normals"]["valid"]
        _check_normals(pred, target, valid)
        parts["normals"] = _normal_loss(pred, target, valid)
    if "semantic" in tasks:
        ignore = check_ignore_index(ignore_index)
        parts["semantic"] = F.cross_entropy(outputs["semantic"], targets["semantic"],
                                            ignore_index=-100 if ignore is None else ignore)
    total = sum(weights[task] * parts[task] for task in tasks)
    return total, parts


class MultiTaskLoss(nn.Module):
    """See `multitask_loss`; ``forward`` returns only the combined loss (for `cvlab.train.fit`)."""

    def __init__(self, weights: Mapping[str, float] | None = None, lam: float = 0.5,
                 ignore_index: int | None = 255) -> None:
        super().__init__()
        self.weights, self.lam, self.ignore_index = weights, lam, ignore_index

    def forward(self, outputs: Mapping[str, Tensor], targets: Mapping[str, object]) -> Tensor:
        return multitask_loss(outputs, targets, self.weights, lam=self.lam, ignore_index=self.ignore_index)[0]


@torch.no_grad()
def multitask_scores(outputs: Mapping[str, Tensor], targets: Mapping[str, object], num_classes: int = 7,
                     ignore_index: int | None = 255) -> dict[str, float]:
    """The headline score of every task in ``outputs``: depth AbsRel (metric, no alignment), the mean normal
    angle error in degrees (`normal_angle_error`) and the mIoU of the whole batch's confusion matrix.

    Args:
        outputs, targets: as in `multitask_loss`.
        num_classes: K of the semantic labels.
        ignore_index: semantic label left out of the confusion matrix.

    Returns:
        dict: ``"abs_rel"``, ``"angle_deg"``, ``"miou"`` for the tasks present (floats).
    """
    tasks = _check_tasks(tuple(outputs), "outputs")
    scores: dict[str, float] = {}
    if "depth" in tasks:
        gt = targets["depth"]
        scores["abs_rel"] = float(depth_metrics(outputs["depth"], gt["depth"], gt["valid"])["abs_rel"])
    if "normals" in tasks:
        gt = targets["normals"]
        scores["angle_deg"] = float(normal_angle_error(outputs["normals"], gt["normals"], gt["valid"]))
    if "semantic" in tasks:
        pred = outputs["semantic"].argmax(1)
        conf = confusion_matrix(pred, targets["semantic"], check_int(num_classes, "num_classes"), ignore_index)
        scores["miou"] = float(mean_iou(conf))
    return scores
