"""The course's training loop: fit for a number of epochs or a time budget, evaluate whole-set metrics.

Validation metrics are *meters*: objects with ``reset()``, ``update(output, target)`` and ``compute()`` that
accumulate over a whole loader before computing, so a score like mIoU is the score of the whole validation set
(one confusion matrix), not a mean of per-batch scores. :class:`SegmentationMeter` does this for semantic
segmentation; :class:`MeanMeter` wraps a per-batch function whose batch means may be averaged.

Example:
    >>> history = fit(model, train_loader, loss_fn=torch.nn.functional.cross_entropy, epochs=5,
    ...               val_loader=val_loader, metrics={"seg": SegmentationMeter(num_classes=7)})
    >>> history.val_metrics["seg/miou"][-1], history.best("seg/miou")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from cvlab._validate import check_int, check_number, check_tensor
from cvlab.device import get_device, seed_everything
from cvlab.metrics.segmentation import confusion_matrix, mean_iou, pixel_accuracy

__all__ = ["Meter", "MeanMeter", "SegmentationMeter", "History", "fit", "evaluate"]


@runtime_checkable
class Meter(Protocol):
    """What :func:`evaluate` needs from a metric: accumulate batches, then compute once."""

    def reset(self) -> None: ...

    def update(self, output: Any, target: Any) -> None: ...

    def compute(self) -> float | dict[str, float]: ...


def _batch_size(batch: Any) -> int:
    """Length of the first dimension of the first tensor found in ``batch`` (1 if there is none)."""
    if isinstance(batch, Tensor):
        return batch.shape[0] if batch.dim() else 1
    values = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, list | tuple) else ()
    return next((_batch_size(v) for v in values), 1)


class MeanMeter:
    """Average of a per-batch score ``fn(output, target)``, weighted by batch size.

    Right for scores that are means over samples (classification accuracy, a mean per-image error); wrong for
    set-level scores such as mIoU — use :class:`SegmentationMeter` for those.

    Args:
        fn (callable): ``fn(output, target) -> float or Tensor[]``, the mean score of one batch.
    """

    def __init__(self, fn: Callable[[Any, Any], float | Tensor]):
        if not callable(fn):
            raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.reset()

    def reset(self) -> None:
        self.total: float | Tensor = 0.0
        self.count = 0

    def update(self, output: Any, target: Any) -> None:
        value = self.fn(output, target)
        n = _batch_size(target)
        self.total = self.total + (value.detach() if isinstance(value, Tensor) else float(value)) * n
        self.count += n

    def compute(self) -> float:
        return float(self.total) / self.count if self.count else math.nan


class SegmentationMeter:
    """Mean IoU and pixel accuracy of a whole data set, from one accumulated confusion matrix.

    Args:
        num_classes (int): K, the number of classes.
        ignore_index (int or None): target value left out of the scores.
        key (str, optional): for multi-task models whose outputs and targets are dicts: score
            ``output[key]`` against ``target[key]``.

    ``update(output, target)`` takes logits ``(B, K, H, W)`` (argmax over K), binary logits ``(B, 1, H, W)``
    (class 1 where the logit is > 0, i.e. sigmoid > 1/2; needs ``num_classes=2``) or predicted ids
    ``(B, H, W)``, and targets ``(B, H, W)``; ``compute()`` returns ``{"miou": ..., "pixel_acc": ...}``; the
    matrix is kept in ``confusion`` (Tensor[K, K], rows = target) for a closer look.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255, key: str | None = None):
        self.num_classes = check_int(num_classes, "num_classes")
        self.ignore_index = ignore_index
        self.key = key
        self.reset()

    def reset(self) -> None:
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    def update(self, output: Tensor | Mapping[str, Tensor], target: Tensor | Mapping[str, Tensor]) -> None:
        if self.key is not None:
            output, target = output[self.key], target[self.key]
        pred = self._predicted_ids(output)
        conf = confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        self.confusion = self.confusion.to(conf.device) + conf

    def _predicted_ids(self, output: Tensor) -> Tensor:
        check_tensor(output, "output", ndim=(3, 4), shape="(B, K, H, W), (B, 1, H, W) or (B, H, W)")
        if not output.is_floating_point():
            return output
        check_tensor(output, "output", ndim=4, shape="(B, K, H, W) of logits")
        if output.shape[1] == 1:  # one binary logit per pixel: argmax over one channel would be 0 everywhere
            if self.num_classes != 2:
                raise ValueError(f"output: binary logits (B, 1, H, W) need num_classes=2, got num_classes="
                                 f"{self.num_classes}")
            return (output[:, 0] > 0).long()
        if output.shape[1] != self.num_classes:
            raise ValueError(f"output: expected logits of shape (B, {self.num_classes}, H, W), got "
                             f"{tuple(output.shape)}")
        return output.argmax(1)

    def compute(self) -> dict[str, float]:
        return {"miou": float(mean_iou(self.confusion)), "pixel_acc": float(pixel_accuracy(self.confusion))}


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch (the last epoch of a time budget may be partial).

    Attributes:
        train_loss: mean training loss of the epoch (batch means weighted by batch size).
        val_loss: validation loss after the epoch; empty without a ``val_loader``.
        val_metrics: validation score name -> one value per epoch; a meter returning a dict gives the names
            ``"<metric name>/<key>"``, e.g. ``"seg/miou"``.
        epoch_time_s: wall time of the epoch in seconds, validation included.
        steps: optimizer steps taken in the epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    epoch_time_s: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)

    def best(self, metric: str, mode: str | None = None) -> tuple[int, float]:
        """Epoch (counted from 1) and value of the best entry of ``metric``, NaN entries skipped.

        Args:
            metric (str): ``"train_loss"``, ``"val_loss"`` or a key of ``val_metrics``.
            mode (str, optional): ``"min"`` or ``"max"``. Default: ``"min"`` for names containing "loss",
                else ``"max"``.
        """
        series = {"train_loss": self.train_loss, "val_loss": self.val_loss, **self.val_metrics}
        if metric not in series:
            raise KeyError(f"metric: expected one of {', '.join(map(repr, series))}, got {metric!r}")
        mode = mode or ("min" if "loss" in metric else "max")
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        values = [(v, i) for i, v in enumerate(series[metric]) if not math.isnan(v)]
        if not values:
            raise ValueError(f"metric: {metric!r} has no recorded value")
        value, index = (min if mode == "min" else max)(values, key=lambda vi: vi[0])
        return index + 1, value

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-friendly copy of the fields."""
        return asdict(self)


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _pairs(loader: Iterable, name: str) -> Iterable[tuple[Any, Any]]:
    for batch in loader:
        if not isinstance(batch, list | tuple) or len(batch) != 2:
            raise TypeError(f"{name}: expected batches (input, target), got {type(batch).__name__}")
        yield batch[0], batch[1]


def _as_meters(metrics: Mapping[str, Meter | Callable] | None) -> dict[str, Meter]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics: expected a dict of name -> meter or function, got {type(metrics).__name__}")
    return {name: m if isinstance(m, Meter) else MeanMeter(m) for name, m in metrics.items()}


def _scalar(loss: Any) -> Tensor:
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn: expected a scalar tensor (reduce the loss to its mean), got {got}")
    return loss


def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    metrics: Mapping[str, Meter | Callable] | None = None,
    loss_fn: Callable[[Any, Any], Tensor] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Score a model on a whole loader, in eval mode and without gradients.

    Every meter is reset, updated with each batch's ``(model(x), y)`` on ``device`` and computed once at the
    end. A plain function in ``metrics`` is wrapped in :class:`MeanMeter`. The model's train/eval mode is
    restored afterwards.

    Args:
        model (nn.Module): the model; moved to ``device``.
        loader (iterable): batches ``(x, y)``; ``x`` and ``y`` are tensors or dicts/lists of tensors.
        metrics (dict, optional): name -> :class:`Meter` or ``fn(output, target)``.
        loss_fn (callable, optional): ``loss_fn(output, target)``, a scalar; its batch-size weighted mean is
            returned as ``"loss"``.
        device (torch.device or str, optional): default :func:`cvlab.get_device`.

    Returns:
        dict: ``"loss"`` (with ``loss_fn``) and each meter's result: a float under its name, or for a dict
        result one entry per key named ``"<name>/<key>"``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    meters = _as_meters(metrics)
    if loss_fn is not None and "loss" in meters:
        raise ValueError("metrics: the name 'loss' is reserved for loss_fn's value")
    device = torch.device(device) if device is not None else get_device()
    was_training = model.training
    model.to(device).eval()
    for meter in meters.values():
        meter.reset()
    loss_total, count = 0.0, 0
    with torch.no_grad():
        for x, y in _pairs(loader, "loader"):
            x, y = _to_device(x, device), _to_device(y, device)
            output = model(x)
            if loss_fn is not None:
                n = _batch_size(x)
                loss_total += _scalar(loss_fn(output, y)).item() * n
                count += n
            for meter in meters.values():
                meter.update(output, y)
    model.train(was_training)
    scores = {"loss": loss_total / count if count else math.nan} if loss_fn is not None else {}
    for name, meter in meters.items():
        result = meter.compute()
        if isinstance(result, Mapping):
            scores.update({f"{name}/{key}": float(value) for key, value in result.items()})
        else:
            scores[name] = float(result)
    return scores


def _check_budget(epochs: object, time_budget_s: object) -> None:
    if (epochs is None) == (time_budget_s is None):
        raise ValueError(
            f"epochs and time_budget_s: expected exactly one of them, got epochs={epochs!r}, "
            f"time_budget_s={time_budget_s!r}"
        )
    if epochs is not None:
        check_int(epochs, "epochs")
    else:
        check_number(time_budget_s, "time_budget_s", minimum=0, exclusive=True)


def _progress_bar(loader: Iterable, epochs: int | None, time_budget_s: float | None, progress: bool) -> tqdm:
    """One bar for the whole fit: batches out of ``epochs * len(loader)``, or seconds out of the budget."""
    if time_budget_s is not None:
        bar_format = "{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}"
        return tqdm(total=time_budget_s, unit="s", bar_format=bar_format, disable=not progress)
    try:
        total = epochs * len(loader)  # type: ignore[arg-type, operator]
    except TypeError:  # an iterable without a length
        total = None
    return tqdm(total=total, unit="batch", disable=not progress)


def _train_step(
    model: nn.Module,
    x: Any,
    y: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: torch.optim.Optimizer,
    grad_clip: float | None,
) -> float:
    """One optimizer step on one batch; returns the batch loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = _scalar(loss_fn(model(x), y))
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def _check_fit_args(
    model: object,
    loss_fn: object,
    optimizer: object,
    epochs: object,
    time_budget_s: object,
    grad_clip: object,
    metrics: Mapping[str, Meter | Callable] | None,
    val_loader: Iterable | None,
) -> dict[str, Meter]:
    """Validate :func:`fit`'s arguments up front; return the validation meters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable, got {type(loss_fn).__name__}")
    _check_budget(epochs, time_budget_s)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if grad_clip is not None:
        check_number(grad_clip, "grad_clip", minimum=0, exclusive=True)
    meters = _as_meters(metrics)
    if meters and val_loader is None:
        raise ValueError("metrics: validation metrics need a val_loader")
    return meters


@dataclass
class _Step:
    """What one training step needs: the model, its loss and optimizer, the clipping and the device."""

    model: nn.Module
    loss_fn: Callable[[Any, Any], Tensor]
    optimizer: torch.optim.Optimizer
    grad_clip: float | None
    device: torch.device


def _train_epoch(
    step: _Step,
    train_loader: Iterable,
    bar: tqdm,
    postfix: dict[str, Any],
    epoch: int,
    start: float,
    epochs: int | None,
    time_budget_s: float | None,
) -> tuple[float, int, bool]:
    """One pass over ``train_loader`` (cut short by the time budget): mean loss, steps, whether time ran out."""
    step.model.train()
    loss_total, count, steps = 0.0, 0, 0
    for x, y in _pairs(train_loader, "train_loader"):
        x, y = _to_device(x, step.device), _to_device(y, step.device)
        n = _batch_size(x)
        loss_total += _train_step(step.model, x, y, step.loss_fn, step.optimizer, step.grad_clip) * n
        count, steps = count + n, steps + 1
        now = perf_counter()
        bar.update(1 if epochs is not None else min(now - start, time_budget_s) - bar.n)
        postfix.update(epoch=epoch, loss=f"{loss_total / count:.4f}")
        bar.set_postfix(postfix, refresh=False)
        if time_budget_s is not None and now - start >= time_budget_s:
            return loss_total / count, steps, True
    if steps == 0:
        raise ValueError("train_loader: expected at least one batch per epoch, got none")
    return loss_total / count, steps, False


def _validate_epoch(
    model: nn.Module,
    val_loader: Iterable,
    meters: dict[str, Meter],
    loss_fn: Callable[[Any, Any], Tensor],
    device: torch.device,
    history: History,
    bar: tqdm,
    postfix: dict[str, Any],
) -> None:
    """Score the epoch's model on ``val_loader`` into ``history`` and the progress bar."""
    scores = evaluate(model, val_loader, metrics=meters, loss_fn=loss_fn, device=device)
    history.val_loss.append(scores.pop("loss"))
    for name, value in scores.items():
        history.val_metrics.setdefault(name, []).append(value)
    postfix.update(val_loss=f"{history.val_loss[-1]:.4f}")
    postfix.update({f"val_{name}": f"{value:.3f}" for name, value in scores.items()})
    bar.set_postfix(postfix)


