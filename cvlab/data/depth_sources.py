"""Rendered scenes served as if they came from several depth datasets, each with its own unknown scale and shift.

MiDaS trains on a mix of sources that agree on *relative* depth only: metric depth from a laser scanner, depth
in other units, stereo disparity with an unknown baseline (and an unknown offset from rectification). Brought to
disparity space (inverse depth), every source is ``target = scale / depth + shift`` with a scale and shift the
network cannot see. This module makes such a mix from the rendered world, where the true depth is known, so the
effect of a loss that ignores scale and shift (`cvlab.losses.ssi_loss`) can be measured.

Sources (disparity space, per image; ``f`` the focal length in pixels):

- ``"metric"``: ``1 / Z`` with Z in metres (scale 1, shift 0).
- ``"centimetres"``: ``1 / Z`` with Z in centimetres (scale 0.01, shift 0).
- ``"stereo"``: disparity ``f B / Z + o`` in pixels, baseline ``B ~ U(0.05, 0.5)`` m and offset ``o ~ U(0, 5)``
  px drawn per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from cvlab._validate import check_choice, check_int
from cvlab.data.datasets import SPLIT_SEEDS
from cvlab.data.scenes import render_scene

__all__ = ["DEPTH_SOURCES", "MixedDepth", "mixed_depth_sources"]

DEPTH_SOURCES = ("metric", "centimetres", "stereo")


@dataclass(frozen=True, eq=False)
class MixedDepth:
    """Scenes with their targets as each source would give them (see `mixed_depth_sources`).

    Attributes:
        image (Tensor[N, 3, H, W]): float32 RGB in [0, 1].
        target (Tensor[N, 1, H, W]): float32 ``scale / depth + shift`` on valid pixels, 0 elsewhere.
        valid (Tensor[N, 1, H, W]): bool, False on the sky.
        depth (Tensor[N, 1, H, W]): float32 true depth in metres (0 on the sky), for evaluation only.
        source (Tensor[N]): int64 index into ``sources``.
        scale, shift (Tensor[N]): float32, the hidden per-image scale and shift.
        K (Tensor[3, 3]): float32 intrinsics (the same for every scene of one size).
        sources: the source names.
    """

    image: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor
    depth: torch.Tensor
    source: torch.Tensor
    scale: torch.Tensor
    shift: torch.Tensor
    K: torch.Tensor
    sources: tuple[str, ...]

    def dataset(self) -> Dataset:
        """The pairs ``(image, (target, valid))`` for a ``DataLoader`` and `cvlab.train.fit`."""
        return _Pairs(self.image, self.target, self.valid)


class _Pairs(Dataset):
    def __init__(self, image: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> None:
        self.image, self.target, self.valid = image, target, valid

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return self.image[i], (self.target[i], self.valid[i])


def _scale_and_shift(name: str, focal: float, rng: np.random.Generator) -> tuple[float, float]:
    if name == "metric":
        return 1.0, 0.0
    if name == "centimetres":
        return 0.01, 0.0
    return focal * rng.uniform(0.05, 0.5), rng.uniform(0.0, 5.0)


def mixed_depth_sources(
    split: str = "train",
    n: int = 96,
    size: int | tuple[int, int] = 64,
    sources: Sequence[str] = DEPTH_SOURCES,
    seed: int = 0,
    start: int = 0,
) -> MixedDepth:
    """Render ``n`` scenes of ``split`` and give scene ``i`` the target of source ``sources[i % len(sources)]``.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (the scene seeds of `cvlab.data.SPLIT_SEEDS`).
        n: number of scenes.
        size: image size, an int or ``(H, W)``.
        sources: names from ``DEPTH_SOURCES``, assigned round-robin.
        seed: seeds the hidden baselines and offsets of the ``"stereo"`` source.
        start: index of the first scene in the split.

    Returns:
        MixedDepth: images, targets, masks, the true depth and what was hidden.

    Example:
        >>> data = mixed_depth_sources("train", n=6, size=32)
        >>> data.target.shape, data.source.tolist()
        (torch.Size([6, 1, 32, 32]), [0, 1, 2, 0, 1, 2])
    """
    check_choice(split, "split", tuple(SPLIT_SEEDS))
    n, start = check_int(n, "n"), check_int(start, "start", minimum=0)
    sources = tuple(sources)
    if not sources:
        raise ValueError("sources: expected at least one source name, got none")
    for name in sources:
        check_choice(name, "sources", DEPTH_SOURCES)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    scenes = [render_scene(SPLIT_SEEDS[split][start + i], size) for i in range(n)]
    pairs = [_scale_and_shift(sources[i % len(sources)], float(scenes[0].K[0, 0]), rng) for i in range(n)]
    scale = torch.tensor([p[0] for p in pairs], dtype=torch.float32)
    shift = torch.tensor([p[1] for p in pairs], dtype=torch.float32)
    depth = torch.stack([s.depth for s in scenes])[:, None]
    valid = torch.stack([s.valid for s in scenes])[:, None]
    inverse = torch.where(valid, 1 / torch.where(valid, depth, torch.ones(())), torch.zeros(()))
    target = torch.where(valid, scale[:, None, None, None] * inverse + shift[:, None, None, None], 0.0)
    return MixedDepth(
        image=torch.stack([s.image for s in scenes]),
        target=target,
        valid=valid,
        depth=depth,
        source=torch.arange(n) % len(sources),
        scale=scale,
        shift=shift,
        K=scenes[0].K,
        sources=sources,
    )
