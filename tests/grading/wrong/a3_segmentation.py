"""A3 "segmentation": plausible wrong implementations of each graded function (each must lose points), and correct
implementations different from the solution (each must earn full marks).

The mistakes the issue names are here: a centre crop, zero padding or a resize instead of the corner crop/replicate
pad, the fusion's weights swapped or transposed, interpolation instead of the given x8 kernel, the skip concatenated
second, a missing ReLU, a transposed confusion matrix, ``ignore_index`` hard-coded or out-of-range targets counted,
NaN classes counted as 0, per-image scores averaged; for the trained U-Net, an untrained or otherwise built network,
a head that predicts one class, weights without the batch-norm statistics, NaN weights, and a number (a claimed
score) instead of a model.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cvlab.models import UNet


def _fit(x, size):
    height, width = size
    x = x[..., :height, :width]
    bottom, right = height - x.shape[-2], width - x.shape[-1]
    return F.pad(x, (0, right, 0, bottom), mode="replicate") if bottom or right else x


def _fit_gather(x, size):
    """Correct, another way: index rows and columns with indices clamped to the map (crop and replicate in one)."""
    rows = torch.arange(size[0], device=x.device).clamp(max=x.shape[-2] - 1)
    cols = torch.arange(size[1], device=x.device).clamp(max=x.shape[-1] - 1)
    return x[..., rows, :][..., cols]


def _fit_center(x, size):
    """Centre crop or centre (replicate) pad."""
    for axis, want in ((-2, size[0]), (-1, size[1])):
        if x.shape[axis] > want:
            x = x.narrow(axis, (x.shape[axis] - want) // 2, want)
    top, left = (size[0] - x.shape[-2]) // 2, (size[1] - x.shape[-1]) // 2
    pads = (left, size[1] - x.shape[-1] - left, top, size[0] - x.shape[-2] - top)
    return F.pad(x, pads, mode="replicate") if any(pads) else x


def _fit_zeros(x, size):
    x = x[..., : size[0], : size[1]]
    return F.pad(x, (0, size[1] - x.shape[-1], 0, size[0] - x.shape[-2]))


def _fit_resize(x, size):
    return F.interpolate(x, size=tuple(size), mode="nearest")


def _fuse(score32, score16, score8, up32, up16, final, size, fit=_fit):
    k = final.shape[0]
    x = fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8
    return fit(F.conv_transpose2d(x, final, stride=8, padding=4, groups=k), size)


# --- fcn8s_fuse(score32, score16, score8, up32, up16, final, size) ----------------------------------------------------


def fuse_modules(score32, score16, score8, up32, up16, final, size):
    """Correct: nn.ConvTranspose2d layers loaded with the weights, fitting by clamped indices."""
    k = final.shape[0]
    layers = []
    for weight, stride, groups in ((up32, 2, 1), (up16, 2, 1), (final, 8, k)):
        layer = nn.ConvTranspose2d(k, k, 2 * stride, stride=stride, padding=stride // 2, groups=groups, bias=False)
        layer = layer.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight)
        layers.append(layer)
    with torch.no_grad():
        x = _fit_gather(layers[0](score32), score16.shape[-2:]) + score16
        x = _fit_gather(layers[1](x), score8.shape[-2:]) + score8
        return _fit_gather(layers[2](x), size)


def fuse_per_class(score32, score16, score8, up32, up16, final, size):
    """Correct: the grouped x8 upsampling written as one single-channel transposed convolution per class."""
    x = _fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = _fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8
    up = [F.conv_transpose2d(x[:, c : c + 1], final[c : c + 1], stride=8, padding=4) for c in range(x.shape[1])]
    return _fit(torch.cat(up, 1), size)


def fuse_cvlab_shortcut(score32, score16, score8, up32, up16, final, size):
    from cvlab.models.blocks import match_size

    k = final.shape[0]
    x = match_size(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = match_size(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8
    return match_size(F.conv_transpose2d(x, final, stride=8, padding=4, groups=k), size)


def fuse_center_crop(score32, score16, score8, up32, up16, final, size):
    return _fuse(score32, score16, score8, up32, up16, final, size, fit=_fit_center)


def fuse_zero_pad(score32, score16, score8, up32, up16, final, size):
    return _fuse(score32, score16, score8, up32, up16, final, size, fit=_fit_zeros)


def fuse_resize(score32, score16, score8, up32, up16, final, size):
    return _fuse(score32, score16, score8, up32, up16, final, size, fit=_fit_resize)


def fuse_weights_swapped(score32, score16, score8, up32, up16, final, size):
    return _fuse(score32, score16, score8, up16, up32, final, size)


def fuse_weights_transposed(score32, score16, score8, up32, up16, final, size):
    """The (in, out) axes of the x2 kernels read as conv2d's (out, in)."""
    return _fuse(score32, score16, score8, up32.transpose(0, 1), up16.transpose(0, 1), final, size)


