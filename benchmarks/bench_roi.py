"""Speed of cvlab's roi_align / roi_pool relative to torchvision's compiled kernels (printed ratios, never a test).

The issue's setting: 512 RoIs on a 256 x 50 x 50 map, 7 x 7 output, sampling_ratio 2, forward and backward.
Run: python benchmarks/bench_roi.py [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
import torchvision.ops as tvo
from timing import seconds

from cvlab.ops import roi_align, roi_pool


def forward_backward(op, x: torch.Tensor, rois: torch.Tensor, *args):
    def run() -> None:
        x.grad = None
        op(x, rois, *args).sum().backward()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 256, 50, 50, generator=g).to(device).requires_grad_()
    xy = torch.rand(512, 2, generator=g) * 360
    wh = torch.rand(512, 2, generator=g) * 200 + 8
    rois = torch.cat([torch.randint(0, 2, (512, 1), generator=g).float(), xy, xy + wh], 1).to(device)
    print(f"{'op (512 RoIs, 256x50x50, 7x7, scale 1/8)':44s} {'torchvision [ms]':>16} {'cvlab [ms]':>11} {'ratio':>7}")
    cases = [("roi_align sr=2 forward", roi_align, tvo.roi_align, (7, 0.125, 2), False),
             ("roi_align sr=2 forward+backward", roi_align, tvo.roi_align, (7, 0.125, 2), True),
             ("roi_pool forward+backward", roi_pool, tvo.roi_pool, (7, 0.125), True)]
    for name, ours, theirs, extra, backward in cases:
        if backward:
            t_ref = seconds(forward_backward(theirs, x, rois, *extra), args.repeats, device)
            t_ours = seconds(forward_backward(ours, x, rois, *extra), args.repeats, device)
        else:
            with torch.no_grad():
                t_ref = seconds(lambda f=theirs, e=extra: f(x, rois, *e), args.repeats, device)
                t_ours = seconds(lambda f=ours, e=extra: f(x, rois, *e), args.repeats, device)
        print(f"{name:44s} {t_ref * 1e3:16.1f} {t_ours * 1e3:11.1f} {t_ours / t_ref:6.1f}x")


if __name__ == "__main__":
    main()
