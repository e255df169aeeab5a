"""Scenes per second of ``cvlab.data.render_scene`` on ONE CPU thread, against the target of 300 scenes/s.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scenes.py [--seconds 3]``
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / torch are imported
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import torch  # noqa: E402

from cvlab.data import render_scene  # noqa: E402

TARGET = 300.0  # scenes/s at 128x128 with the default settings (a 256x256 scene has 4x the pixels)


def scenes_per_second(size: int, seconds: float) -> float:
    """Best of three runs of ``seconds / 3`` each, rendering consecutive seeds."""
    for seed in range(10):  # warm the ray cache and the allocator
        render_scene(seed, size)
    best, seed = 0.0, 10
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            render_scene(seed, size)
            n, seed = n + 1, seed + 1
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent per size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"render_scene, default settings, 1 thread (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})")
    for size in (128, 256):
        rate = scenes_per_second(size, args.seconds)
        ms, ratio = 1000 / rate, rate / TARGET
        print(f"{size}x{size}: {rate:7.1f} scenes/s ({ms:5.2f} ms/scene), ratio to 300/s: {ratio:4.2f}")


if __name__ == "__main__":
    main()