def fuse_interpolate(score32, score16, score8, up32, up16, final, size):
    """Bilinear interpolation instead of the given x8 kernel (differs at the border, and for other kernels)."""
    x = _fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = _fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8
    return _fit(F.interpolate(x, scale_factor=8, mode="bilinear", align_corners=False), size)


def fuse_no_final_crop(score32, score16, score8, up32, up16, final, size):
    x = _fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = _fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8
    return F.conv_transpose2d(x, final, stride=8, padding=4, groups=final.shape[0])


def fuse_no_padding(score32, score16, score8, up32, up16, final, size):
    """padding=0 in the transposed convolutions, then cropped: everything shifted by the padding."""
    k = final.shape[0]
    x = _fit(F.conv_transpose2d(score32, up32, stride=2), score16.shape[-2:]) + score16
    x = _fit(F.conv_transpose2d(x, up16, stride=2), score8.shape[-2:]) + score8
    return _fit(F.conv_transpose2d(x, final, stride=8, groups=k), size)


def fuse_16s(score32, score16, score8, up32, up16, final, size):
    """FCN-16s: the stride-8 scores never added."""
    x = _fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16
    x = _fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:])
    return _fit(F.conv_transpose2d(x, final, stride=8, padding=4, groups=final.shape[0]), size)


def fuse_mean(score32, score16, score8, up32, up16, final, size):
    """Averages instead of sums."""
    x = (_fit(F.conv_transpose2d(score32, up32, stride=2, padding=1), score16.shape[-2:]) + score16) / 2
    x = (_fit(F.conv_transpose2d(x, up16, stride=2, padding=1), score8.shape[-2:]) + score8) / 2
    return _fit(F.conv_transpose2d(x, final, stride=8, padding=4, groups=final.shape[0]), size)


# --- decoder_block(x, skip, weights, up="transpose") ------------------------------------------------------------------


def _up(x, weights, up, align_corners=False):
    if up == "transpose":
        return F.conv_transpose2d(x, weights["up.weight"], weights["up.bias"], stride=2)
    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=align_corners)
    return F.conv2d(x, weights["up.weight"], weights["up.bias"])


def _convs(h, weights, padding=1, last_relu=True):
    h = F.relu(F.conv2d(h, weights["conv1.weight"], weights["conv1.bias"], padding=padding))
    h = F.conv2d(h, weights["conv2.weight"], weights["conv2.bias"], padding=padding)
    return F.relu(h) if last_relu else h


