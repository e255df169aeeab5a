import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvlab.data import SceneDataset
from cvlab.losses import silog_loss
from cvlab.models.multitask import (
    MULTITASK_WEIGHTS,
    TASKS,
    MultiTaskLoss,
    MultiTaskNet,
    multitask_loss,
    multitask_scores,
    normal_angle_error,
)


def _batch(size=(24, 30), n=2):
    ds = SceneDataset("val", task=TASKS, size=size, length=n)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


@pytest.mark.parametrize("size", [(32, 32), (30, 44), (17, 23)])
def test_shapes_for_any_input_size(size):
    out = MultiTaskNet(width=4)(torch.rand(2, 3, *size))
    assert list(out) == list(TASKS)
    assert out["depth"].shape == (2, 1, *size) and bool((out["depth"] > 0).all())
    assert out["normals"].shape == (2, 3, *size)
    torch.testing.assert_close(out["normals"].norm(dim=1), torch.ones(2, *size))
    assert out["semantic"].shape == (2, 7, *size)


def test_single_task_model_is_the_same_network_with_one_head():
    multi, single = MultiTaskNet(width=4), MultiTaskNet(("normals",), width=4)
    assert list(single(torch.rand(1, 3, 16, 16))) == ["normals"]
    n_encoder = sum(p.numel() for p in multi.encoder.parameters())
    n_heads = {t: sum(p.numel() for p in h.parameters()) for t, h in multi.heads.items()}
    assert sum(p.numel() for p in multi.parameters()) == n_encoder + sum(n_heads.values())
    assert sum(p.numel() for p in single.parameters()) == n_encoder + n_heads["normals"]


def test_keeps_float64():
    out = MultiTaskNet(("depth", "semantic"), width=4).double()(torch.rand(1, 3, 16, 20, dtype=torch.float64))
    assert all(x.dtype == torch.float64 for x in out.values())


def test_gradients_reach_every_head_and_the_encoder():
    model = MultiTaskNet(width=4)
    x, y = _batch()
    total, parts = multitask_loss(model(x), y)
    total.backward()
    assert set(parts) == set(TASKS)
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_a_zero_weight_cuts_its_head_off():
    model = MultiTaskNet(width=4)
    x, y = _batch()
    multitask_loss(model(x), y, {"depth": 1.0, "normals": 0.0, "semantic": 2.0})[0].backward()
    assert all(p.grad is None or not p.grad.any() for p in model.heads["normals"].parameters())
    assert all(p.grad.any() for p in model.heads["semantic"].parameters())


def test_weights_are_honoured_and_parts_are_the_single_losses():
    torch.manual_seed(0)
    model = MultiTaskNet(width=4)
    x, y = _batch()
    out = model(x)
    weights = {"depth": 0.5, "normals": 2.0, "semantic": 0.25}
    total, parts = multitask_loss(out, y, weights, lam=0.7)
    torch.testing.assert_close(total, sum(w * parts[t] for t, w in weights.items()))
    torch.testing.assert_close(parts["depth"], silog_loss(out["depth"], y["depth"]["depth"], y["depth"]["valid"], 0.7))
    torch.testing.assert_close(parts["semantic"], F.cross_entropy(out["semantic"], y["semantic"]))
    default, _ = multitask_loss(out, y)
    torch.testing.assert_close(default, sum(MULTITASK_WEIGHTS[t] * parts[t] for t in TASKS) - parts["depth"]
                               + silog_loss(out["depth"], y["depth"]["depth"], y["depth"]["valid"], 0.5))
    torch.testing.assert_close(MultiTaskLoss(weights, lam=0.7)(out, y), total)


def test_only_the_tasks_of_the_outputs_count():
    x, y = _batch()
    out = MultiTaskNet(("semantic",), width=4)(x)
    total, parts = multitask_loss(out, {"semantic": y["semantic"]}, {"semantic": 3.0})
    assert list(parts) == ["semantic"]
    torch.testing.assert_close(total, 3 * F.cross_entropy(out["semantic"], y["semantic"]))


