"""Scoring and training helpers the model notebooks share: boundary IoU of a semantic map, a fixed-budget run.

``boundary_iou_per_class`` is a stop-gap for the notebooks until ``cvlab.metrics.boundary_iou`` lands; it follows
the Boundary IoU paper (inner boundary band of each class mask, width ``d = max(1, round(0.02 x diagonal))``
pixels, the image border counting as background), accumulated over a whole set before dividing.

Reference: B. Cheng, R. Girshick, P. Dollar, A. C. Berg, A. Kirillov, "Boundary IoU: Improving Object-Centric
Image Segmentation Evaluation", CVPR 2021.
"""

from __future__ import annotations

import math
from time import perf_counter

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from cvlab._validate import check_int, check_same_shape, check_tensor
from cvlab.data.datasets import SceneDataset
from cvlab.metrics.segmentation import confusion_matrix, mean_iou, pixel_accuracy
from cvlab.models.blocks import match_size
from cvlab.models.fcn import bilinear_upsampler
from cvlab.train import fit

__all__ = [
    "boundary_width",
    "boundary_bands",
    "boundary_iou_per_class",
    "stride_oracle",
    "scene_tensors",
    "predict",
    "score",
    "train_and_score",
]


def boundary_width(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """Band width ``d = max(1, round(dilation_ratio * sqrt(H^2 + W^2)))`` in pixels (the paper's rule)."""
    height, width = check_int(height, "height"), check_int(width, "width")
    if not 0 < dilation_ratio < 1:
        raise ValueError(f"dilation_ratio: expected a number in (0, 1), got {dilation_ratio!r}")
    return max(1, round(dilation_ratio * math.hypot(height, width)))


def boundary_bands(labels: Tensor, num_classes: int, d: int) -> Tensor:
    """Inner boundary band of every class mask: pixels of class ``k`` within ``d`` pixels (chessboard distance)
    of a pixel that is not ``k`` or of the image border.

    Args:
        labels (Tensor[B, H, W]): integer class ids in ``[0, num_classes)``.
        num_classes (int): K.
        d (int): band width in pixels.

    Returns:
        Tensor[B, K, H, W]: bool.
    """
    check_tensor(labels, "labels", ndim=3, shape="(B, H, W)", dtype="int")
    num_classes, d = check_int(num_classes, "num_classes"), check_int(d, "d")
    masks = F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()
    outside = F.pad(1 - masks, (d, d, d, d), value=1.0)  # beyond the border counts as outside
    near_outside = F.max_pool2d(outside, 2 * d + 1, stride=1) > 0
    return (masks > 0) & near_outside


def boundary_iou_per_class(
    pred: Tensor, target: Tensor, num_classes: int, *, dilation_ratio: float = 0.02, ignore_index: int | None = 255
) -> Tensor:
    """Boundary IoU of every class over a batch: ``|P_d & G_d| / |P_d | G_d|`` with ``P_d``, ``G_d`` the inner
    boundary bands (:func:`boundary_bands`) of the predicted and the true mask, summed over the batch.

    Pixels whose target is ``ignore_index`` are left out of both bands after the bands are found (in the target
    they count as a class of their own while finding them, so a class touching them has a band there).

    Args:
        pred (Tensor[B, H, W]): predicted class ids.
        target (Tensor[B, H, W]): true class ids or ``ignore_index``.
        num_classes (int): K.
        dilation_ratio (float): band width as a fraction of the image diagonal.
        ignore_index (int or None): target value to leave out.

    Returns:
        Tensor[K]: float32; NaN for a class with no boundary pixel in either map.
    """
    check_tensor(pred, "pred", ndim=3, shape="(B, H, W)", dtype="int")
    check_tensor(target, "target", ndim=3, shape="(B, H, W)", dtype="int")
    check_same_shape(pred, target, "pred", "target")
    num_classes = check_int(num_classes, "num_classes")
    d = boundary_width(pred.shape[-2], pred.shape[-1], dilation_ratio)
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    target = torch.where(valid, target, num_classes)  # ignored pixels: an extra class, dropped below
    if bool(((pred < 0) | (pred >= num_classes)).any()) or bool(((target < 0) | (target > num_classes)).any()):
        raise ValueError(f"pred, target: expected class ids in [0, {num_classes}) (or ignore_index)")
    gt = boundary_bands(target, num_classes + 1, d)[:, :num_classes] & valid[:, None]
    pr = boundary_bands(pred, num_classes, d) & valid[:, None]
    inter = (gt & pr).sum((0, 2, 3)).float()
    union = (gt | pr).sum((0, 2, 3)).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.full_like(union, math.nan))


def scene_tensors(split: str, n: int, size: int = 64, **render_kwargs) -> tuple[Tensor, Tensor]:
    """The first ``n`` scenes of ``SceneDataset(split, "semantic", size)`` stacked: images Tensor[n, 3, H, W]
    (float32) and labels Tensor[n, H, W] (int64), rendered once so training does not re-render them."""
    dataset = SceneDataset(split, "semantic", size, length=check_int(n, "n"), **render_kwargs)
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images), torch.stack(labels)


