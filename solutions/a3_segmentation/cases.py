"""Reference cases of A3 "segmentation" -- built from the solution notebook with
``python -m cvlab.grading build a3_segmentation`` (visible ones ship with cvlab, hidden ones stay here).

The fusion and decoder weights are random (not bilinear, not symmetric), so swapped weights, transposed kernels or a
skipped step change the result; the score-map sizes follow ceil-mode pooling (only crops) or floor-mode pooling
(replicate padding needed), with odd and non-square image sizes, so a centre crop, zero padding, a resize or a
missing crop is caught. The label maps put garbage predictions at uncounted pixels, ``ignore_index`` inside and
outside ``[0, K)``, targets below 0 and at or above K, classes in neither map or only in the prediction.
"""

import torch

from cvlab.grading.build import case, function_test, model_test
from cvlab.ops import bilinear_kernel

g = torch.Generator().manual_seed(3)

SIZE_MATCH = ["cvlab.models.blocks.match_size", "cvlab.models.fcn.match_size", "cvlab.models.unet.match_size",
              "cvlab.models.evaluate.match_size"]
CVLAB_FUSION = [*SIZE_MATCH, "cvlab.models.FCN.forward", "cvlab.models.fcn.FCN.forward",
                "cvlab.models.evaluate.stride_oracle"]
CVLAB_DECODER = [*SIZE_MATCH, "cvlab.models.UNet.forward", "cvlab.models.unet.UNet.forward"]
CVLAB_METRICS = [
    "cvlab.metrics.confusion_matrix", "cvlab.metrics.segmentation.confusion_matrix", "cvlab.metrics.mean_iou",
    "cvlab.metrics.segmentation.mean_iou", "cvlab.metrics.iou_per_class", "cvlab.metrics.segmentation.iou_per_class",
    "cvlab.metrics.segmentation_scores", "cvlab.metrics.segmentation.segmentation_scores",
    "cvlab.models.evaluate.score", "sklearn.metrics.confusion_matrix", "sklearn.metrics.jaccard_score",
]


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=dtype)