def block_modules(x, skip, weights, up="transpose"):
    """Correct: nn layers loaded from the weights dict (a state_dict), fitting by clamped indices."""
    c_out, c_cat = weights["conv1.weight"].shape[:2]
    c_in = x.shape[1]
    if up == "transpose":
        upsample = nn.ConvTranspose2d(c_in, weights["up.weight"].shape[1], 2, stride=2)
    else:
        upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"),
                                 nn.Conv2d(c_in, weights["up.weight"].shape[0], 1))
    convs = nn.Sequential(nn.Conv2d(c_cat, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                          nn.ReLU())
    upsample.to(device=x.device, dtype=x.dtype)  # before loading: float64 weights into float64 layers
    convs.to(device=x.device, dtype=x.dtype)
    prefix = "" if up == "transpose" else "1."
    upsample.load_state_dict({f"{prefix}weight": weights["up.weight"], f"{prefix}bias": weights["up.bias"]})
    convs.load_state_dict({"0.weight": weights["conv1.weight"], "0.bias": weights["conv1.bias"],
                           "2.weight": weights["conv2.weight"], "2.bias": weights["conv2.bias"]})
    with torch.no_grad():
        return convs(torch.cat([skip, _fit_gather(upsample(x), skip.shape[-2:])], 1))


def block_split_conv(x, skip, weights, up="transpose"):
    """Correct: the first convolution split into its skip and upsampled halves, summed (no concatenation)."""
    u = _fit(_up(x, weights, up), skip.shape[-2:])
    w = weights["conv1.weight"]
    c = skip.shape[1]
    h = F.conv2d(skip, w[:, :c], weights["conv1.bias"], padding=1) + F.conv2d(u, w[:, c:], padding=1)
    h = F.relu(h)
    return F.relu(F.conv2d(h, weights["conv2.weight"], weights["conv2.bias"], padding=1))


def block_cvlab_shortcut(x, skip, weights, up="transpose"):
    from cvlab.models.blocks import match_size

    return _convs(torch.cat([skip, match_size(_up(x, weights, up), skip.shape[-2:])], 1), weights)


def block_skip_second(x, skip, weights, up="transpose"):
    return _convs(torch.cat([_fit(_up(x, weights, up), skip.shape[-2:]), skip], 1), weights)


def block_center_crop(x, skip, weights, up="transpose"):
    return _convs(torch.cat([skip, _fit_center(_up(x, weights, up), skip.shape[-2:])], 1), weights)


def block_zero_pad(x, skip, weights, up="transpose"):
    return _convs(torch.cat([skip, _fit_zeros(_up(x, weights, up), skip.shape[-2:])], 1), weights)


def block_resize(x, skip, weights, up="transpose"):
    return _convs(torch.cat([skip, _fit_resize(_up(x, weights, up), skip.shape[-2:])], 1), weights)


def block_no_last_relu(x, skip, weights, up="transpose"):
    return _convs(torch.cat([skip, _fit(_up(x, weights, up), skip.shape[-2:])], 1), weights, last_relu=False)


def block_align_corners(x, skip, weights, up="transpose"):
    return _convs(torch.cat([skip, _fit(_up(x, weights, up, align_corners=True), skip.shape[-2:])], 1), weights)


def block_always_transpose(x, skip, weights, up="transpose"):
    """Ignores ``up``: a transposed convolution even when bilinear is asked for (weights reshaped to fit)."""
    w = weights["up.weight"]
    if up != "transpose":
        w = w[:, :, :1, :1].transpose(0, 1).expand(-1, -1, 2, 2)
    u = F.conv_transpose2d(x, w, weights["up.bias"], stride=2)
    return _convs(torch.cat([skip, _fit(u, skip.shape[-2:])], 1), weights)


# --- confusion_matrix(pred, target, num_classes, ignore_index=255) ----------------------------------------------------


def cm_one_hot(pred, target, num_classes, ignore_index=255):
    """Correct: one-hot matrices multiplied, counted pixels masked."""
    counted = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        counted &= target != ignore_index
    t = target[counted].long()
    p = pred[counted].long()
    classes = torch.arange(num_classes, device=pred.device)
    return ((t[:, None] == classes).long().T @ (p[:, None] == classes).long())


def cm_loops(pred, target, num_classes, ignore_index=255):
    """Correct: one class pair at a time."""
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=pred.device)
    keep = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    for i in range(num_classes):
        for j in range(num_classes):
            conf[i, j] = ((target == i) & (pred == j) & keep).sum()
    return conf


def cm_cvlab_shortcut(pred, target, num_classes, ignore_index=255):
    from cvlab.metrics import confusion_matrix

    t = torch.where((target >= 0) & (target < num_classes), target, 255 if ignore_index is None else ignore_index)
    return confusion_matrix(pred, t, num_classes, ignore_index if ignore_index is not None else 255)


