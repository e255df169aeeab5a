import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from cvlab.data import SceneDataset
from cvlab.models.evaluate import (
    boundary_bands,
    boundary_iou_per_class,
    boundary_width,
    predict,
    scene_tensors,
    score,
    stride_oracle,
    train_and_score,
)
from cvlab.models.unet import UNet


def _official_band(mask: np.ndarray, d: int) -> np.ndarray:
    """The Boundary IoU reference: pad by one zero pixel, erode with a 3x3 square d times, subtract."""
    padded = np.pad(mask, 1)
    eroded = ndimage.binary_erosion(padded, structure=np.ones((3, 3)), iterations=d, border_value=0)[1:-1, 1:-1]
    return mask & ~eroded


def test_boundary_width_is_two_percent_of_the_diagonal():
    assert boundary_width(64, 64) == 2  # 0.02 * 90.5 = 1.81
    assert boundary_width(96, 96) == 3
    assert boundary_width(8, 8) == 1  # never below one pixel
    with pytest.raises(ValueError, match="dilation_ratio"):
        boundary_width(8, 8, 1.5)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_boundary_bands_equal_the_official_erosion(d):
    gen = torch.Generator().manual_seed(d)
    labels = torch.randint(0, 3, (2, 6, 7), generator=gen).repeat_interleave(3, 1).repeat_interleave(3, 2)
    bands = boundary_bands(labels, 3, d)
    for b in range(2):
        for k in range(3):
            expected = _official_band((labels[b] == k).numpy(), d)
            assert np.array_equal(bands[b, k].numpy(), expected)


def test_boundary_iou_of_a_one_pixel_shift_by_hand():
    target = torch.zeros(1, 20, 20, dtype=torch.long)
    target[0, 5:15, 5:15] = 1  # a 10x10 square, band width 1: its 36-pixel outline
    pred = target.roll(1, dims=2)
    biou = boundary_iou_per_class(pred, target, 2, dilation_ratio=0.02)  # d = round(0.57) -> 1
    # outlines of two squares shifted by one column: 18 shared pixels (top and bottom rows minus one each
    # ... counted directly below), 54 in the union
    gt, pr = boundary_bands(target, 2, 1)[0, 1], boundary_bands(pred, 2, 1)[0, 1]
    assert int(gt.sum()) == 36 and int((gt & pr).sum()) == 18 and int((gt | pr).sum()) == 54
    assert biou[1].item() == pytest.approx(18 / 54)
    assert boundary_iou_per_class(target, target, 2).tolist() == [1.0, 1.0]


def test_absent_class_is_nan_and_ignored_pixels_are_left_out():
    target = torch.zeros(1, 10, 10, dtype=torch.long)
    target[0, :, 5:] = 1
    biou = boundary_iou_per_class(target, target, 3)
    assert biou[:2].tolist() == [1.0, 1.0] and math.isnan(biou[2])
    pred = target.clone()
    pred[0, :, 5] = 0
    masked = target.clone()
    masked[0, :, 4:7] = 255  # the target's bands see the ignored stripe as a class of its own
    gt = boundary_bands(torch.where(masked == 255, 2, masked), 3, 1)[:, :2]
    pr = boundary_bands(pred, 2, 1)
    valid = (masked != 255)[:, None]
    expected = ((gt & pr & valid).sum((0, 2, 3)) / ((gt | pr) & valid).sum((0, 2, 3))).tolist()
    assert boundary_iou_per_class(pred, masked, 2).tolist() == pytest.approx(expected)
    assert boundary_iou_per_class(pred, torch.full_like(target, 255), 2).isnan().all()
    with pytest.raises(ValueError, match="class ids"):
        boundary_iou_per_class(target + 5, target, 3)


def test_predict_and_score_restore_the_mode_and_agree_with_a_perfect_prediction():
    model = UNet(3, 4, depth=1, width=2)
    images = torch.rand(5, 3, 12, 10)
    pred = predict(model, images, batch_size=2)
    assert pred.shape == (5, 12, 10) and pred.dtype == torch.int64 and model.training
    scores = score(pred, pred, 4)
    assert scores["pixel_acc"] == 1.0 and scores["miou"] == 1.0 and scores["boundary_iou"] == 1.0


def test_train_and_score_is_seeded_and_reports_its_budget():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 16, 16, generator=gen)
    labels = (images[:, 0] > 0.5).long()  # learnable from one pixel
    runs = []
    for _ in range(2):
        torch.manual_seed(0)  # the same initial weights
        runs.append(train_and_score(UNet(3, 2, 1, 4), (images, labels), (images, labels), num_classes=2,
                                    epochs=2, batch_size=4, seed=1, device="cpu"))
    assert runs[0]["miou"] == runs[1]["miou"] and runs[0]["final_loss"] == runs[1]["final_loss"]
    assert runs[0]["params"] == sum(p.numel() for p in UNet(3, 2, 1, 4).parameters())
    assert runs[0]["train_s"] > 0


def test_stride_oracle_is_exact_on_aligned_blocks_and_loses_detail_at_coarse_strides():
    blocks = torch.randint(0, 3, (2, 4, 5), generator=torch.Generator().manual_seed(0))
    labels = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)  # constant on 8x8 blocks
    assert torch.equal(stride_oracle(labels, 2, 3), labels)
    fine = torch.zeros(1, 33, 40, dtype=torch.long)
    fine[0, 10:13, 10:30] = 1  # a 3-pixel-thin bar
    assert torch.equal(stride_oracle(fine, 2, 2)[0, 11, 10:30], torch.ones(20, dtype=torch.long))
    assert stride_oracle(fine, 32, 2).sum() == 0  # at stride 32 the bar never wins a block
    assert stride_oracle(fine, 8, 2).shape == (1, 33, 40)


def test_scene_tensors_stack_the_dataset_items():
    images, labels = scene_tensors("val", 3, size=16)
    assert images.shape == (3, 3, 16, 16) and labels.shape == (3, 16, 16) and labels.dtype == torch.int64
    image, label = SceneDataset("val", size=16, length=3)[2]
    assert torch.equal(images[2], image) and torch.equal(labels[2], label)
