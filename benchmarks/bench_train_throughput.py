"""Training throughput of the course loop on rendered scenes against the same model on pre-made tensors.

Issue 10's target: ``cvlab.train.fit`` over a ``DataLoader(SceneDataset(...))``, which renders every scene as it
is drawn, keeps at least 50 % of the steps per second of a bare PyTorch loop over tensors rendered beforehand
(data and loop overhead at most 2x). The model is the U-Net of ``cvlab.models.recipes`` (depth 3, width 8), on
64-pixel scenes, batches of 16. Steps/s are measured in CPU seconds of this process (``time.process_time``), so a
loaded machine changes them less than wall time; printed ratios, never a timed test.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train_throughput.py [--steps 16] [--workers 0]``
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / torch are imported
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from cvlab.data import SceneDataset  # noqa: E402
from cvlab.models.evaluate import scene_tensors  # noqa: E402
from cvlab.models.recipes import build_model  # noqa: E402
from cvlab.train import fit  # noqa: E402

SIZE, BATCH = 64, 16


def bare_loop(steps: int) -> float:
    """CPU seconds per step of a plain forward/backward/AdamW loop over tensors rendered beforehand."""
    images, labels = scene_tensors("train", steps * BATCH, SIZE)
    model = build_model("unet_s0").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    start = time.process_time()
    for x, y in zip(images.split(BATCH), labels.split(BATCH), strict=True):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return (time.process_time() - start) / steps


def course_loop(steps: int, workers: int) -> float:
    """CPU seconds per step of ``fit`` for one epoch over scenes rendered as they are drawn (the rendering of
    worker processes is not counted by ``process_time``, so with ``workers > 0`` compare wall time instead)."""
    data = SceneDataset("train", "semantic", SIZE, length=steps * BATCH)
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, generator=torch.Generator(), num_workers=workers)
    model = build_model("unet_s0")
    start = time.process_time()
    fit(model, loader, loss_fn=F.cross_entropy, optimizer=torch.optim.AdamW(model.parameters(), lr=3e-3), epochs=1,
        device="cpu", progress=False)
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16, help="training steps per measurement")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the course loop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bare_loop(2)  # warm up the allocator and the kernels
    bare = bare_loop(args.steps)
    course = course_loop(args.steps, args.workers)
    print(f"U-Net depth 3 width 8, {SIZE}x{SIZE} scenes, batch {BATCH}, {args.steps} steps, 1 thread")
    print(f"bare loop on pre-made tensors : {1 / bare:6.2f} steps/CPU-s")
    print(f"fit on rendered scenes        : {1 / course:6.2f} steps/CPU-s")
    print(f"course loop / bare loop       : {bare / course:6.2f}  (target >= 0.50)")


if __name__ == "__main__":
    main()