def _cm(pred, target, num_classes, counted):
    index = target[counted].long() * num_classes + pred[counted].long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def _range(target, num_classes):
    return (target >= 0) & (target < num_classes)


def cm_transposed(pred, target, num_classes, ignore_index=255):
    keep = _range(target, num_classes) & (target != ignore_index if ignore_index is not None else True)
    return _cm(pred, target, num_classes, keep).T


def cm_255_hard_coded(pred, target, num_classes, ignore_index=255):
    return _cm(pred, target, num_classes, _range(target, num_classes) & (target != 255))


def cm_only_ignore_index(pred, target, num_classes, ignore_index=255):
    """Drops ignore_index but not the other out-of-range targets (clamped into range instead)."""
    keep = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    return _cm(pred.clamp(0, num_classes - 1), target.clamp(0, num_classes - 1), num_classes, keep)


def cm_ignore_none_is_255(pred, target, num_classes, ignore_index=255):
    """None treated as the default 255 -- and a class-valued ignore_index not honoured."""
    ignore = 255 if ignore_index is None or 0 <= ignore_index < num_classes else ignore_index
    return _cm(pred, target, num_classes, _range(target, num_classes) & (target != ignore))


def cm_masks_by_prediction(pred, target, num_classes, ignore_index=255):
    """Keeps the pixels whose *prediction* is a class instead of the target."""
    keep = _range(pred, num_classes) & (pred != ignore_index if ignore_index is not None else True)
    return _cm(target.clamp(0, num_classes - 1), pred, num_classes, keep).T


def cm_float_counts(pred, target, num_classes, ignore_index=255):
    keep = _range(target, num_classes) & (target != ignore_index if ignore_index is not None else True)
    return _cm(pred, target, num_classes, keep).float()


def cm_first_image(pred, target, num_classes, ignore_index=255):
    """Counts only the first image of a batch."""
    if pred.dim() == 3:
        pred, target = pred[0], target[0]
    keep = _range(target, num_classes) & (target != ignore_index if ignore_index is not None else True)
    return _cm(pred, target, num_classes, keep)


# --- mean_iou(pred, target, num_classes, ignore_index=255) ------------------------------------------------------------


def _conf(pred, target, num_classes, ignore_index):
    keep = _range(target, num_classes) & (target != ignore_index if ignore_index is not None else True)
    return _cm(pred, target, num_classes, keep).float()


def miou_sets(pred, target, num_classes, ignore_index=255):
    """Correct: intersection and union of the class masks, counted pixels only, classes with an empty union left
    out."""
    keep = _range(target, num_classes) & (target != ignore_index if ignore_index is not None else True)
    ious = []
    for k in range(num_classes):
        t, p = (target == k) & keep, (pred == k) & keep
        union = (t | p).sum()
        if union > 0:
            ious.append((t & p).sum() / union)
    return torch.stack(ious).float().mean() if ious else torch.tensor(float("nan"), device=pred.device)


def miou_dice_relation(pred, target, num_classes, ignore_index=255):
    """Correct: IoU = Dice / (2 - Dice), Dice from the matrix."""
    conf = _conf(pred, target, num_classes, ignore_index)
    tp = conf.diagonal()
    dice = 2 * tp / (conf.sum(0) + conf.sum(1))
    return (dice / (2 - dice)).nanmean()


def miou_cvlab_shortcut(pred, target, num_classes, ignore_index=255):
    from cvlab.metrics import mean_iou

    return mean_iou(_conf(pred, target, num_classes, ignore_index))


def miou_nan_as_zero(pred, target, num_classes, ignore_index=255):
    conf = _conf(pred, target, num_classes, ignore_index)
    tp = conf.diagonal()
    return (tp / (conf.sum(0) + conf.sum(1) - tp)).nan_to_num(0.0).mean()


def miou_no_minus_tp(pred, target, num_classes, ignore_index=255):
    conf = _conf(pred, target, num_classes, ignore_index)
    return (conf.diagonal() / (conf.sum(0) + conf.sum(1))).nanmean()