@torch.no_grad()
def stride_oracle(labels: Tensor, stride: int, num_classes: int) -> Tensor:
    """The best labels a score map at ``stride`` can give through FCN's final bilinear upsampling.

    The oracle knows the truth: its score for class ``k`` at a coarse pixel is the fraction of the
    ``stride x stride`` input block of class ``k`` (average pooling of the one-hot labels, blocks cut from the
    top-left, ``ceil_mode``); the scores are upsampled by the fixed bilinear transposed convolution of
    :class:`~cvlab.models.FCN` (:func:`~cvlab.models.fcn.bilinear_upsampler`), cropped, and arg-maxed.
    Whatever a network at that stride learns, its upsampled boundaries are about this coarse.

    Args:
        labels (Tensor[N, H, W]): true class ids in ``[0, num_classes)``.
        stride (int): even output stride, e.g. 8, 16, 32.
        num_classes (int): K.

    Returns:
        Tensor[N, H, W]: int64 class ids on the device of ``labels``.
    """
    check_tensor(labels, "labels", ndim=3, shape="(N, H, W)", dtype="int")
    stride, num_classes = check_int(stride, "stride"), check_int(num_classes, "num_classes")
    onehot = F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()
    coarse = F.avg_pool2d(onehot, stride, ceil_mode=True)
    up = bilinear_upsampler(num_classes, stride, learnable=False).to(labels.device)
    return match_size(up(coarse), labels.shape[-2:]).argmax(1)


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, *, batch_size: int = 32) -> Tensor:
    """Class ids ``argmax_k model(images)[:, k]`` in eval mode, batch by batch on the model's device.

    Args:
        model (nn.Module): maps Tensor[B, C, H, W] to logits Tensor[B, K, H, W].
        images (Tensor[N, C, H, W]): floating images (any device).
        batch_size (int): images per forward pass.

    Returns:
        Tensor[N, H, W]: int64 on the device of ``images``; the model's train/eval mode is restored.
    """
    check_tensor(images, "images", ndim=4, shape="(N, C, H, W)", dtype="float")
    batch_size = check_int(batch_size, "batch_size")
    device = next((p.device for p in model.parameters()), images.device)
    was_training = model.training
    model.eval()
    try:
        out = [model(chunk.to(device)).argmax(1).to(images.device) for chunk in images.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def score(pred: Tensor, target: Tensor, num_classes: int, *, dilation_ratio: float = 0.02) -> dict[str, float]:
    """``miou``, ``boundary_iou`` (mean over classes of :func:`boundary_iou_per_class`) and ``pixel_acc`` of a
    whole set of predictions ``pred`` against ``target`` (both Tensor[N, H, W])."""
    conf = confusion_matrix(pred, target, num_classes)
    biou = boundary_iou_per_class(pred, target, num_classes, dilation_ratio=dilation_ratio)
    return {
        "miou": float(mean_iou(conf)),
        "boundary_iou": float(biou.nanmean()),
        "pixel_acc": float(pixel_accuracy(conf)),
    }


def train_and_score(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    num_classes: int,
    epochs: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Train ``model`` with cross-entropy and AdamW for a fixed number of epochs, then score it on ``test``.

    The same seed gives the same batches and, for the same initial weights (seed before building the model),
    the same result on the CPU; models compared at equal ``epochs`` see the same data in the same order.

    Args:
        model (nn.Module): logits model; trained in place.
        train, test: ``(images Tensor[N, 3, H, W], labels Tensor[N, H, W])``.
        num_classes (int): K, the number of classes scored.
        epochs (int): passes over ``train``.
        batch_size (int): images per step.
        lr (float): AdamW learning rate, cosine-annealed epoch by epoch.
        seed (int): seeds the initial shuffle and every generator.
        device: default :func:`cvlab.get_device`.

    Returns:
        dict: the :func:`score` entries plus ``params`` (trainable parameters), ``train_s`` (seconds of
        training) and ``final_loss`` (mean training loss of the last epoch).
    """
    epochs, batch_size = check_int(epochs, "epochs"), check_int(batch_size, "batch_size")
    (x, y), (tx, ty) = train, test
    for value, name in ((x, "train images"), (tx, "test images")):
        check_tensor(value, name, ndim=4, shape="(N, C, H, W)", dtype="float")
    for value, name in ((y, "train labels"), (ty, "test labels")):
        check_tensor(value, name, ndim=3, shape="(N, H, W)", dtype="int")
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = perf_counter()
    history = fit(model, loader, loss_fn=F.cross_entropy, optimizer=optimizer, epochs=epochs, device=device,
                  seed=seed, progress=False, scheduler=scheduler)
    seconds = perf_counter() - start
    pred = predict(model, tx)
    out = score(pred, ty, check_int(num_classes, "num_classes"))
    out.update(params=sum(p.numel() for p in model.parameters() if p.requires_grad), train_s=seconds,
               final_loss=history.train_loss[-1])
    return out
