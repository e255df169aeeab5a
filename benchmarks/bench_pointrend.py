"""PointRend's saving: head evaluations and time of adaptive subdivision vs a dense re-prediction (printed ratios,
never a test).

Dense: every pixel of every finer grid goes through the point head (no selection). Subdivision: ``N`` points per
step, the most uncertain (PointRend) or uniformly random ones (the same evaluations, no sort). Defaults: notebook
08's setting (14 x 14 masks, 2 steps, N = 64, 3 fine channels, hidden 32); ``--paper`` uses the paper's Mask R-CNN
inference (7 x 7 masks, 5 steps to 224 x 224, N = 28^2, 256 channels, hidden 256).
Run: python benchmarks/bench_pointrend.py [--paper] [--masks 100] [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from timing import seconds

from cvlab.models import pointrend as pr


def dense(logits: torch.Tensor, features: torch.Tensor, head: torch.nn.Module, steps: int) -> torch.Tensor:
    """Upsample 2x and re-predict every pixel, ``steps`` times (no selection, no sort)."""
    for _ in range(steps):
        logits = F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False)
        k, _, h, w = logits.shape
        ys, xs = torch.meshgrid((torch.arange(h, device=logits.device) + 0.5) / h,
                                (torch.arange(w, device=logits.device) + 0.5) / w, indexing="ij")
        where = torch.stack([xs, ys], -1).reshape(1, h * w, 2).expand(k, -1, -1).to(logits.dtype)
        logits = head(pr.point_sample(features, where), pr.point_sample(logits, where)).view(k, 1, h, w)
    return logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="the paper's sizes instead of notebook 08's")
    parser.add_argument("--masks", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    size, steps, n, channels, hidden = (7, 5, 28 * 28, 256, 256) if args.paper else (14, 2, 64, 3, 32)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    fine = size * 2**steps
    logits = (torch.randn(args.masks, 1, size, size, generator=g) * 3).to(device)
    features = torch.randn(args.masks, channels, fine // 2, fine // 2, generator=g).to(device)
    torch.manual_seed(0)
    head = pr.PointHead(channels, hidden).to(device).eval()
    runs = {"dense": lambda: dense(logits, features, head, steps),
            "uncertain": lambda: pr.subdivide(logits, features, head, steps, n),
            "random": lambda: pr.subdivide(logits, features, head, steps, n, select="random", generator=g)}
    with torch.no_grad():
        times = {name: seconds(run, args.repeats, device) for name, run in runs.items()}
    evals = pr.head_evaluations(size, steps), pr.head_evaluations(size, steps, n)
    print(f"{args.masks} masks {size}x{size} -> {fine}x{fine} in {steps} steps, N = {n}, {channels} fine channels, "
          f"hidden {hidden}, {device}")
    print(f"head evaluations per mask: dense / subdivide = {evals[0]} / {evals[1]} = {evals[0] / evals[1]:.1f}x")
    print(f"time: dense / subdivide (uncertain) = {times['dense'] / times['uncertain']:.1f}x, "
          f"dense / subdivide (random) = {times['dense'] / times['random']:.1f}x, "
          f"uncertain / random = {times['uncertain'] / times['random']:.2f}x")


if __name__ == "__main__":
    main()
