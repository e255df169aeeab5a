"""A Mask R-CNN small enough to train from scratch on rendered scenes on a CPU: torchvision's model, our backbone.

`maskrcnn` builds ``torchvision.models.detection.MaskRCNN`` around a four-stage conv + GroupNorm backbone (stride
4, no pretrained weights) with heads shrunk to match. Three traps it avoids:

- ``resnet_fpn_backbone(weights=None)`` keeps ``FrozenBatchNorm2d``: from scratch that is no normalisation at all.
  Our backbone uses trainable ``GroupNorm``.
- From scratch at SGD lr 0.01 without warm-up the losses were reported to reach NaN within a few steps (issue 11;
  not re-measured here); `train_maskrcnn` ramps the rate up linearly over ``warmup`` steps and clips the gradient
  norm, and the shipped recipe trained without a non-finite loss.
- An untrained model keeps torchvision's default 1000 proposals per image and its evaluation crawls; the factory
  caps the proposals kept after NMS, the detections per image and drops low scores.

Per-class masks: the mask predictor outputs one ``28 x 28`` mask per class for every detection; torchvision keeps
the channel of the detection's predicted class (``maskrcnn_inference``) and trains only the channel of the
ground-truth class (``maskrcnn_loss``), the same rule as `cvlab.models.mask_head.select_class_masks`.

Reference: K. He, G. Gkioxari, P. Dollar and R. Girshick, "Mask R-CNN", ICCV 2017.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from cvlab._validate import check_int, check_number, check_tensor
from cvlab.data.scenes import THING_CLASSES
from cvlab.device import seed_everything
from cvlab.metrics.instance import mask_ap
from cvlab.models.shipped import WEIGHTS_DIR, load_half, save_half

__all__ = ["SmallBackbone", "maskrcnn", "scene_targets", "train_maskrcnn", "predict", "evaluate_maskrcnn",
           "MaskRCNNRecipe", "RECIPE", "train_recipe", "load_pretrained"]

WEIGHTS = WEIGHTS_DIR / "maskrcnn_scenes.pt"


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.GroupNorm(8, c_out),
                         nn.ReLU(inplace=True))


class SmallBackbone(nn.Sequential):
    """Four 3x3 conv + GroupNorm + ReLU layers, the first two of stride 2: ``(B, 3, H, W)`` -> ``(B, width, H/4,
    W/4)``. ``out_channels`` is what torchvision's detection heads read."""

    def __init__(self, width: int = 32) -> None:
        width = check_int(width, "width")
        if width % 16:
            raise ValueError(f"width: expected a multiple of 16 (GroupNorm with 8 groups at width / 2), got {width}")
        super().__init__(_conv(3, width // 2, 2), _conv(width // 2, width, 2), _conv(width, width, 1),
                         _conv(width, width, 1))
        self.out_channels = width


def maskrcnn(
    num_classes: int = len(THING_CLASSES) + 1,
    *,
    width: int = 32,
    image_size: int = 64,
    anchor_sizes: Sequence[int] = (8, 16, 32),
    detections_per_img: int = 20,
    score_thresh: float = 0.05,
    proposals: int = 100,
) -> MaskRCNN:
    """torchvision's Mask R-CNN with `SmallBackbone` (stride 4), one anchor level and small heads.

    Args:
        num_classes: classes including the background 0 (default: the four thing classes + 1).
        width: backbone channels (also the RoI feature channels).
        image_size: images are fed at this size (no resizing for ``image_size x image_size`` scenes).
        anchor_sizes: anchor sides in pixels, each with aspect ratios 0.5, 1, 2.
        detections_per_img, score_thresh: caps on what evaluation returns per image.
        proposals: RPN proposals kept after NMS per image (train and test; torchvision's default is 1000-2000).

    Returns:
        ``MaskRCNN``: in train mode ``model(images, targets)`` gives the loss dict; in eval mode ``model(images)``
        gives per image ``{"boxes" (N, 4), "labels" (N,), "scores" (N,), "masks" (N, 1, H, W) probabilities}``.
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    image_size = check_int(image_size, "image_size")
    detections_per_img = check_int(detections_per_img, "detections_per_img")
    proposals = check_int(proposals, "proposals")
    score_thresh = check_number(score_thresh, "score_thresh", minimum=0.0, maximum=1.0)
    sizes = tuple(check_int(s, "anchor_sizes") for s in anchor_sizes)
    backbone = SmallBackbone(width)
    anchors = AnchorGenerator((sizes,), ((0.5, 1.0, 2.0),))
    box_pool = MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2)
    mask_pool = MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2)
    hidden = 4 * width
    return MaskRCNN(
        backbone, num_classes=None, min_size=image_size, max_size=image_size,
        image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25],
        rpn_anchor_generator=anchors, rpn_pre_nms_top_n_train=4 * proposals, rpn_pre_nms_top_n_test=4 * proposals,
        rpn_post_nms_top_n_train=proposals, rpn_post_nms_top_n_test=proposals, rpn_batch_size_per_image=64,
        box_roi_pool=box_pool, box_head=TwoMLPHead(width * 7 * 7, hidden),
        box_predictor=FastRCNNPredictor(hidden, num_classes), box_batch_size_per_image=64,
        box_detections_per_img=detections_per_img, box_score_thresh=score_thresh,
        mask_roi_pool=mask_pool, mask_head=MaskRCNNHeads(width, [width, width], 1),
        mask_predictor=MaskRCNNPredictor(width, width, num_classes),
    )


def scene_targets(target: dict) -> dict:
    """A ``SceneDataset(task="instance")`` target in Mask R-CNN's form: labels 1..4 (`THING_CLASSES` order, 0 is
    background), boxes to pixel edges (``x2 + 1``, ``y2 + 1``: the dataset gives the last pixel), masks uint8."""
    boxes = check_tensor(target["boxes"], "target['boxes']", ndim=2, shape="(N, 4)", dtype="float")
    labels = torch.tensor([THING_CLASSES.index(int(c)) + 1 for c in target["labels"]], dtype=torch.long,
                          device=boxes.device)
    return {"boxes": boxes + boxes.new_tensor([0.0, 0.0, 1.0, 1.0]), "labels": labels,
            "masks": target["masks"].to(torch.uint8)}


def train_maskrcnn(
    model: MaskRCNN,
    data: Sequence[tuple[Tensor, dict]],
    *,
    steps: int = 300,
    batch_size: int = 8,
    lr: float = 0.01,
    warmup: int = 50,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """SGD (momentum 0.9, weight decay 1e-4) with a linear warm-up over ``warmup`` steps and gradient clipping.

    Args:
        model: from `maskrcnn`; trained in place, left in eval mode.
        data: ``(image (3, H, W), scene_targets(...))`` pairs; images without objects are skipped.
        steps, batch_size: fixed number of steps, each on ``batch_size`` images drawn with a seeded generator.
        lr: the rate after warm-up, held to the last 20 % of the steps, then a tenth of it.
        warmup: steps of the linear ramp from ``lr / warmup`` to ``lr``.
        progress: print the mean loss every 50 steps.

    Returns:
        The total loss of every step (raises ``FloatingPointError`` if one is not finite).
    """
    steps, batch_size = check_int(steps, "steps"), check_int(batch_size, "batch_size")
    warmup = check_int(warmup, "warmup")
    lr = check_number(lr, "lr", minimum=0.0, exclusive=True)
    items = [(image, t) for image, t in data if len(t["boxes"])]
    if not items:
        raise ValueError("data: expected at least one image with objects")
    device = next(model.parameters()).device
    seed_everything(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    decay = int(0.8 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.1 if s >= decay else 1.0))
    g = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for step in range(steps):
        pick = torch.randint(0, len(items), (batch_size,), generator=g).tolist()
        images = [items[i][0].to(device) for i in pick]
        targets = [{k: v.to(device) for k, v in items[i][1].items()} for i in pick]
        loss = sum(model(images, targets).values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"train_maskrcnn: the loss is {float(loss)} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress and (step + 1) % 50 == 0:
            print(f"step {step + 1}/{steps}: loss {sum(losses[-50:]) / 50:.3f}", flush=True)
    model.eval()
    return losses


@torch.no_grad()
def predict(model: MaskRCNN, images: Sequence[Tensor], batch_size: int = 16) -> list[dict]:
    """Eval-mode predictions for a list of ``(3, H, W)`` images, on the CPU: boxes, labels, scores and masks
    ``(N, H, W)`` probabilities (the mask of each detection's predicted class, pasted into the image)."""
    for i, image in enumerate(images):
        check_tensor(image, f"images[{i}]", ndim=3, shape="(3, H, W)", dtype="float")
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        for p in model([x.to(device) for x in images[start:start + batch_size]]):
            out.append({"boxes": p["boxes"].cpu(), "labels": p["labels"].cpu(), "scores": p["scores"].cpu(),
                        "masks": p["masks"][:, 0].cpu()})
    return out


def evaluate_maskrcnn(model: MaskRCNN, data: Sequence[tuple[Tensor, dict]]) -> dict[str, float]:
    """COCO mask AP (``"AP"``, ``"AP50"``, ``"AP75"``, by size) and box AP50 (``"box_AP50"``) of ``model`` on
    ``(image, scene_targets(...))`` pairs, with `cvlab.metrics.mask_ap` (masks cut at 0.5)."""
    items = list(data)
    preds = predict(model, [image for image, _ in items])
    targets = [t for _, t in items]
    scores = mask_ap(preds, targets)
    scores["box_AP50"] = mask_ap(preds, targets, iou_type="bbox")["AP50"]
    return scores


# ------------------------------------------------------------------------------------------ the course's recipe
@dataclass(frozen=True)
class MaskRCNNRecipe:
    """How the shipped weights were made: `maskrcnn` (``model_args``) trained by `train_maskrcnn` on the first
    ``scenes`` training scenes of ``size`` pixels, float32 on the CPU, and scored on the first ``val_scenes``
    validation scenes. ``reached`` records the scores and minutes of the run that made the file, ``sha256`` its
    hash. That run's 55 minutes were measured on a 2-core machine shared with about eight other jobs (load 15-25):
    ``idle`` records a rerun of the same recipe on an idle 2-core machine (its minutes and scores; the scores differ
    a little from the shipped file's, as floating-point rounding differs between CPUs)."""

    model_args: dict = field(default_factory=dict)
    size: int = 64
    scenes: int = 400
    steps: int = 400
    batch_size: int = 8
    lr: float = 0.01
    warmup: int = 50
    seed: int = 0
    val_scenes: int = 100
    reached: dict = field(default_factory=dict)
    idle: dict = field(default_factory=dict)
    sha256: str = ""


RECIPE = MaskRCNNRecipe(
    reached={"AP": 0.021, "AP50": 0.060, "AP75": 0.009, "box_AP50": 0.061, "train_min": 55},
    idle={"AP": 0.020, "AP50": 0.058, "AP75": 0.007, "box_AP50": 0.063, "train_min": 0.75},  # 2026-12-04, load 0.2
    sha256="54c38a714ba8574ad525a7f773695796f5301ebc3a9467c39731b14220200513",
)
"""The recipe behind ``cvlab/models/weights/maskrcnn_scenes.pt``; ``python -m cvlab.models.maskrcnn`` reruns it."""


def _scenes(split: str, size: int, length: int) -> list[tuple[Tensor, dict]]:
    from cvlab.data import SceneDataset

    ds = SceneDataset(split, task="instance", size=size, length=length)
    return [(image, scene_targets(t)) for image, t in (ds[i] for i in range(len(ds)))]


def train_recipe(
    steps: int | None = None, out: str | Path | None = None, progress: bool = False
) -> tuple[MaskRCNN, dict]:
    """Train `RECIPE` from scratch (``steps`` overrides its length); returns the model (eval mode) and
    ``{"train_min", "AP", "AP50", ...}`` on the recipe's validation scenes. Saves float16 weights to ``out``."""
    steps = check_int(steps if steps is not None else RECIPE.steps, "steps")
    torch.manual_seed(RECIPE.seed)
    model = maskrcnn(**RECIPE.model_args)
    scenes = _scenes("train", RECIPE.size, RECIPE.scenes)
    start = time.perf_counter()
    train_maskrcnn(model, scenes, steps=steps, batch_size=RECIPE.batch_size,
                   lr=RECIPE.lr, warmup=RECIPE.warmup, seed=RECIPE.seed, progress=progress)
    reached = {"train_min": (time.perf_counter() - start) / 60}
    reached.update(evaluate_maskrcnn(model, _scenes("val", RECIPE.size, RECIPE.val_scenes)))
    if out is not None:
        save_half(model, out)
    return model, reached


def load_pretrained() -> MaskRCNN:
    """`maskrcnn` with the course's shipped weights (hash checked against `RECIPE`), float32, eval mode, CPU."""
    return load_half(maskrcnn(**RECIPE.model_args), WEIGHTS, RECIPE.sha256, "python -m cvlab.models.maskrcnn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.models.maskrcnn",
                                     description="Train the course's Mask R-CNN recipe on rendered scenes (CPU).")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="weight file to write")
    args = parser.parse_args(argv)
    model, reached = train_recipe(args.steps, progress=True)
    digest = save_half(model, args.out)  # the hash to record in RECIPE
    print(f"saved {args.out} (sha256 {digest}); reached {reached}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
