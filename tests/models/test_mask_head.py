import pytest
import torch
import torch.nn.functional as F
from torchvision.models.detection.roi_heads import maskrcnn_inference
from torchvision.ops import roi_align as tv_roi_align

from cvlab.data import SceneDataset
from cvlab.models.mask_head import (
    MaskHead,
    evaluate_mask_head,
    fit_mask_head,
    mask_targets,
    paste_masks,
    prepare_instances,
    select_class_masks,
)


def test_select_class_masks_matches_torchvision_maskrcnn_inference():
    logits = torch.randn(5, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 1, 1, 2])
    ref = maskrcnn_inference(logits, [labels])[0][:, 0]  # torchvision: sigmoid of the labelled class' channel
    torch.testing.assert_close(select_class_masks(logits, labels).sigmoid(), ref)
    with pytest.raises(ValueError, match="labels: expected 5 class indices in"):
        select_class_masks(logits, torch.tensor([0, 4, 1, 1, 2]))


def test_mask_targets_are_aligned_crops_binarised():
    masks = torch.zeros(2, 16, 16, dtype=torch.bool)
    masks[0, 4:12, 2:10] = True
    masks[1, :8, :] = True
    boxes = torch.tensor([[2.0, 4.0, 10.0, 12.0], [0.0, 0.0, 16.0, 16.0]])
    t = mask_targets(masks, boxes, 8)
    assert t.dtype == torch.float32 and set(t.unique().tolist()) <= {0.0, 1.0}
    assert t[0].all()  # the box is exactly the mask
    assert t[1, :4].all() and not t[1, 4:].any()  # the top half
    own = torch.cat([torch.arange(2.0)[:, None], boxes], 1)
    ref = tv_roi_align(masks[:, None].float(), own, 8, 1.0, 2, aligned=True)[:, 0] >= 0.5
    torch.testing.assert_close(t, ref.float())
    before = masks.clone()
    mask_targets(masks, boxes, 4)
    assert torch.equal(masks, before)


def test_paste_masks_inverts_crops_and_equals_a_resize_on_whole_image_boxes():
    masks = torch.zeros(1, 20, 20, dtype=torch.bool)
    masks[0, 5:15, 3:13] = True
    box = torch.tensor([[3.0, 5.0, 13.0, 15.0]])
    pasted = paste_masks(mask_targets(masks, box, 10), box, (20, 20)) >= 0.5
    assert torch.equal(pasted, masks)
    probs = torch.rand(2, 7, 7, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [0.0, 0.0, 20.0, 20.0]])
    ours = paste_masks(probs, boxes, (20, 20))
    ref = F.interpolate(probs[:, None], size=(20, 20), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(ours, ref)  # a whole-image box is a plain bilinear resize


def test_mask_head_shapes_and_fit_evaluate_smoke(scene_instances):
    assert MaskHead(48, 4, 8)(torch.rand(3, 48, 7, 7)).shape == (3, 4, 14, 14)
    model = fit_mask_head("align", scene_instances, steps=3, batch_size=4)
    scores = evaluate_mask_head(model, scene_instances)
    assert set(scores) == {"mask_iou", "AP", "AP50", "AP75"} and 0 <= scores["mask_iou"] <= 1
    with pytest.raises(ValueError, match="pool: expected one of"):
        fit_mask_head("max", scene_instances, steps=1)
    with pytest.raises(ValueError, match=r"prepare_instances\(dataset, size=10\)"):
        fit_mask_head("pool", scene_instances, steps=1, size=5)


@pytest.fixture(scope="module")
def scene_instances():
    return prepare_instances(SceneDataset("train", task="instance", size=32, length=4))
