import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import cvlab.train as train
from cvlab.metrics import confusion_matrix, mean_iou, pixel_accuracy
from cvlab.train import History, MeanMeter, SegmentationMeter, evaluate, fit

K = 3
CPU = torch.device("cpu")


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, K, 1))


def _data(n: int = 8, seed: int = 0, size: int = 8) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g)
    y = (x[:, 0] * K).long().clamp(max=K - 1)  # learnable: the class is the red channel's tercile
    y[:, 0, 0] = 255
    return TensorDataset(x, y)


def _loader(n: int = 8, batch_size: int = 4, **kwargs) -> DataLoader:
    return DataLoader(_data(n), batch_size=batch_size, **kwargs)


def _ce(output, target):
    return F.cross_entropy(output, target, ignore_index=255)


def test_fit_epochs_mode_records_history_and_learns():
    model = _net()
    history = fit(
        model,
        _loader(shuffle=True),
        loss_fn=_ce,
        epochs=3,
        val_loader=_loader(),
        metrics={"seg": SegmentationMeter(K)},
        device="cpu",
        progress=False,
        optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
    )
    assert history.epochs == 3 and history.steps == [2, 2, 2]
    assert len(history.val_loss) == 3 and len(history.epoch_time_s) == 3
    assert set(history.val_metrics) == {"seg/miou", "seg/pixel_acc"}
    assert history.train_loss[-1] < history.train_loss[0]
    assert not model.training
    d = history.as_dict()
    assert d["val_metrics"]["seg/miou"] == history.val_metrics["seg/miou"] and d["steps"] == [2, 2, 2]


def test_fit_same_seed_same_weights_other_seed_differs():
    def run(seed):
        model = _net()
        fit(model, _loader(shuffle=True), loss_fn=_ce, epochs=2, device=CPU, seed=seed, progress=False)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)  # a different shuffling order


def test_fit_reseeds_loader_generator():
    loader = _loader(shuffle=True, generator=torch.Generator())
    weights = []
    for _ in range(2):
        model = _net()
        fit(model, loader, loss_fn=_ce, epochs=1, device=CPU, progress=False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(*weights)


def test_fit_time_budget_stops_after_crossing_batch():
    history = fit(
        _net(),
        _loader(batch_size=2),
        loss_fn=_ce,
        time_budget_s=1e-9,
        val_loader=_loader(),
        metrics={"seg": SegmentationMeter(K)},
        device=CPU,
        progress=False,
    )
    assert history.steps == [1] and history.epochs == 1
    assert len(history.val_loss) == 1 and len(history.val_metrics["seg/miou"]) == 1


def test_fit_time_budget_partial_last_epoch(monkeypatch):
    """A fake clock reads one second per optimizer step: a 5.5 s budget stops after the 6th step."""
    steps = {"n": 0}

    def counting_loss(output, target):
        steps["n"] += 1
        return _ce(output, target)

    monkeypatch.setattr(train, "perf_counter", lambda: float(steps["n"]))
    history = fit(
        _net(), _loader(batch_size=2), loss_fn=counting_loss, time_budget_s=5.5, device=CPU, progress=False
    )
    assert history.steps == [4, 2]
    assert len(history.train_loss) == 2 and history.val_loss == []


def test_fit_progress_false_writes_nothing(capfd):
    fit(_net(), _loader(), loss_fn=_ce, epochs=1, val_loader=_loader(), device=CPU, progress=False)
    evaluate(_net(), _loader(), loss_fn=_ce, device=CPU)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_fit_progress_bar_runs(capfd):
    fit(_net(), _loader(), loss_fn=_ce, epochs=1, val_loader=_loader(), device=CPU, progress=True)
    fit(_net(), _loader(), loss_fn=_ce, time_budget_s=1e-9, device=CPU, progress=True)
    assert "loss" in capfd.readouterr().err


def test_fit_dict_targets_and_outputs():
    class TwoHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = _net()

        def forward(self, x):
            return {"semantic": self.body(x)}

    class DictData(torch.utils.data.Dataset):
        def __init__(self):
            self.data = _data()

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            x, y = self.data[i]
            return x, {"semantic": y}

    def loss_fn(output, target):
        return _ce(output["semantic"], target["semantic"])

    loader = DataLoader(DictData(), batch_size=4)
    history = fit(
        TwoHead(),
        loader,
        loss_fn=loss_fn,
        epochs=1,
        val_loader=loader,
        metrics={"seg": SegmentationMeter(K, key="semantic")},
        device=CPU,
        progress=False,
    )
    assert 0 <= history.val_metrics["seg/miou"][0] <= 1


def test_fit_grad_clip_bounds_the_step():
    model = _net()
    before = [p.detach().clone() for p in model.parameters()]
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    fit(
        model,
        _loader(),
        loss_fn=_ce,
        optimizer=sgd,
        time_budget_s=1e-9,
        grad_clip=0.01,
        device=CPU,
        progress=False,
    )
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)])
    assert 0 < step.norm() <= 0.01 + 1e-6


