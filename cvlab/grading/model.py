"""Grade a trained model by its weights: the judge builds the architecture, loads the weights and measures them.

A ``model_test`` (:func:`cvlab.grading.build.model_test`) grades a network the student trained in the notebook.
The test cell only records the weights (``state_dict`` tensors, plain data); the verdict is the mean IoU that the
judge itself measures on held-out scenes that no kernel ever sees -- they sit in the case's *expected* part, which
the kernels' copy of the store withholds. The kernel's own printed score is never used, a model of another
architecture does not load, and the saved results are read with ``torch.load(weights_only=True)``, so a file that
would run code when unpickled is refused.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cvlab.grading.forbid import resolve
from cvlab.grading.invoke import describe


def model_weights(answer: Any) -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """The weights to record for ``answer`` (an ``nn.Module`` or a ``state_dict``) as CPU copies, or a problem."""
    state = answer.state_dict() if isinstance(answer, nn.Module) else answer
    if not isinstance(state, dict) or not state:
        return None, f"expected a trained model (a torch.nn.Module) or its state_dict, got {describe(answer)}"
    if not all(isinstance(k, str) and type(v) is torch.Tensor for k, v in state.items()):
        return None, "expected a state_dict: a dict of parameter names to plain tensors"
    return {key: value.detach().cpu().clone() for key, value in state.items()}, None


def measure_weights(weights: Any, expected: dict) -> tuple[float | None, str | None]:
    """The mean IoU of ``weights`` in ``expected["architecture"](**expected["kwargs"])`` on the held-out
    ``expected["images"]`` (Tensor[N, 3, H, W]) against ``expected["labels"]`` (Tensor[N, H, W]), or a problem."""
    from cvlab.metrics import confusion_matrix, mean_iou

    if not isinstance(weights, dict) or not all(isinstance(k, str) and type(v) is torch.Tensor
                                                and v.layout == torch.strided for k, v in weights.items()):
        return None, f"expected the weights of a model (a state_dict of tensors), got {describe(weights)}"
    with torch.random.fork_rng(devices=[]):  # building the model draws initial weights: leave the caller's RNG be
        model = resolve(expected["architecture"])(**expected["kwargs"])
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])[:300]
        return None, (f"the weights do not fit the architecture {expected['architecture']}"
                      f"({', '.join(f'{k}={v!r}' for k, v in expected['kwargs'].items())}): {detail}")
    model.eval()
    images, labels = expected["images"], expected["labels"]
    with torch.no_grad():
        logits = torch.cat([model(chunk) for chunk in images.split(32)])
    if not bool(torch.isfinite(logits).all()):
        return None, "the model's outputs on the held-out scenes hold NaN or infinite values"
    conf = confusion_matrix(logits.argmax(1), labels, expected["kwargs"]["num_classes"])
    return float(mean_iou(conf)), None


def check_model(weights: Any, expected: dict) -> str | None:
    """None when ``weights`` reach ``expected["min_miou"]`` (see :func:`measure_weights`), else why not."""
    miou, problem = measure_weights(weights, expected)
    if problem:
        return problem
    if not miou >= expected["min_miou"]:
        return (f"mean IoU {miou:.3f} on {len(expected['labels'])} held-out scenes, measured by the grader: below "
                f"the {expected['min_miou']:g} required")
    return None
