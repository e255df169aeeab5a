"""Speed of cvlab.metrics.panoptic_quality against per-image reference-style implementations (printed ratios).

50 maps of 128x128 with about 20 segments each (Voronoi cells of random categories; the prediction moves every
cell's seed a little). Baselines: a per-image NumPy transcription of the COCO rules in panopticapi's style (the
test oracle, ``tests/metrics/panoptic_oracle.py``), timed twice: from the same (H, W, 2) maps cvlab reads, each
image first put in COCO form the vectorised way (an id per pixel from its category and instance and the segment
areas from one ``np.unique``, as panopticapi's ``rgb2id`` and its ``np.unique`` of the prediction do), and on
maps already in COCO form (the conversion left out: a lower bound); and
``torchmetrics.detection.PanopticQuality`` when it is installed.

Run from the repository root: ``OMP_NUM_THREADS=1 python benchmarks/bench_panoptic.py [--device cuda]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cvlab.metrics import panoptic_quality  # noqa: E402
from tests.metrics.panoptic_oracle import coco_form, image_stats  # noqa: E402

THINGS, STUFF = (3, 4, 5, 6), (0, 1, 2)


def voronoi_maps(n: int, size: int, cells: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target) batches (n, size, size, 2): ``cells`` Voronoi cells per image, the prediction's seeds moved."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    grid = torch.stack([yy, xx], -1).float().reshape(-1, 2)
    cats = torch.tensor(THINGS + STUFF)
    out = []
    for _ in range(n):
        seeds = torch.rand(cells, 2, generator=g) * size
        cat = cats[torch.randint(len(cats), (cells,), generator=g)]
        is_thing = torch.isin(cat, torch.tensor(THINGS))
        inst = torch.where(is_thing, torch.arange(1, cells + 1), 0)
        pair = []
        for s in (seeds, seeds + torch.randn(cells, 2, generator=g) * size * 0.02):
            nearest = torch.cdist(grid, s).argmin(1).reshape(size, size)
            pair.append(torch.stack([cat[nearest], inst[nearest]], -1))
        out.append(pair)
    return torch.stack([p for p, _ in out]), torch.stack([t for _, t in out])


def coco_form_numpy(panoptic: np.ndarray, things, void: int = -1) -> tuple[np.ndarray, dict]:
    """(id map, {id: {"category_id", "iscrowd", "area"}}) of one (H, W, 2) map without crowd, vectorised like
    panopticapi's ``rgb2id``: id ``category * 4096 + instance + 1`` (0 for void: the void category or a thing
    without an instance), areas from one ``np.unique``."""
    cat, inst = panoptic[..., 0].astype(np.int64), panoptic[..., 1].astype(np.int64)
    ids = np.where((cat != void) & ~(np.isin(cat, things) & (inst == 0)), cat * 4096 + inst + 1, 0)
    labels, areas = np.unique(ids, return_counts=True)
    return ids, {int(lab): {"category_id": int(lab - 1) // 4096, "iscrowd": 0, "area": int(a)}
                 for lab, a in zip(labels.tolist(), areas.tolist(), strict=True) if lab}


def best_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=50)
    args = parser.parse_args()
    pred, target = voronoi_maps(args.images, 128, 30)  # about 20 segments: stuff cells of a category merge
    n_seg = sum(len(torch.unique(t.reshape(-1, 2), dim=0)) for t in target) / len(target)
    print(f"{args.images} images of 128x128, {n_seg:.1f} segments per image on average, device {args.device}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings inflate under load)")

    dev = torch.device(args.device)
    p_dev, t_dev = pred.to(dev), target.to(dev)

    def ours():
        r = panoptic_quality(p_dev, t_dev, THINGS, STUFF)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return r

    t_ours = best_of(ours, 10)
    p32, t32 = p_dev.int(), t_dev.int()
    t_ours32 = best_of(lambda: panoptic_quality(p32, t32, THINGS, STUFF), 10) if dev.type == "cpu" else float("nan")
    coco = [(coco_form(t.numpy(), THINGS, STUFF), coco_form(p.numpy(), THINGS, STUFF)) for p, t in
            zip(pred, target, strict=True)]

    maps = [(t.numpy(), p.numpy()) for p, t in zip(pred, target, strict=True)]

    def reference():
        stats = {c: [0, 0, 0, 0.0] for c in THINGS + STUFF}
        for (gi, ginfo), (pi, pinfo) in coco:
            image_stats(gi, ginfo, pi, pinfo, stats)
        return stats

    def reference_from_maps():
        stats = {c: [0, 0, 0, 0.0] for c in THINGS + STUFF}
        for t, p in maps:
            image_stats(*coco_form_numpy(t, THINGS), *coco_form_numpy(p, THINGS), stats)
        return stats

    counts = ours()
    for stats in (reference(), reference_from_maps()):  # the three agree before they are timed
        assert [stats[c][:3] for c in counts.categories.tolist()] == torch.stack(
            [counts.tp, counts.fp, counts.fn], 1).tolist()
    t_maps, t_ref = best_of(reference_from_maps, 5), best_of(reference, 5)
    print(f"cvlab.metrics.panoptic_quality                 {1e3 * t_ours:8.2f} ms")
    print(f"  the same on int32 maps (8 bytes per pixel)     {1e3 * t_ours32:8.2f} ms")
    print(f"per-image NumPy, from the same (H, W, 2) maps  {1e3 * t_maps:8.2f} ms   ratio {t_maps / t_ours:6.1f}x")
    print(f"per-image NumPy, on maps already in COCO form  {1e3 * t_ref:8.2f} ms   ratio {t_ref / t_ours:6.1f}x")
    try:
        from torchmetrics.detection import PanopticQuality
    except ImportError:
        print("torchmetrics is not installed: no comparison with torchmetrics.detection.PanopticQuality")
        return
    metric = PanopticQuality(things=set(THINGS), stuffs=set(STUFF))
    t_tm = best_of(lambda: metric(pred, target), 1)
    print(f"torchmetrics PanopticQuality                   {1e3 * t_tm:8.2f} ms   ratio {t_tm / t_ours:6.1f}x")


if __name__ == "__main__":
    main()