def test_fit_steps_scheduler_per_epoch():
    model = _net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, _loader(), loss_fn=_ce, optimizer=opt, scheduler=sched, epochs=2, device=CPU, progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)


def test_evaluate_miou_is_whole_set_confusion():
    model = _net(3)
    data = _data(n=7, seed=5)
    with torch.no_grad():
        pred = model(data.tensors[0]).argmax(1)
    conf = confusion_matrix(pred, data.tensors[1], K)
    model.train()
    scores = evaluate(
        model,
        DataLoader(data, batch_size=3),  # uneven batches: 3 + 3 + 1
        metrics={"seg": SegmentationMeter(K)},
        loss_fn=_ce,
        device=CPU,
    )
    assert scores["seg/miou"] == pytest.approx(float(mean_iou(conf)))
    assert scores["seg/pixel_acc"] == pytest.approx(float(pixel_accuracy(conf)))
    x, y = data.tensors
    with torch.no_grad():
        batch_losses = [_ce(model(x[i : i + 3]), y[i : i + 3]).item() * len(x[i : i + 3]) for i in (0, 3, 6)]
    assert scores["loss"] == pytest.approx(sum(batch_losses) / 7)
    assert model.training  # mode restored


def test_evaluate_mean_meter_weights_by_batch_size():
    data = _data(n=7, seed=6)
    model = _net()

    def accuracy(output, target):
        return (output.argmax(1) == target).float().mean()

    scores = evaluate(model, DataLoader(data, batch_size=3), metrics={"acc": accuracy}, device=CPU)
    with torch.no_grad():
        expected = accuracy(model(data.tensors[0]), data.tensors[1])
    assert scores == {"acc": pytest.approx(float(expected))}


def test_segmentation_meter_accepts_ids_and_resets():
    meter = SegmentationMeter(2)
    meter.update(torch.tensor([[[0, 1]]]), torch.tensor([[[0, 0]]]))
    assert meter.confusion.tolist() == [[1, 1], [0, 0]]
    assert meter.compute() == {"miou": pytest.approx(0.25), "pixel_acc": pytest.approx(0.5)}
    meter.reset()
    assert meter.confusion.sum() == 0 and math.isnan(meter.compute()["miou"])


def test_segmentation_meter_scores_binary_logits_by_their_sign():
    logits = torch.tensor([[[[-2.0, 0.5], [3.0, -0.1]]]])  # (1, 1, 2, 2)
    target = torch.tensor([[[0, 1], [1, 1]]])
    meter = SegmentationMeter(2)
    meter.update(logits, target)
    assert meter.confusion.tolist() == [[1, 0], [1, 2]]  # one target-1 pixel has logit -0.1 -> class 0
    with pytest.raises(ValueError, match="^output: binary logits"):
        SegmentationMeter(3).update(logits, target)
    with pytest.raises(ValueError, match=r"^output: expected logits of shape \(B, 3, H, W\)"):
        SegmentationMeter(3).update(torch.zeros(1, 2, 2, 2), target)


