"""The grid search behind ``cvlab.restoration.classical_denoise``'s parameters, on the training photographs only.

For sigma = 15, 25, 50 it prints, per method, the mean PSNR of each setting on eight 128 x 128 crops of the
training photographs (``load_split("train", 2)[::2]``, top-left corners), best last. The test photographs are not
read. Takes a few minutes on one CPU core.

Run: ``.venv/bin/python benchmarks/restoration_baselines.py [METHOD ...]`` (default: every method).
"""

import sys

import numpy as np
import torch
from skimage import filters
from skimage import restoration as sk

from cvlab.metrics.image import psnr
from cvlab.restoration import add_gaussian_noise, load_split

GRIDS = {
    "gaussian": [{"sigma": b} for b in (0.5, 0.7, 0.9, 1.1, 1.4, 1.8)],
    "tv": [{"weight": m} for m in (0.3, 0.5, 0.7, 0.9, 1.2, 1.6)],
    "bilateral": [{"sigma_color": m, "sigma_spatial": sp} for m in (0.2, 0.35, 0.5, 1, 2) for sp in (2, 3, 5)],
    "nl_means": [{"h": m} for m in (0.4, 0.6, 0.8, 1.0, 1.2)],
    "wavelet": [{"wavelet": w, "method": m, "ycbcr": c, "sigma": k} for w in ("db1", "db2", "sym4")
                for m in ("BayesShrink", "VisuShrink") for c in (False, True) for k in (0.25, 0.5, 1.0, 1.5, 2.0)],
}


def run(method: str, a: np.ndarray, s: float, p: dict) -> np.ndarray:
    """One method on an (H, W, 3) array; multipliers of s = sigma / 255 as in classical_denoise."""
    if method == "gaussian":
        return filters.gaussian(a, sigma=p["sigma"], channel_axis=-1)
    if method == "tv":
        return sk.denoise_tv_chambolle(a, weight=p["weight"] * s, channel_axis=-1)
    if method == "bilateral":
        return sk.denoise_bilateral(np.clip(a, 0, 1), sigma_color=p["sigma_color"] * s,
                                    sigma_spatial=p["sigma_spatial"], channel_axis=-1)
    if method == "wavelet":
        return sk.denoise_wavelet(a, sigma=p["sigma"] * s, wavelet=p["wavelet"], method=p["method"],
                                  convert2ycbcr=p["ycbcr"], rescale_sigma=True, channel_axis=-1)
    return sk.denoise_nl_means(a, h=p["h"] * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                               channel_axis=-1)


def main(methods: list[str]) -> None:
    crops = [image[:, :128, :128] for image in load_split("train", 2)[::2]]
    for sigma in (15, 25, 50):
        noisy = [add_gaussian_noise(c, sigma, seed=i) for i, c in enumerate(crops)]
        for method in methods or GRIDS:
            grid = GRIDS[method]
            scores = []
            for p in grid:
                outs = [run(method, n.double().permute(1, 2, 0).numpy(), sigma / 255, p) for n in noisy]
                value = np.mean([psnr(torch.from_numpy(np.clip(o, 0, 1)).permute(2, 0, 1).float(), c).item()
                                 for o, c in zip(outs, crops, strict=True)])
                scores.append((value, p))
            scores.sort(key=lambda vp: vp[0])
            print(f"sigma={sigma:2d} {method:9s} " + "  ".join(f"{p}: {v:.2f}" for v, p in scores[-3:]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
