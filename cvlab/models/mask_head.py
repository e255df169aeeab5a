"""The Mask R-CNN mask branch on its own, and the controlled RoIPool vs RoIAlign experiment built from it.

The mask branch sees a RoI's pooled features ``(C, S, S)`` and predicts one ``2S x 2S`` mask *per class*; only the
mask of the RoI's class is used (trained and read out), so classes do not compete for pixels. Training it on
ground-truth boxes isolates what the pooling contributes: the same features, head, steps and seeds, with the RoI
features from `roi_pool` (rounded) or `roi_align` (exact).

Reference: K. He, G. Gkioxari, P. Dollar and R. Girshick, "Mask R-CNN", ICCV 2017 (sections 3 and 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvlab._validate import check_choice, check_int, check_tensor
from cvlab.data.scenes import THING_CLASSES
from cvlab.device import seed_everything
from cvlab.metrics.instance import mask_ap
from cvlab.ops.roi import roi_align, roi_pool

__all__ = ["MaskHead", "select_class_masks", "mask_targets", "paste_masks", "pool_rois", "roi_features",
           "prepare_instances", "fit_mask_head", "evaluate_mask_head"]


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
    return nn.Sequential(conv, nn.GroupNorm(4, c_out), nn.ReLU(inplace=True))


class MaskHead(nn.Module):
    """Two 3x3 convs, a 2x transposed conv, a 1x1 conv: ``(K, C, S, S)`` -> logits ``(K, num_classes, 2S, 2S)``."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(_block(in_channels, hidden), _block(hidden, hidden),
                                  nn.ConvTranspose2d(hidden, hidden, 2, 2), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, num_classes, 1))

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)


