"""Speed of cvlab's upsample_bilinear relative to F.interpolate (printed ratios, never a test).

Run: python benchmarks/bench_upsampling.py [--device cuda]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from timing import seconds  # benchmarks/ is on sys.path when this script runs

from cvlab.ops import upsample_bilinear

SETTINGS = [  # (batch, channels, H, W, scale_factor)
    (8, 16, 32, 32, 2),
    (2, 64, 64, 64, 2),
    (1, 3, 256, 256, 1.5),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    for b, c, h, w, s in SETTINGS:
        for fmt in (torch.contiguous_format, torch.channels_last):
            x = torch.rand(b, c, h, w, device=device).contiguous(memory_format=fmt)
            ours = seconds(lambda x=x, s=s: upsample_bilinear(x, scale_factor=s), args.repeats, device)
            theirs = seconds(lambda x=x, s=s: F.interpolate(x, scale_factor=s, mode="bilinear"), args.repeats, device)
            layout = "channels_last" if fmt is torch.channels_last else "contiguous"
            print(f"{(b, c, h, w)} x{s} {layout:13s}: cvlab / torch = {ours / theirs:5.1f}")


if __name__ == "__main__":
    main()
