"""PointRend's idea on a coarse mask: spend the computation on the few points where the mask is unsure.

A coarse mask (say 14 x 14 from a Mask R-CNN head) is right almost everywhere except near the object's boundary.
PointRend picks the points whose probability is closest to 0.5 (|p - 0.5| smallest) and re-predicts only those
with a small point head (an MLP on features sampled at the point, plus the coarse prediction there):

- training: draw ``k * N`` random points, keep the ``beta * N`` most uncertain of them and ``(1 - beta) * N``
  uniform random points (`training_points`; the paper uses k = 3, beta = 0.75);
- inference, adaptive subdivision: upsample the mask 2x bilinearly, re-predict the ``N`` most uncertain points
  of the finer grid, repeat (`subdivide`). ``select="random"`` re-predicts ``N`` uniformly random pixels instead:
  the same number of head evaluations, so comparing the two isolates the value of *choosing* the points.

Points are ``(x, y)`` in [0, 1] over the mask (``grid_sample``'s ``align_corners=False`` convention: a pixel's
centre is ``(i + 0.5) / size``).

Reference: A. Kirillov, Y. Wu, K. He and R. Girshick, "PointRend: Image Segmentation as Rendering", CVPR 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_choice, check_int, check_number, check_tensor
from cvlab.models.mask_head import paste_masks

__all__ = ["uncertainty", "point_sample", "most_uncertain_points", "random_pixels", "training_points", "PointHead",
           "SELECTIONS", "subdivide", "head_evaluations", "fit_point_head", "pasted_mask_iou"]


def uncertainty(logits: Tensor) -> Tensor:
    """``-|logit|``: highest where the probability is 0.5 (the order of ``-|p - 0.5|``, as the sigmoid is
    monotone). Same shape as ``logits``."""
    check_tensor(logits, "logits", dtype="float")
    return -logits.abs()


def point_sample(maps: Tensor, points: Tensor) -> Tensor:
    """Bilinear values of ``maps`` (Tensor[K, C, H, W]) at ``points`` (Tensor[K, N, 2], ``(x, y)`` in [0, 1]):
    Tensor[K, C, N]. Within half a pixel of the border the border pixel is read (no zero padding, which would make
    every mask uncertain at its edge)."""
    check_tensor(maps, "maps", ndim=4, shape="(K, C, H, W)", dtype="float")
    check_tensor(points, "points", ndim=3, shape="(K, N, 2)", dtype="float", finite=True)
    if points.shape[0] != maps.shape[0] or points.shape[2] != 2:
        raise ValueError(f"points: expected shape ({maps.shape[0]}, N, 2), got {tuple(points.shape)}")
    grid = (2 * points - 1).unsqueeze(2).to(maps.dtype)  # (K, N, 1, 2) in [-1, 1]
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)[..., 0]


def most_uncertain_points(logits: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """The ``n`` most uncertain pixels of each mask (ties: the lower flat index first).

    Args:
        logits (Tensor[K, 1, H, W]): mask logits.
        n (int): points per mask (at most H * W).

    Returns:
        ``(index, points)``: flat pixel indices Tensor[K, n] (int64, row-major) and their centres Tensor[K, n, 2]
        ``(x, y)`` in [0, 1].
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, 1, H, W)", dtype="float")
    k, _, h, w = logits.shape
    n = check_int(n, "n")
    if n > h * w:
        raise ValueError(f"n: expected at most {h * w} (H * W), got {n}")
    u = uncertainty(logits).flatten(1)
    index = torch.sort(u, dim=1, descending=True, stable=True).indices[:, :n]
    return index, _centres(index, h, w, logits.dtype)


