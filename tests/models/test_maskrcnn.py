import pytest
import torch
from torchvision.ops.misc import FrozenBatchNorm2d

from cvlab.data import SceneDataset
from cvlab.models import maskrcnn as M


@pytest.fixture(scope="module")
def scenes():
    ds = SceneDataset("train", task="instance", size=64, length=6)
    return [(image, M.scene_targets(t)) for image, t in (ds[i] for i in range(len(ds)))]


def test_scene_targets_are_torchvision_detection_targets():
    image, t = SceneDataset("val", task="instance", size=64, length=1)[0]
    out = M.scene_targets(t)
    assert out["labels"].min() >= 1 and out["labels"].max() <= 4
    torch.testing.assert_close(out["boxes"], t["boxes"] + torch.tensor([0.0, 0.0, 1.0, 1.0]))
    assert out["masks"].dtype == torch.uint8 and out["masks"].shape == t["masks"].shape


def test_backbone_normalises_and_is_small():
    model = M.maskrcnn()
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in model.backbone.modules())
    assert sum(p.numel() for p in model.parameters()) < 1_000_000  # float16 weights under 2 MB
    with pytest.raises(ValueError, match="width: expected a multiple of 16"):
        M.maskrcnn(width=24)


def test_train_steps_are_finite_and_eval_is_capped(scenes):
    torch.manual_seed(0)
    model = M.maskrcnn(detections_per_img=5, proposals=30)
    losses = M.train_maskrcnn(model, scenes, steps=3, batch_size=2, lr=0.01, warmup=2)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert not model.training
    preds = M.predict(model, [image for image, _ in scenes[:3]])
    for p in preds:
        assert len(p["boxes"]) <= 5 and p["masks"].shape[1:] == (64, 64)
        assert (p["scores"] >= 0.05).all()
    scores = M.evaluate_maskrcnn(model, scenes[:3])
    assert {"AP", "AP50", "AP75", "box_AP50"} <= set(scores)


def test_training_needs_objects():
    with pytest.raises(ValueError, match="data: expected at least one image with objects"):
        M.train_maskrcnn(M.maskrcnn(), [(torch.rand(3, 64, 64), {"boxes": torch.zeros(0, 4)})], steps=1)


def test_shipped_weights_load_and_match_the_recipe_hash():
    model = M.load_pretrained()
    assert not model.training
    assert M.WEIGHTS.stat().st_size < 2_000_000