def test_normal_loss_and_angle_by_hand():
    target = F.normalize(torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0)), dim=1)
    valid = torch.ones(2, 1, 5, 6, dtype=torch.bool)
    y = {"normals": {"normals": target, "valid": valid}}
    orthogonal = torch.linalg.cross(target, torch.roll(target, 1, dims=1), dim=1)  # perpendicular to target
    for pred, loss, angle in ((target, 0.0, 0.0), (-target, 2.0, 180.0), (orthogonal, 1.0, 90.0)):
        part = multitask_loss({"normals": 3 * pred}, y, {"normals": 1.0})[1]["normals"]  # scale does not matter
        assert part.item() == pytest.approx(loss, abs=1e-5)
        assert normal_angle_error(pred, target, valid).item() == pytest.approx(angle, abs=0.05)


def test_angle_error_is_per_image_then_averaged_like_numpy():
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(3, 3, 4, 5, generator=g), F.normalize(torch.randn(3, 3, 4, 5, generator=g), dim=1)
    valid = torch.rand(3, 1, 4, 5, generator=g) > 0.4
    valid[2] = False  # an image without valid pixels does not count
    p, t, v = pred.numpy(), target.numpy(), valid.numpy()[:, 0]
    cos = (p * t).sum(1) / np.linalg.norm(p, axis=1)
    degrees = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    expected = np.mean([degrees[i][v[i]].mean() for i in range(2)])
    assert normal_angle_error(pred, target, valid).item() == pytest.approx(expected, rel=1e-5)


def test_perfect_outputs_score_perfectly():
    x, y = _batch()
    logits = F.one_hot(y["semantic"], 7).permute(0, 3, 1, 2).float()
    depth = torch.where(y["depth"]["valid"], y["depth"]["depth"], 1.0)
    out = {"depth": depth, "normals": y["normals"]["normals"], "semantic": logits}
    scores = multitask_scores(out, y)
    assert scores["abs_rel"] == pytest.approx(0, abs=1e-6) and scores["angle_deg"] < 0.1
    assert scores["miou"] == pytest.approx(1.0)
    assert not math.isnan(multitask_scores({"semantic": logits}, y)["miou"])


def test_inputs_untouched():
    x, y = _batch()
    out = MultiTaskNet(width=4)(x)
    out = {k: v.detach() for k, v in out.items()}
    before = {k: v.clone() for k, v in out.items()}
    y_normals = y["normals"]["normals"].clone()
    multitask_loss(out, y)
    multitask_scores(out, y)
    normal_angle_error(out["normals"], y["normals"]["normals"], y["normals"]["valid"])
    assert all(torch.equal(out[k], before[k]) for k in out)
    assert torch.equal(y["normals"]["normals"], y_normals)


def test_checks_name_the_argument():
    x, y = _batch()
    out = MultiTaskNet(width=4)(x)
    with pytest.raises(ValueError, match="tasks"):
        MultiTaskNet(("depth", "edges"))
    with pytest.raises(ValueError, match="tasks"):
        MultiTaskNet(())
    with pytest.raises(ValueError, match="weights"):
        multitask_loss(out, y, {"depth": 1.0})
    with pytest.raises(ValueError, match="weights"):
        multitask_loss(out, y, {"depth": 1.0, "normals": -1.0, "semantic": 1.0})
    with pytest.raises(ValueError, match="targets"):
        multitask_loss(out, {"depth": y["depth"]})
    with pytest.raises(ValueError, match="pred, target, valid"):
        normal_angle_error(out["normals"][:, :2], y["normals"]["normals"][:, :2], y["normals"]["valid"])
    with pytest.raises(ValueError, match="image"):
        MultiTaskNet(width=4)(torch.rand(3, 16, 16))