def select_class_masks(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-class mask selection: RoI ``k`` keeps channel ``labels[k]`` of ``logits`` (Tensor[K, classes, M, M]).

    Returns Tensor[K, M, M]. The other classes' masks get no loss and are never read: the class comes from the box
    branch (here: the ground truth), the mask branch only says *where* inside the box.
    """
    check_tensor(logits, "logits", ndim=4, shape="(K, classes, M, M)", dtype="float")
    check_tensor(labels, "labels", ndim=1, shape="(K,)", dtype="int")
    if labels.shape[0] != logits.shape[0] or bool(((labels < 0) | (labels >= logits.shape[1])).any()):
        raise ValueError(f"labels: expected {logits.shape[0]} class indices in [0, {logits.shape[1] - 1}], got "
                         f"{labels.tolist()}")
    return logits[torch.arange(len(labels), device=logits.device), labels]


def mask_targets(masks: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Mask targets: each ground-truth mask cropped to its box with RoIAlign (``aligned=True``), then binarised.

    Args:
        masks (Tensor[M, H, W]): one binary mask per box (bool, uint8 or float).
        boxes (Tensor[M, 4]): ``(x1, y1, x2, y2)`` in pixels (box ``m`` crops mask ``m``).
        size (int): side of the target.

    Returns:
        Tensor[M, size, size] float 0/1 in the boxes' dtype: 1 where at least half of the bin is mask.
    """
    check_tensor(masks, "masks", ndim=3, shape="(M, H, W)")
    check_tensor(boxes, "boxes", ndim=2, shape="(M, 4)", dtype="float", finite=True)
    size = check_int(size, "size")
    if boxes.shape != (masks.shape[0], 4):
        raise ValueError(f"boxes: expected shape ({masks.shape[0]}, 4), one per mask, got {tuple(boxes.shape)}")
    own = torch.arange(len(boxes), device=boxes.device, dtype=boxes.dtype)[:, None]
    soft = roi_align(masks[:, None].to(boxes.dtype), torch.cat([own, boxes], 1), size, 1.0, 2, aligned=True)
    return (soft[:, 0] >= 0.5).to(boxes.dtype)


def paste_masks(masks: Tensor, boxes: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Paste box-relative masks back into the image: pixel centres inside box ``k`` read mask ``k`` bilinearly.

    Args:
        masks (Tensor[K, M, M]): floating masks (probabilities or logits) in box coordinates.
        boxes (Tensor[K, 4]): their boxes ``(x1, y1, x2, y2)`` in pixels.
        image_size: ``(H, W)``.

    Returns:
        Tensor[K, H, W] in the masks' dtype, 0 outside each box.
    """
    check_tensor(masks, "masks", ndim=3, shape="(K, M, M)", dtype="float")
    check_tensor(boxes, "boxes", ndim=2, shape="(K, 4)", dtype="float", finite=True)
    h, w = image_size
    ys = torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5
    xs = torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5
    b = boxes.to(masks.dtype)
    u = (xs[None] - b[:, :1]) / (b[:, 2:3] - b[:, :1]).clamp(min=1e-6) * 2 - 1  # (K, W), -1..1 across the box
    v = (ys[None] - b[:, 1:2]) / (b[:, 3:4] - b[:, 1:2]).clamp(min=1e-6) * 2 - 1  # (K, H)
    grid = torch.stack([u[:, None, :].expand(-1, h, -1), v[:, :, None].expand(-1, -1, w)], dim=-1)
    pasted = F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]
    inside = (u.abs() <= 1)[:, None, :] & (v.abs() <= 1)[:, :, None]
    return pasted * inside.to(pasted.dtype)


POOLS = ("pool", "align")


def pool_rois(features: Tensor, rois: Tensor, pool: str, size: int, stride: int) -> Tensor:
    """RoI features ``(K, C, size, size)`` with ``"pool"`` (RoIPool, rounded) or ``"align"`` (RoIAlign, aligned,
    2 x 2 samples per bin) from a stride-``stride`` feature map; ``rois`` (Tensor[K, 5]) in image pixels."""
    check_choice(pool, "pool", POOLS)
    if pool == "pool":
        return roi_pool(features, rois, size, 1.0 / stride)
    return roi_align(features, rois, size, 1.0 / stride, 2, aligned=True)


def prepare_instances(dataset: Sequence, size: int = 14) -> list[tuple[Tensor, dict]]:
    """The images with instances of a detection dataset, ready for `fit_mask_head` / `evaluate_mask_head`.

    Labels become 0.. over the thing classes, boxes the pixel-edge boxes of the masks (``SceneDataset`` gives the
    first and last pixel, so ``x2 + 1``, ``y2 + 1``), and ``"targets"`` holds the ``size x size`` `mask_targets`.
    """
    size = check_int(size, "size")
    out = []
    for i in range(len(dataset)):
        image, t = dataset[i]
        if not len(t["boxes"]):
            continue
        labels = torch.tensor([THING_CLASSES.index(int(c)) for c in t["labels"]], dtype=torch.long)
        boxes = t["boxes"] + torch.tensor([0.0, 0.0, 1.0, 1.0])
        masks = t["masks"].bool()
        out.append((image, {"boxes": boxes, "labels": labels, "masks": masks,
                            "targets": mask_targets(masks, boxes, size)}))
    return out


def _rois(targets: Sequence[dict]) -> Tensor:
    return torch.cat([torch.cat([torch.full((len(t["boxes"]), 1), float(i)), t["boxes"]], 1)
                      for i, t in enumerate(targets)])


def roi_features(images: Tensor, targets: Sequence[dict], pool: str, size: int = 7, stride: int = 4) -> Tensor:
    """Pooled features ``(K, 3, size, size)`` of every box of ``targets`` (one dict per image).

    The feature map is the image averaged over ``stride x stride`` cells: a fixed, smooth stride-``stride`` map,
    so what a head can read from a RoI depends on the pooling alone.
    """
    check_tensor(images, "images", ndim=4, shape="(B, 3, H, W)", dtype="float")
    features = F.avg_pool2d(images, stride)
    return pool_rois(features, _rois(targets), pool, size, stride)


class _Head(nn.Module):
    def __init__(self, pool: str, size: int, stride: int, in_channels: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.pool, self.size, self.stride = pool, size, stride
        self.head = MaskHead(in_channels, num_classes, hidden)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return select_class_masks(self.head(features), labels)


def _pooled(data: Sequence[tuple[Tensor, dict]], pool: str, size: int, stride: int) -> tuple[Tensor, Tensor, Tensor]:
    images = torch.stack([image for image, _ in data])
    targets = [t for _, t in data]
    labels = torch.cat([t["labels"] for t in targets])
    return roi_features(images, targets, pool, size, stride), labels, torch.cat([t["targets"] for t in targets])


def fit_mask_head(
    pool: str, train: Sequence[tuple[Tensor, dict]], *, steps: int = 150, batch_size: int = 64, size: int = 7,
    stride: int = 4, hidden: int = 32, lr: float = 3e-3, seed: int = 0,
) -> nn.Module:
    """Train a mask head on the RoI features of ground-truth boxes for a fixed number of ``steps``.

    Args:
        pool: ``"pool"`` (RoIPool) or ``"align"`` (RoIAlign); features, head, steps and seed are otherwise equal.
        train: `prepare_instances` of a ``SceneDataset(task="instance")`` with targets of side ``2 * size``.
        steps, batch_size: Adam steps on minibatches of RoIs (one-cycle learning rate up to ``lr``).
        size: pooled side S; the masks are 2S x 2S.
        stride: image pixels per feature pixel (see `roi_features`).

    Returns:
        The trained head; pass it to `evaluate_mask_head`.
    """
    check_choice(pool, "pool", POOLS)
    steps, batch_size = check_int(steps, "steps"), check_int(batch_size, "batch_size")
    data = list(train)
    if not data or data[0][1]["targets"].shape[-1] != 2 * size:
        raise ValueError(f"train: expected prepare_instances(dataset, size={2 * size}) with at least one image")
    features, labels, goal = _pooled(data, pool, size, stride)
    seed_everything(seed)
    model = _Head(pool, size, stride, features.shape[1], hidden, len(THING_CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        pick = torch.randint(0, len(labels), (batch_size,), generator=g)
        loss = F.binary_cross_entropy_with_logits(model(features[pick], labels[pick]), goal[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model


@torch.no_grad()
def evaluate_mask_head(model: nn.Module, val: Sequence[tuple[Tensor, dict]]) -> dict[str, float]:
    """Mask quality on ground-truth boxes: mean mask IoU over instances, and COCO mask AP (AP, AP50, AP75).

    Each predicted mask is pasted into the image (`paste_masks`) and cut at 0.5; its score is the mean
    probability over its pixels (the box is given, so AP measures only the masks).
    """
    model.eval()
    data = list(val)
    features, labels, _ = _pooled(data, model.pool, model.size, model.stride)
    probs = model(features, labels).sigmoid().split([len(t["labels"]) for _, t in data])
    preds, ious = [], []
    for (image, t), prob in zip(data, probs, strict=True):
        pasted = paste_masks(prob, t["boxes"], image.shape[1:])
        binary = pasted >= 0.5
        inter = (binary & t["masks"]).flatten(1).sum(1)
        union = (binary | t["masks"]).flatten(1).sum(1)
        ious.append(inter / union.clamp(min=1))
        score = (pasted * binary).flatten(1).sum(1) / binary.flatten(1).sum(1).clamp(min=1)
        preds.append({"masks": binary, "labels": t["labels"], "scores": score})
    ap = mask_ap(preds, [t for _, t in data])
    return {"mask_iou": float(torch.cat(ious).mean()), "AP": ap["AP"], "AP50": ap["AP50"], "AP75": ap["AP75"]}