def _centres(index: Tensor, h: int, w: int, dtype: torch.dtype) -> Tensor:
    x = ((index % w).to(dtype) + 0.5) / w
    y = ((index // w).to(dtype) + 0.5) / h
    return torch.stack([x, y], -1)


def random_pixels(logits: Tensor, n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` distinct pixels of each mask drawn uniformly at random (the baseline for `most_uncertain_points`).

    Args:
        logits (Tensor[K, 1, H, W]): mask logits (only their shape, dtype and device are used).
        n (int): points per mask (at most H * W).
        generator: for the draw (on the CPU).

    Returns:
        ``(index, points)`` as `most_uncertain_points`: Tensor[K, n] flat indices and Tensor[K, n, 2] centres.
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, 1, H, W)", dtype="float")
    k, _, h, w = logits.shape
    n = check_int(n, "n")
    if n > h * w:
        raise ValueError(f"n: expected at most {h * w} (H * W), got {n}")
    index = torch.rand(k, h * w, generator=generator).argsort(1)[:, :n].to(logits.device)
    return index, _centres(index, h, w, logits.dtype)


def training_points(
    logits: Tensor, n: int, *, oversample: int = 3, importance: float = 0.75, generator: torch.Generator | None = None
) -> Tensor:
    """PointRend's training points: ``importance * n`` most uncertain of ``oversample * n`` uniform random ones,
    plus ``n - importance * n`` more uniform random points.

    Args:
        logits (Tensor[K, 1, H, W]): coarse mask logits (the uncertainty is read bilinearly at the candidates).
        n (int): points per mask.
        oversample (int): k, candidates per point (k = 1 with importance 0 is uniform sampling).
        importance (float): beta in [0, 1], share of the points chosen by uncertainty.
        generator: for the random draws (on the CPU).

    Returns:
        Tensor[K, n, 2] of ``(x, y)`` in [0, 1], in the logits' dtype and device.
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, 1, H, W)", dtype="float")
    n, oversample = check_int(n, "n"), check_int(oversample, "oversample")
    importance = check_number(importance, "importance", minimum=0.0, maximum=1.0)
    k = logits.shape[0]
    picked = int(importance * n)
    candidates = torch.rand(k, oversample * n, 2, generator=generator).to(logits)
    u = uncertainty(point_sample(logits, candidates))[:, 0]  # (K, k * n)
    top = torch.topk(u, picked, dim=1).indices
    chosen = torch.gather(candidates, 1, top[..., None].expand(k, picked, 2))
    rest = torch.rand(k, n - picked, 2, generator=generator).to(logits)
    return torch.cat([chosen, rest], 1)


class PointHead(nn.Module):
    """The point head: a 3-layer MLP (1x1 convs over points) on ``[fine features, coarse logit]`` at each point,
    the coarse logit fed again to every layer as in the paper. ``(K, C, N)``, ``(K, 1, N)`` -> logits ``(K, 1, N)``.
    """

    def __init__(self, in_channels: int, hidden: int = 32) -> None:
        super().__init__()
        in_channels, hidden = check_int(in_channels, "in_channels"), check_int(hidden, "hidden")
        self.layers = nn.ModuleList([nn.Conv1d(in_channels + 1, hidden, 1), nn.Conv1d(hidden + 1, hidden, 1)])
        self.out = nn.Conv1d(hidden + 1, 1, 1)

    def forward(self, features: Tensor, coarse: Tensor) -> Tensor:
        x = features
        for layer in self.layers:
            x = F.relu(layer(torch.cat([x, coarse], 1)))
        return self.out(torch.cat([x, coarse], 1))


SELECTIONS = ("uncertain", "random")


def subdivide(
    logits: Tensor, features: Tensor, head: nn.Module, steps: int, points: int | None, *, select: str = "uncertain",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, list]:
    """Adaptive subdivision: ``steps`` times, upsample the mask 2x bilinearly and re-predict ``points`` of its
    pixels with ``head`` (the rest keep the upsampled value).

    Args:
        logits (Tensor[K, 1, H, W]): coarse mask logits.
        features (Tensor[K, C, H', W']): fine features over the same boxes, sampled bilinearly at the points.
        head: maps ``(features at points (K, C, N), coarse logits at points (K, 1, N))`` to ``(K, 1, N)``.
        steps (int): subdivisions; the result is ``(K, 1, H * 2**steps, W * 2**steps)``.
        points (int or None): points re-predicted per step, capped at the finer grid's size (as detectron2's
            PointRend does: the first steps of a small mask may be dense); ``None``: every pixel of every finer
            grid, a dense re-prediction.
        select: ``"uncertain"`` (PointRend: the most uncertain pixels, `most_uncertain_points`) or ``"random"``
            (uniformly random distinct pixels, `random_pixels`: the same compute, no choice).
        generator: for ``select="random"``.

    Returns:
        ``(logits, selected)``: the refined logits and, per step, the flat indices Tensor[K, N] it refined (N:
        ``points`` capped at that step's grid).
        The head runs ``head_evaluations(H, steps, points)`` times per mask.
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, 1, H, W)", dtype="float")
    check_tensor(features, "features", ndim=4, shape="(K, C, H, W)", dtype="float")
    steps = check_int(steps, "steps")
    select = check_choice(select, "select", SELECTIONS)
    if points is not None:
        points = check_int(points, "points")
    if features.shape[0] != logits.shape[0]:
        raise ValueError(f"features: expected {logits.shape[0]} maps (one per mask), got {features.shape[0]}")
    selected = []
    for _ in range(steps):
        logits = F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False)
        k, _, h, w = logits.shape
        n = h * w if points is None else min(points, h * w)
        if select == "uncertain":
            index, where = most_uncertain_points(logits, n)
        else:
            index, where = random_pixels(logits, n, generator=generator)
        refined = head(point_sample(features, where), point_sample(logits, where))  # (K, 1, N)
        logits = logits.flatten(1).scatter(1, index, refined[:, 0]).view(k, 1, h, w)
        selected.append(index)
    return logits, selected


def head_evaluations(size: int, steps: int, points: int | None = None) -> int:
    """Point-head evaluations per mask of `subdivide` from a ``size x size`` mask:
    ``sum_s min(points, (size * 2**s)**2)`` for s = 1..steps (``steps * points`` once the grids are larger than
    ``points``); ``points=None``: a *dense* re-prediction, every pixel of every finer grid.

    Example:
        >>> head_evaluations(14, 2, 64), head_evaluations(14, 2)  # 64 + 64; 28**2 + 56**2
        (128, 3920)
    """
    size, steps = check_int(size, "size"), check_int(steps, "steps")
    cap = None if points is None else check_int(points, "points")
    grids = [(size * 2**s) ** 2 for s in range(1, steps + 1)]
    return sum(grids) if cap is None else sum(min(cap, g) for g in grids)


def fit_point_head(
    logits: Tensor, features: Tensor, targets: Tensor, *, points: int = 64, steps: int = 200, hidden: int = 32,
    lr: float = 3e-3, oversample: int = 3, importance: float = 0.75, seed: int = 0,
) -> PointHead:
    """Train a `PointHead` on PointRend's `training_points` of coarse masks (binary cross-entropy at the points).

    Args:
        logits (Tensor[K, 1, H, W]): coarse mask logits (fixed; the coarse head is not trained here).
        features (Tensor[K, C, H', W']): fine features over the same boxes.
        targets (Tensor[K, 1, H'', W'']): true masks in the boxes (0/1 floats), read bilinearly at the points and
            cut at 0.5.
        points, steps: points per mask per step, Adam steps (full batch of masks).
        oversample, importance: `training_points`' k and beta (the paper's 3 and 0.75; 1 and 0 is uniform).
        seed: the head's initialisation and the training points.

    Returns:
        The trained head (eval mode) for `subdivide`.
    """
    check_tensor(targets, "targets", ndim=4, shape="(K, 1, H, W)", dtype="float")
    steps = check_int(steps, "steps")
    torch.manual_seed(seed)
    head = PointHead(features.shape[1], hidden)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        where = training_points(logits, points, oversample=oversample, importance=importance, generator=g)
        truth = (point_sample(targets, where) >= 0.5).to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(head(point_sample(features, where), point_sample(logits, where)),
                                                  truth)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def pasted_mask_iou(logits: Tensor, boxes: Tensor, masks: Tensor) -> Tensor:
    """Mask IoU in the image of box-relative mask logits: each mask's probabilities are pasted into its box
    (`cvlab.models.mask_head.paste_masks`), cut at 0.5 and compared with its true mask.

    Args:
        logits (Tensor[K, 1, M, M]): mask logits in box coordinates (any M: coarse, upsampled or refined).
        boxes (Tensor[K, 4]): ``(x1, y1, x2, y2)`` in pixels.
        masks (Tensor[K, H, W]): the true masks (bool or 0/1), all of one image size.

    Returns:
        Tensor[K] of IoUs (0 where both masks are empty).
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, 1, M, M)", dtype="float")
    check_tensor(masks, "masks", ndim=3, shape="(K, H, W)")
    check_tensor(boxes, "boxes", ndim=2, shape="(K, 4)", dtype="float", finite=True)
    if masks.shape[0] != logits.shape[0] or boxes.shape != (logits.shape[0], 4):
        raise ValueError(f"masks, boxes: expected {logits.shape[0]} of each (one per logit map), got "
                         f"{masks.shape[0]} masks and boxes of shape {tuple(boxes.shape)}")
    found = paste_masks(logits[:, 0].sigmoid(), boxes, tuple(masks.shape[1:])) >= 0.5
    truth = masks.bool()
    inter = (found & truth).flatten(1).sum(1)
    union = (found | truth).flatten(1).sum(1)
    return inter.to(logits.dtype) / union.clamp(min=1).to(logits.dtype)
