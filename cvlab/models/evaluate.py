"""Scoring and training helpers the model notebooks share: mIoU and boundary IoU of a set of predictions
(:func:`cvlab.metrics.boundary_iou_per_class`), the ceiling a stride allows, a seeded fixed-budget run."""

from __future__ import annotations

from time import perf_counter, process_time

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from cvlab._validate import check_choice, check_int, check_tensor
from cvlab.data.datasets import SceneDataset
from cvlab.losses.segmentation import class_weights, dice_loss, weighted_cross_entropy
from cvlab.metrics.segmentation import boundary_iou_per_class, confusion_matrix, mean_iou, pixel_accuracy
from cvlab.models.blocks import match_size
from cvlab.models.fcn import bilinear_upsampler
from cvlab.train import fit

__all__ = [
    "stride_oracle",
    "forward_flops",
    "sliding_window_logits",
    "fully_convolutional_logits",
    "scene_tensors",
    "predict",
    "score",
    "train_and_score",
    "LOSSES",
    "SCHEDULES",
]


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
def forward_flops(model: nn.Module, size: int, in_channels: int = 3) -> int:
    """Floating-point operations of one forward pass on a ``(1, in_channels, size, size)`` input (a multiply-add
    counts 2), counted by :class:`torch.utils.flop_counter.FlopCounterMode`: a machine-independent cost per image."""
    from torch.utils.flop_counter import FlopCounterMode

    size, in_channels = check_int(size, "size"), check_int(in_channels, "in_channels")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, in_channels, size, size, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def _window_args(model: nn.Module, images: Tensor, patch: int) -> tuple[Tensor, int]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    check_tensor(images, "images", ndim=4, shape="(N, C, H, W)", dtype="float")
    patch = check_int(patch, "patch")
    if patch % 2 == 0:
        raise ValueError(f"patch: expected an odd window side (a centre pixel), got {patch}")
    return F.pad(images, [patch // 2] * 4), patch


@torch.no_grad()
def sliding_window_logits(model: nn.Module, images: Tensor, patch: int, *, batch_size: int = 4096) -> Tensor:
    """Label every pixel the pre-FCN way: cut the ``patch x patch`` window centred on it out of the zero-padded
    image and classify that window alone, ``H W`` separate forward passes per image (batched).

    Args:
        model (nn.Module): a patch classifier, Tensor[B, C, patch, patch] -> Tensor[B, K, 1, 1] (e.g.
            :class:`~cvlab.models.fcn.PatchClassifier`); run in eval mode, its mode restored.
        images (Tensor[N, C, H, W]): floating images on the model's device.
        patch (int): odd window side.
        batch_size (int): windows per forward pass.

    Returns:
        Tensor[N, K, H, W]: the logits of each pixel's window. :func:`fully_convolutional_logits` gives the same
        numbers (up to float rounding) from one pass over the padded image.
    """
    padded, patch = _window_args(model, images, patch)
    batch_size = check_int(batch_size, "batch_size")
    n, c, h, w = images.shape
    windows = padded.unfold(2, patch, 1).unfold(3, patch, 1)  # (N, C, H, W, patch, patch), a view
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(n * h * w, c, patch, patch)
    was_training = model.training
    model.eval()
    try:
        scores = torch.cat([model(chunk).flatten(1) for chunk in windows.split(batch_size)])
    finally:
        model.train(was_training)
    return scores.reshape(n, h, w, -1).permute(0, 3, 1, 2)


@torch.no_grad()
def fully_convolutional_logits(model: nn.Module, images: Tensor, patch: int) -> Tensor:
    """The same labelling as :func:`sliding_window_logits` in one pass: the patch classifier, made of
    convolutions only, slides itself over the image zero-padded by ``patch // 2`` (FCN's observation), so
    overlapping windows share their arithmetic. Same arguments (eval mode, mode restored) and result,
    Tensor[N, K, H, W]."""
    padded, patch = _window_args(model, images, patch)
    was_training = model.training
    model.eval()
    try:
        return model(padded)
    finally:
        model.train(was_training)


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


LOSSES = ("ce", "wce+dice")
"""The losses of :func:`train_and_score`: cross-entropy, or median-frequency weighted cross-entropy plus soft Dice."""
SCHEDULES = ("cosine", "onecycle")
"""The learning-rate schedules of :func:`train_and_score`, both stepped once per epoch."""


def _random_flips(generator: torch.Generator):
    """A ``collate_fn`` that stacks ``(image, labels)`` items and flips each left-right with probability 1/2."""
    def collate(items):
        x, y = (torch.stack(parts) for parts in zip(*items, strict=True))
        flip = torch.rand(len(x), generator=generator) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(-1), x), torch.where(flip[:, None, None], y.flip(-1), y)
    return collate


def _loss_fn(name: str, labels: Tensor, num_classes: int):
    if name == "ce":
        return F.cross_entropy
    weight = class_weights(labels, num_classes, "median", ignore_index=None)

    def weighted_ce_plus_dice(logits: Tensor, target: Tensor) -> Tensor:
        return (weighted_cross_entropy(logits, target, weight.to(logits.device), ignore_index=None)
                + dice_loss(logits, target, ignore_index=None))
    return weighted_ce_plus_dice


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
    loss: str = "ce",
    schedule: str = "cosine",
    flip: bool = False,
) -> dict[str, float]:
    """Train ``model`` with AdamW for a fixed number of epochs, then score it on ``test``.

    The same seed gives the same batches and, for the same initial weights (seed before building the model),
    the same result on the CPU; models compared at equal ``epochs`` see the same data in the same order.

    Args:
        model (nn.Module): logits model; trained in place.
        train, test: ``(images Tensor[N, 3, H, W], labels Tensor[N, H, W])``.
        num_classes (int): K, the number of classes scored.
        epochs (int): passes over ``train``.
        batch_size (int): images per step.
        lr (float): AdamW learning rate: the start of the cosine annealing, or the peak of the one-cycle schedule.
        seed (int): seeds the initial shuffle and every generator.
        device: default :func:`cvlab.get_device`.
        loss (str): ``"ce"`` (cross-entropy) or ``"wce+dice"``: cross-entropy weighted by the median-frequency
            :func:`~cvlab.losses.class_weights` of the training labels, plus the soft
            :func:`~cvlab.losses.dice_loss` (both up-weight rare classes).
        schedule (str): ``"cosine"`` (annealed from ``lr`` to 0) or ``"onecycle"`` (Smith's one-cycle policy:
            warm up from ``lr / 25`` to ``lr`` in the first 20 % of the epochs, then anneal to about 0).
        flip (bool): flip each training image and its labels left-right with probability 1/2 (seeded).

    Returns:
        dict: the :func:`score` entries plus ``params`` (trainable parameters), ``train_s`` (seconds of
        training), ``train_cpu_s`` (CPU seconds of this process during training, all threads) and
        ``final_loss`` (mean training loss of the last epoch).
    """
    epochs, batch_size = check_int(epochs, "epochs"), check_int(batch_size, "batch_size")
    num_classes = check_int(num_classes, "num_classes")
    check_choice(loss, "loss", LOSSES)
    check_choice(schedule, "schedule", SCHEDULES)
    (x, y), (tx, ty) = train, test
    for value, name in ((x, "train images"), (tx, "test images")):
        check_tensor(value, name, ndim=4, shape="(N, C, H, W)", dtype="float")
    for value, name in ((y, "train labels"), (ty, "test labels")):
        check_tensor(value, name, ndim=3, shape="(N, H, W)", dtype="int")
    generator = torch.Generator().manual_seed(seed)
    collate = _random_flips(torch.Generator().manual_seed(seed + 1)) if flip else None
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator,
                        collate_fn=collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs, pct_start=0.2)
    loss_fn = _loss_fn(loss, y, num_classes)
    start, cpu_start = perf_counter(), process_time()
    history = fit(model, loader, loss_fn=loss_fn, optimizer=optimizer, epochs=epochs, device=device,
                  seed=seed, progress=False, scheduler=scheduler)
    seconds, cpu_seconds = perf_counter() - start, process_time() - cpu_start
    pred = predict(model, tx)
    out = score(pred, ty, num_classes)
    out.update(params=sum(p.numel() for p in model.parameters() if p.requires_grad), train_s=seconds,
               train_cpu_s=cpu_seconds, final_loss=history.train_loss[-1])
    return out