def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: torch.optim.Optimizer | None = None,
    epochs: int | None = None,
    time_budget_s: float | None = None,
    val_loader: Iterable | None = None,
    metrics: Mapping[str, Meter | Callable] | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    scheduler: Any = None,
    progress: bool = True,
    grad_clip: float | None = None,
) -> History:
    """Train ``model`` for a number of epochs or until a time budget is spent, validating after every epoch.

    Each step moves the batch ``(x, y)`` to ``device``, computes ``loss_fn(model(x), y)``, back-propagates,
    clips the gradient norm (``grad_clip``) and steps the optimizer. With ``time_budget_s`` training stops at
    the end of the batch that crosses the budget (counted from the start of ``fit``, validation of earlier
    epochs included); that last, possibly partial, epoch is still validated. The run is deterministic for a
    given ``seed`` (on the CPU; GPU kernels may add non-determinism): :func:`cvlab.seed_everything` is called
    first, and a loader's own ``generator`` is re-seeded with ``seed``.

    Args:
        model (nn.Module): the model; moved to ``device``, left in eval mode at the end.
        train_loader (iterable): batches ``(x, y)``; ``x`` and ``y`` are tensors or dicts/lists of tensors.
        loss_fn (callable): ``loss_fn(output, target) -> Tensor[]``.
        optimizer (torch.optim.Optimizer, optional): default ``AdamW(model.parameters(), lr=1e-3)``.
        epochs (int, optional): number of passes over ``train_loader``.
        time_budget_s (float, optional): training time in seconds; give exactly one of this and ``epochs``.
        val_loader (iterable, optional): validation batches, scored by :func:`evaluate` after every epoch.
        metrics (dict, optional): validation meters (see :func:`evaluate`); need ``val_loader``.
        device (torch.device or str, optional): default :func:`cvlab.get_device`.
        seed (int): seed of every random generator.
        scheduler (optional): learning-rate scheduler, stepped once after every epoch.
        progress (bool): show a progress bar (``tqdm.auto``: a widget in notebooks); ``False`` prints nothing.
        grad_clip (float, optional): maximum global gradient norm.

    Returns:
        History: the per-epoch record.
    """
    meters = _check_fit_args(model, loss_fn, optimizer, epochs, time_budget_s, grad_clip, metrics, val_loader)

    seed_everything(seed)
    if isinstance(getattr(train_loader, "generator", None), torch.Generator):
        train_loader.generator.manual_seed(seed)
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    optimizer = optimizer if optimizer is not None else torch.optim.AdamW(model.parameters(), lr=1e-3)

    bar = _progress_bar(train_loader, epochs, time_budget_s, progress)
    history = History()
    postfix: dict[str, Any] = {}
    start = perf_counter()
    out_of_time = False
    try:
        while not out_of_time and (epochs is None or history.epochs < epochs):
            epoch_start = perf_counter()
            step = _Step(model, loss_fn, optimizer, grad_clip, device)
            mean_loss, steps, out_of_time = _train_epoch(
                step, train_loader, bar, postfix, history.epochs + 1, start, epochs, time_budget_s
            )
            if scheduler is not None:
                scheduler.step()
            history.train_loss.append(mean_loss)
            history.steps.append(steps)
            if val_loader is not None:
                _validate_epoch(model, val_loader, meters, loss_fn, device, history, bar, postfix)
            history.epoch_time_s.append(perf_counter() - epoch_start)
    finally:
        bar.close()
    model.eval()
    return history