def miou_recall(pred, target, num_classes, ignore_index=255):
    """TP / (TP + FN): the per-class recall."""
    conf = _conf(pred, target, num_classes, ignore_index)
    return (conf.diagonal() / conf.sum(1)).nanmean()


def miou_target_classes_only(pred, target, num_classes, ignore_index=255):
    """Averages over the classes present in the target: a class only predicted is dropped instead of scoring 0."""
    conf = _conf(pred, target, num_classes, ignore_index)
    tp = conf.diagonal()
    iou = tp / (conf.sum(0) + conf.sum(1) - tp)
    return iou[conf.sum(1) > 0].mean()


def miou_per_image_mean(pred, target, num_classes, ignore_index=255):
    """The mean of per-image mIoUs over the batch."""
    if pred.dim() < 3:
        return miou_dice_relation(pred, target, num_classes, ignore_index)
    scores = [miou_dice_relation(p, t, num_classes, ignore_index) for p, t in zip(pred, target, strict=True)]
    return torch.stack(scores).nanmean()


def miou_no_ignore(pred, target, num_classes, ignore_index=255):
    """ignore_index not passed on: the default 255 is always used."""
    return miou_dice_relation(pred, target, num_classes)


# --- unet: the trained model (weights measured by the judge on held-out scenes) ---

ARCHITECTURE = {"in_ch": 3, "num_classes": 7, "depth": 3, "width": 8}
# The weights the solution's training cell produces (solutions/a3_segmentation, the cell "train_unet"), saved with
# torch.save(unet.state_dict(), ...): a correct answer that needs no training when the banks run.
TRAINED = torch.load(Path(__file__).with_name("a3_unet.pt"), weights_only=True)


def _unet(state=None, **changes):
    torch.manual_seed(0)
    net = UNet(**{**ARCHITECTURE, **changes})
    if state is not None:
        net.load_state_dict(state)
    return net


def _edited(**tensors):
    return {**TRAINED, **tensors}


unet_trained_module = _unet(TRAINED)  # correct: the module itself rather than its state_dict
unet_untrained = _unet()  # the training cell skipped: a fresh, seeded network
unet_wider = _unet(width=16)  # another architecture: does not load
unet_shallower = _unet(depth=2)
unet_background_only = _edited(**{"head.weight": torch.zeros_like(TRAINED["head.weight"]),
                                  "head.bias": torch.eye(7)[1]})  # predicts the most frequent class everywhere
unet_without_bn_statistics = {k: v for k, v in TRAINED.items() if "running" not in k}
unet_nan = _edited(**{"head.bias": torch.full_like(TRAINED["head.bias"], float("nan"))})


WRONG = {
    "fcn8s_fuse": [fuse_cvlab_shortcut, fuse_center_crop, fuse_zero_pad, fuse_resize, fuse_weights_swapped,
                   fuse_weights_transposed, fuse_interpolate, fuse_no_final_crop, fuse_no_padding, fuse_16s, fuse_mean],
    "decoder_block": [block_cvlab_shortcut, block_skip_second, block_center_crop, block_zero_pad, block_resize,
                      block_no_last_relu, block_align_corners, block_always_transpose],
    "confusion_matrix": [cm_cvlab_shortcut, cm_transposed, cm_255_hard_coded, cm_only_ignore_index,
                         cm_ignore_none_is_255, cm_masks_by_prediction, cm_float_counts, cm_first_image],
    "mean_iou": [miou_cvlab_shortcut, miou_nan_as_zero, miou_no_minus_tp, miou_recall, miou_target_classes_only,
                 miou_per_image_mean, miou_no_ignore],
    "unet": [unet_untrained, unet_wider, unet_shallower, unet_background_only, unet_without_bn_statistics, unet_nan,
             0.85],
}

CORRECT = {
    "fcn8s_fuse": [fuse_modules, fuse_per_class],
    "decoder_block": [block_modules, block_split_conv],
    "confusion_matrix": [cm_one_hot, cm_loops],
    "mean_iou": [miou_sets, miou_dice_relation],
    "unet": [TRAINED, unet_trained_module],
}
