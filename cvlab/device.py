"""Device selection and seeding shared by every notebook, test and grader."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

_CHOICES = ("cpu", "cuda", "mps")


def get_device() -> torch.device:
    """Return the device computations should run on.

    The environment variable ``CVLAB_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) wins; otherwise the first
    available of CUDA, Apple MPS and the CPU.

    Raises:
        ValueError: ``CVLAB_DEVICE`` names an unknown device or one that is not available here.
    """
    wanted = os.environ.get("CVLAB_DEVICE", "").strip()
    if wanted:
        kind = wanted.split(":")[0]
        if kind not in _CHOICES:
            choices = ", ".join(_CHOICES)
            raise ValueError(f"CVLAB_DEVICE: expected one of {choices} (optionally 'cuda:N'), got {wanted!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"CVLAB_DEVICE={wanted!r} but torch sees no CUDA device here; unset it or use 'cpu'")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"CVLAB_DEVICE={wanted!r} but MPS is not available here; unset it or use 'cpu'")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected 0 <= seed < 2**32, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
