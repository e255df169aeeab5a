"""Segmentation losses: the sigmoid focal loss, with torchvision's semantics."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_choice, check_same_shape, check_tensor


def sigmoid_focal_loss(
    inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"
) -> Tensor:
    r"""Binary focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`, exactly ``torchvision.ops.sigmoid_focal_loss``.

    Args:
        inputs (Tensor[...]): logits, any shape.
        targets (Tensor[...]): binary targets in {0, 1} (floating), same shape.
        alpha: weight of the positives in (0, 1); negative disables the alpha term.
        gamma: focusing exponent; 0 gives (alpha-weighted) binary cross-entropy.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Reference: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """
    check_tensor(inputs, "inputs", dtype="float")
    check_tensor(targets, "targets", dtype="float")
    check_same_shape(inputs, targets, "inputs", "targets")
    check_choice(reduction, "reduction", ("none", "mean", "sum"))
    p = inputs.sigmoid()
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class SigmoidFocalLoss(nn.Module):
    """See `sigmoid_focal_loss`."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)
