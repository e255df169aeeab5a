import random

import numpy as np
import pytest
import torch

from cvlab import get_device, seed_everything


def test_get_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("CVLAB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected


def test_env_var_overrides(monkeypatch):
    monkeypatch.setenv("CVLAB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("value, match", [("tpu", "expected one of"), ("gpu0", "expected one of")])
def test_env_var_unknown_device(monkeypatch, value, match):
    monkeypatch.setenv("CVLAB_DEVICE", value)
    with pytest.raises(ValueError, match=f"CVLAB_DEVICE: {match}"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_env_var_unavailable_cuda(monkeypatch):
    monkeypatch.setenv("CVLAB_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device()


def test_seed_everything_repeats_python_numpy_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    seed_everything(3)
    first = draw()
    seed_everything(3)
    assert draw() == first


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)