def pooled(size, rounding):
    """Sizes of the maps at strides 8, 16, 32 of an image of side ``size`` under ceil- or floor-mode pooling."""
    sides = [size]
    for _ in range(5):
        sides.append(-(-sides[-1] // 2) if rounding == "ceil" else sides[-1] // 2)
    return sides[3], sides[4], sides[5]


def fusion_case(batch, k, height, width, rounding="ceil", *, dtype=torch.float32, final="bilinear", description):
    """Random score maps of the sizes an FCN encoder gives, random x2 weights, the bilinear x8 kernel."""
    (h8, h16, h32), (w8, w16, w32) = pooled(height, rounding), pooled(width, rounding)
    kernel = bilinear_kernel(1, 16, dtype=dtype).expand(k, 1, 16, 16).clone() if final == "bilinear" else \
        randn(k, 1, 16, 16, dtype=dtype).abs()
    return case(randn(batch, k, h32, w32, dtype=dtype), randn(batch, k, h16, w16, dtype=dtype),
                randn(batch, k, h8, w8, dtype=dtype), 0.5 * randn(k, k, 4, 4, dtype=dtype),
                0.5 * randn(k, k, 4, 4, dtype=dtype), kernel, (height, width), description=description)


def block_weights(c_in, c_skip, c_up, c_out, up="transpose", dtype=torch.float32):
    shape = (c_in, c_up, 2, 2) if up == "transpose" else (c_up, c_in, 1, 1)
    return {"up.weight": 0.5 * randn(*shape, dtype=dtype), "up.bias": 0.1 * randn(c_up, dtype=dtype),
            "conv1.weight": 0.3 * randn(c_out, c_skip + c_up, 3, 3, dtype=dtype),
            "conv1.bias": 0.1 * randn(c_out, dtype=dtype),
            "conv2.weight": 0.3 * randn(c_out, c_out, 3, 3, dtype=dtype), "conv2.bias": 0.1 * randn(c_out, dtype=dtype)}


def block_case(batch, c_in, c_skip, c_up, c_out, low, skip, up="transpose", *, dtype=torch.float32, description):
    """x (batch, c_in, *low), skip (batch, c_skip, *skip), random weights."""
    args = (randn(batch, c_in, *low, dtype=dtype), randn(batch, c_skip, *skip, dtype=dtype),
            block_weights(c_in, c_skip, c_up, c_out, up, dtype))
    return case(*args, description=description) if up == "transpose" else case(*args, up=up, description=description)


def labels(*shape, k, low=0):
    return torch.randint(low, k, shape, generator=g)


def spoil(target, pred, values, share):
    """Set a share of ``target``'s pixels to one of ``values`` each; garbage (-7, 99, 0 or 1) in ``pred`` there."""
    where = torch.rand(target.shape, generator=g) < share
    choice = torch.tensor(values)[torch.randint(len(values), target.shape, generator=g)]
    garbage = torch.tensor([-7, 99, 0, 1])[torch.randint(4, target.shape, generator=g)]
    return torch.where(where, choice, target), torch.where(where, garbage, pred)


def label_case(shape, k, *, spoiled=(), share=0.25, absent=(), pred_only=(), ignore_index=255, kwargs=True,
               description):
    """Random prediction and target with ``k`` classes; ``spoiled`` values put in the target (garbage predictions
    there); classes ``absent`` from both maps, ``pred_only`` classes only in the prediction."""
    pred, target = labels(*shape, k=k), labels(*shape, k=k)
    for c in absent:
        pred, target = torch.where(pred == c, (c + 1) % k, pred), torch.where(target == c, (c + 1) % k, target)
    for c in pred_only:
        target = torch.where(target == c, (c + 1) % k, target)
    if spoiled:
        target, pred = spoil(target, pred, list(spoiled), share)
    if ignore_index == 255 and kwargs:
        return case(pred, target, k, description=description)
    return case(pred, target, k, ignore_index, description=description)


def fcn_scores(k, height, width):
    """Score maps and weights of a real (randomly initialised) cvlab FCN-8s on a random image."""
    from cvlab.models import FCN

    torch.manual_seed(0)
    model = FCN(k, "8s", widths=(8, 8, 8, 8, 8), convs=(1, 1, 1, 1, 1), head_width=8).eval()
    with torch.no_grad():
        for layer in model.score_pool:
            layer.weight.normal_(0, 0.3)
            layer.bias.normal_(0, 0.1)
        maps = model.backbone(torch.rand(1, 3, height, width, generator=g))
        score32 = model.score_fr(model.head(maps[4]))
        score16, score8 = model.score_pool[0](maps[3]), model.score_pool[1](maps[2])
    return case(score32, score16, score8, model.up2[0].weight.detach().clone(), model.up2[1].weight.detach().clone(),
                model.up_final.weight.detach().clone(), (height, width),
                description=f"the scores of a cvlab FCN-8s on a {height}x{width} image, {k} classes")


TESTS = {
    "fcn8s_fuse": function_test(
        forbid=CVLAB_FUSION,
        visible=[
            fusion_case(2, 3, 32, 32, description="a batch of 2, 3 classes, a 32x32 image (maps 4x4, 2x2, 1x1)"),
            fcn_scores(4, 40, 24),
        ],
        hidden=[
            fusion_case(1, 5, 37, 45, description="a batch of 1, 5 classes, an odd 37x45 image (crops)"),
            fusion_case(2, 3, 37, 45, "floor", description="floor-mode maps of a 37x45 image: padding needed"),
            fusion_case(3, 2, 70, 38, "floor", description="floor-mode maps of a 70x38 image"),
            fusion_case(2, 7, 29, 61, description="7 classes, a 29x61 image"),
            fusion_case(1, 4, 33, 27, dtype=torch.float64, description="float64, a 33x27 image"),
            fusion_case(2, 3, 24, 40, final="random", description="a non-bilinear x8 kernel, a 24x40 image"),
            fcn_scores(6, 53, 35),
        ],
    ),
    "decoder_block": function_test(
        forbid=CVLAB_DECODER,
        visible=[
            block_case(2, 6, 3, 3, 4, (4, 4), (8, 8), description="a batch of 2, x 6x4x4, skip 3x8x8 (no fit needed)"),
            block_case(1, 4, 2, 3, 3, (3, 4), (5, 7), description="x 4x3x4, skip 2x5x7 (crop to 5x7)"),
        ],
        hidden=[
            block_case(2, 5, 3, 2, 4, (3, 3), (7, 8), description="skip 7x8 larger than the upsampled 6x6 (pad)"),
            block_case(1, 4, 4, 4, 2, (5, 2), (9, 3), description="a batch of 1, x 5x2, skip 9x3"),
            block_case(2, 6, 2, 3, 3, (4, 5), (7, 9), "bilinear", description="bilinear upsampling, skip 7x9"),
            block_case(2, 3, 2, 2, 2, (3, 3), (6, 7), "bilinear", description="bilinear, skip 6x7 (crop and pad)"),
            block_case(2, 4, 3, 5, 3, (4, 3), (7, 6), dtype=torch.float64, description="float64, skip 7x6"),
            block_case(3, 2, 1, 4, 5, (1, 6), (1, 11), description="one-row maps: x 1x6, skip 1x11"),
        ],
    ),
    "confusion_matrix": function_test(
        forbid=CVLAB_METRICS,
        visible=[
            label_case((2, 4, 5), 3, description="a batch of 2 4x5 maps, 3 classes"),
            label_case((6, 7), 4, spoiled=(255,), description="a 6x7 map with ignored pixels (255)"),
        ],
        hidden=[
            label_case((2, 5, 6), 4, spoiled=(255, -1, 4, 9), description="targets 255, -1, 4 and 9 (4 classes)"),
            label_case((3, 4, 4), 3, spoiled=(-1,), ignore_index=-1, description="ignore_index=-1"),
            label_case((2, 5, 5), 4, spoiled=(255,), ignore_index=0,
                       description="ignore_index=0, inside [0, K): target 0 is ignored, 255 is outside [0, K)"),
            label_case((2, 6, 3), 3, spoiled=(255, -2), ignore_index=None, description="ignore_index=None"),
            label_case((1, 1, 13), 5, spoiled=(255,), description="a batch of 1 one-pixel-high map, 5 classes"),
            label_case((4, 5), 6, absent=(2,), pred_only=(4,), description="6 classes, class 2 in neither map"),
            label_case((3, 3, 5), 3, spoiled=(-3, 3), share=0.4, description="negative and too-large targets"),
        ],
    ),
    "mean_iou": function_test(
        forbid=CVLAB_METRICS,
        visible=[
            label_case((2, 4, 5), 3, spoiled=(255,), description="a batch of 2 4x5 maps with ignored pixels"),
            label_case((5, 6), 4, absent=(3,), description="class 3 in neither map: NaN, left out of the mean"),
        ],
        hidden=[
            label_case((6, 6), 4, pred_only=(1,), description="class 1 predicted but never in the target (IoU 0)"),
            label_case((2, 5, 7), 5, absent=(0, 3), spoiled=(255, -1, 7), description="classes 0 and 3 absent, "
                       "targets 255, -1 and 7"),
            label_case((3, 4, 4), 3, spoiled=(255,), ignore_index=1, description="ignore_index=1 inside [0, K)"),
            label_case((4, 2, 6), 4, description="a batch of 4: one matrix for the batch, not a mean per image"),
            label_case((1, 1, 9), 3, spoiled=(255,), description="a batch of 1 one-pixel-high map"),
            case(torch.zeros(2, 3, dtype=torch.int64), torch.full((2, 3), 255), 3,
                 description="every pixel ignored: NaN"),
            label_case((4, 4), 3, spoiled=(-1,), share=0.3, ignore_index=None, description="ignore_index=None, "
                       "negative targets"),
        ],
    ),
}


def held_out_scenes(seeds, size=32):
    """Images Tensor[N, 3, size, size] and uint8 labels of the rendered scenes with these seeds."""
    from cvlab.data import render_scene

    scenes = [render_scene(seed, size) for seed in seeds]
    return torch.stack([s.image for s in scenes]), torch.stack([s.semantic for s in scenes]).to(torch.uint8)


def val_scenes(n, size=32):
    from cvlab.models.evaluate import scene_tensors

    images, labels = scene_tensors("val", n, size)
    return images, labels.to(torch.uint8)


# The trained U-Net: the grader measures its weights on scenes no kernel sees (the hidden seeds lie outside every
# split of cvlab.data.SceneDataset, and the held-out data is stored as the expected part, which kernels never get).
TESTS["unet"] = model_test(
    architecture="cvlab.models.UNet", kwargs={"in_ch": 3, "num_classes": 7, "depth": 3, "width": 8},
    min_miou=0.40,
    visible=[case(*val_scenes(16), description='16 scenes of the "val" split')],
    hidden=[case(*held_out_scenes(range(9_000_000, 9_000_000 + 64 * 7919, 7919)),
                 description="64 held-out scenes of the grader")],
)