def test_history_best():
    h = History(
        train_loss=[3.0, 1.0, 2.0], val_loss=[2.0, float("nan"), 1.5], val_metrics={"miou": [0.1, 0.5, 0.4]}
    )
    assert h.best("train_loss") == (2, 1.0)
    assert h.best("val_loss") == (3, 1.5)
    assert h.best("miou") == (2, 0.5)
    assert h.best("miou", mode="min") == (1, 0.1)
    with pytest.raises(KeyError, match="metric: expected one of"):
        h.best("dice")
    with pytest.raises(ValueError, match="mode"):
        h.best("miou", mode="best")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "epochs and time_budget_s: expected exactly one"),
        ({"epochs": 1, "time_budget_s": 1.0}, ValueError, "epochs and time_budget_s: expected exactly one"),
        ({"time_budget_s": -1.0}, ValueError, "time_budget_s: expected a finite number > 0, got -1.0"),
        ({"time_budget_s": 0}, ValueError, "time_budget_s: expected a finite number > 0"),
        ({"time_budget_s": "10"}, TypeError, "time_budget_s: expected a finite number"),
        ({"epochs": 0}, ValueError, "epochs: expected an int >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs: expected an int"),
        (
            {"epochs": 1, "metrics": {"m": SegmentationMeter(K)}},
            ValueError,
            "metrics: validation metrics need",
        ),
        (
            {"epochs": 1, "metrics": [SegmentationMeter(K)], "val_loader": []},
            TypeError,
            "metrics: expected a dict",
        ),
        ({"epochs": 1, "grad_clip": -1}, ValueError, "grad_clip: expected"),
        ({"epochs": 1, "optimizer": "adam"}, TypeError, "optimizer: expected"),
        ({"epochs": 1, "seed": -1}, ValueError, "seed"),
    ],
)
def test_fit_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        fit(_net(), _loader(), loss_fn=_ce, device=CPU, progress=False, **kwargs)


def test_fit_bad_model_loss_and_batches():
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        fit(lambda x: x, _loader(), loss_fn=_ce, epochs=1, progress=False)
    with pytest.raises(TypeError, match="loss_fn: expected a callable"):
        fit(_net(), _loader(), loss_fn=None, epochs=1, progress=False)
    with pytest.raises(ValueError, match="loss_fn: expected a scalar tensor"):
        fit(
            _net(),
            _loader(),
            loss_fn=lambda o, t: (o - o).sum((1, 2, 3)),
            epochs=1,
            device=CPU,
            progress=False,
        )
    with pytest.raises(ValueError, match="train_loader: expected at least one batch"):
        fit(_net(), [], loss_fn=_ce, time_budget_s=1.0, device=CPU, progress=False)
    with pytest.raises(TypeError, match=r"train_loader: expected batches \(input, target\)"):
        fit(_net(), [torch.rand(1, 3, 4, 4)], loss_fn=_ce, epochs=1, device=CPU, progress=False)
    with pytest.raises(ValueError, match="metrics: the name 'loss' is reserved"):
        evaluate(_net(), _loader(), metrics={"loss": lambda o, t: 0.0}, loss_fn=_ce, device=CPU)


def test_mean_meter_rejects_non_callable():
    with pytest.raises(TypeError, match="fn: expected a callable"):
        MeanMeter(3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_and_evaluate_on_cuda():
    model = _net()
    reference = copy.deepcopy(model)
    history = fit(
        model,
        _loader(),
        loss_fn=_ce,
        epochs=1,
        val_loader=_loader(),
        metrics={"seg": SegmentationMeter(K)},
        device="cuda",
        progress=False,
    )
    assert next(model.parameters()).device.type == "cuda"
    fit(reference, _loader(), loss_fn=_ce, epochs=1, device=CPU, progress=False)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.cpu(), q, atol=1e-4, rtol=1e-4)
    assert 0 <= history.val_metrics["seg/miou"][0] <= 1
