"""Speed of cvlab's transposed convolutions relative to F.conv_transpose2d (printed ratios, never a test).

Run: python benchmarks/bench_transposed.py [--device cuda]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from timing import seconds  # benchmarks/ is on sys.path when this script runs

from cvlab.ops import conv_transpose2d, conv_transpose2d_zero_insertion

SETTINGS = [  # (batch, C_in, C_out, H, kernel, stride, padding, output_padding)
    (8, 16, 16, 16, 3, 2, 1, 1),
    (8, 64, 32, 32, 4, 2, 1, 0),
    (2, 128, 64, 64, 3, 2, 1, 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"{'setting (B, C_in, C_out, H, k, s, p, op)':44s} {'torch [ms]':>10} {'scatter':>9} {'zero-ins':>9}")
    for b, c_in, c_out, h, k, s, p, op in SETTINGS:
        x = torch.randn(b, c_in, h, h, device=device)
        w = torch.randn(c_in, c_out, k, k, device=device)
        call = (x, w, None, s, p, op)
        base = seconds(lambda call=call: F.conv_transpose2d(*call), args.repeats, device)
        ratios = [seconds(lambda fn=fn, call=call: fn(*call), args.repeats, device) / base
                  for fn in (conv_transpose2d, conv_transpose2d_zero_insertion)]
        print(f"{str((b, c_in, c_out, h, k, s, p, op)):44s} {base * 1e3:10.2f} {ratios[0]:8.1f}x {ratios[1]:8.1f}x")


if __name__ == "__main__":
    main()
