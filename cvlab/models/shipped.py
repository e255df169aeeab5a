"""The course's shipped weights: float16 files whose sha256 a recipe records, loaded back as float32 after a check.

Every recipe (segmentation in :mod:`cvlab.models.recipes`, Mask R-CNN in :mod:`cvlab.models.maskrcnn`, restoration in
:mod:`cvlab.restoration`) saves and loads its weights through these two functions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

__all__ = ["WEIGHTS_DIR", "save_half", "load_half"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def save_half(model: nn.Module, path: str | Path) -> str:
    """Save ``model``'s state dict with floating tensors in float16 (half the size; integer buffers such as
    batch norm's step counter kept); returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_half(model: nn.Module, path: str | Path, sha256: str, remake: str) -> nn.Module:
    """Load the weights at ``path`` into ``model`` as float32 and return it in eval mode.

    Args:
        model (nn.Module): a freshly built network of the file's architecture (on the CPU).
        path (str or Path): a file written by :func:`save_half`.
        sha256 (str): the hash its recipe recorded; ``""``: none recorded, and the file is refused.
        remake (str): the command that makes the file again, for the error messages.

    Raises:
        FileNotFoundError: the file is missing. ValueError: its hash is not the recorded one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall cvlab or run: {remake}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path}: expected sha256 {sha256 or '(none recorded)'}, got {digest}; the file was "
                         f"changed (remake it with: {remake})")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()
