
import numpy as np
import pytest
import torch
from scipy import ndimage

from cvlab.data import SceneDataset
from cvlab.models.evaluate import (
    _random_flips,
    forward_flops,
    fully_convolutional_logits,
    predict,
    scene_tensors,
    score,
    sliding_window_logits,
    stride_oracle,
    train_and_score,
)
from cvlab.models.fcn import PatchClassifier
from cvlab.models.unet import UNet


def _official_band(mask: np.ndarray, d: int) -> np.ndarray:
    """The Boundary IoU reference: pad by one zero pixel, erode with a 3x3 square d times, subtract."""
    padded = np.pad(mask, 1)
    eroded = ndimage.binary_erosion(padded, structure=np.ones((3, 3)), iterations=d, border_value=0)[1:-1, 1:-1]
    return mask & ~eroded


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


def test_train_and_score_with_balanced_loss_one_cycle_and_flips_is_seeded_and_checks_its_options():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 16, 16, generator=gen)
    labels = (images[:, 0] > 0.5).long() + (images[:, 1] > 0.9).long()  # class 2 is rare
    options = {"loss": "wce+dice", "schedule": "onecycle", "flip": True}
    runs = []
    for flip in (True, True, False):
        torch.manual_seed(0)
        runs.append(train_and_score(UNet(3, 3, 1, 4), (images, labels), (images, labels), num_classes=3, epochs=3,
                                    batch_size=4, seed=1, device="cpu", **(options | {"flip": flip})))
    assert runs[0]["final_loss"] == runs[1]["final_loss"] != runs[2]["final_loss"]
    for bad, match in (({"loss": "focal"}, "loss"), ({"schedule": "step"}, "schedule")):
        with pytest.raises(ValueError, match=match):
            train_and_score(UNet(3, 3, 1, 4), (images, labels), (images, labels), num_classes=3, epochs=1, **bad)


def test_random_flips_flip_each_image_with_its_labels():
    images = torch.arange(64 * 3 * 2 * 5, dtype=torch.float32).reshape(64, 3, 2, 5)
    labels = torch.arange(64 * 2 * 5).reshape(64, 2, 5)
    x, y = _random_flips(torch.Generator().manual_seed(0))(list(zip(images, labels, strict=True)))
    flipped = (x == images.flip(-1)).flatten(1).all(1)
    assert torch.equal(flipped | (x == images).flatten(1).all(1), torch.ones(64, dtype=torch.bool))
    assert torch.equal(flipped, (y == labels.flip(-1)).flatten(1).all(1)) and 16 < int(flipped.sum()) < 48


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


def test_forward_flops_counts_a_convolutions_multiply_adds():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert forward_flops(conv, 8) == 2 * 3 * 4 * 9 * 8 * 8
    assert conv.training  # the mode is restored


def test_sliding_window_and_fully_convolutional_labelling_agree():
    torch.manual_seed(0)
    model = PatchClassifier(4, 7, widths=(3, 5), hidden=6).train()
    with torch.no_grad():  # non-trivial batch-norm statistics: eval mode must be used by both
        model(torch.rand(8, 3, 20, 20))
    images = torch.rand(2, 3, 11, 6)
    slow = sliding_window_logits(model, images, 7, batch_size=13)
    fast = fully_convolutional_logits(model, images, 7)
    assert slow.shape == fast.shape == (2, 4, 11, 6) and model.training
    torch.testing.assert_close(slow, fast, rtol=1e-5, atol=1e-5)
    # pixel (r, c) is the class of its own window, cut by hand from the zero-padded image
    padded = torch.nn.functional.pad(images, [3] * 4)
    with torch.no_grad():
        one = model.eval()(padded[1:2, :, 4:11, 2:9]).flatten()
    torch.testing.assert_close(slow[1, :, 4, 2], one)
    with pytest.raises(ValueError, match="patch: expected an odd"):
        sliding_window_logits(model, images, 6)
