import contextlib
import io

import numpy as np
import pytest
import torch

from cvlab.metrics.instance import mask_ap

KEYS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")


def _rect_masks(boxes, h, w):
    ys, xs = torch.arange(h)[:, None], torch.arange(w)[None, :]
    return torch.stack([(xs >= b[0]) & (xs < b[2]) & (ys >= b[1]) & (ys < b[3]) for b in boxes.long()]) \
        if len(boxes) else torch.zeros(0, h, w, dtype=torch.bool)


def _random_image(g, h, w, n_gt, n_det, n_classes):
    """Ground truth of integer boxes of all sizes; detections jittered from it (many score ties) plus clutter."""
    xy = torch.randint(0, w - 4, (n_gt, 2), generator=g)
    wh = torch.randint(2, 120, (n_gt, 2), generator=g)
    gt_boxes = torch.cat([xy, (xy + wh).clamp(max=w)], 1).float()
    gt = {"boxes": gt_boxes, "labels": torch.randint(1, n_classes + 1, (n_gt,), generator=g),
          "masks": _rect_masks(gt_boxes, h, w)}
    src = torch.randint(0, max(n_gt, 1), (n_det,), generator=g)
    jitter = torch.randint(-6, 7, (n_det, 4), generator=g)
    base = gt_boxes[src] if n_gt else torch.zeros(n_det, 4)
    det_boxes = (base + jitter).clamp(0, w)
    det_boxes[:, 2:] = torch.maximum(det_boxes[:, 2:], det_boxes[:, :2] + 1)
    labels = torch.where(torch.rand(n_det, generator=g) < 0.8, gt["labels"][src] if n_gt else 1,
                         torch.randint(1, n_classes + 1, (n_det,), generator=g))
    det = {"boxes": det_boxes, "labels": labels, "scores": torch.randint(0, 5, (n_det,), generator=g).float() / 4,
           "masks": _rect_masks(det_boxes, h, w)}
    return det, gt


def _coco(dets, gts, iou_type):
    """pycocotools' COCOeval on the same data (the independent reference; a test-only dependency)."""
    pytest.importorskip("pycocotools")
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, results = [], [], []
    for i, (d, g) in enumerate(zip(dets, gts, strict=True), start=1):
        h, w = g["masks"].shape[1:]
        images.append({"id": i, "height": h, "width": w})
        for m, b, c in zip(g["masks"], g["boxes"], g["labels"], strict=True):
            rle = mask_utils.encode(np.asfortranarray(m.numpy().astype(np.uint8)))
            x1, y1, x2, y2 = b.tolist()
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "segmentation": rle,
                         "area": float(m.sum()), "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0})
        for m, b, c, s in zip(d["masks"], d["boxes"], d["labels"], d["scores"], strict=True):
            x1, y1, x2, y2 = b.tolist()
            r = {"image_id": i, "category_id": int(c), "score": float(s)}
            if iou_type == "segm":
                r["segmentation"] = mask_utils.encode(np.asfortranarray(m.numpy().astype(np.uint8)))
            else:
                r["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            results.append(r)
    cats = sorted({int(c) for g in gts for c in g["labels"]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api = COCO()
        gt_api.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in cats]}
        gt_api.createIndex()
        ev = COCOeval(gt_api, gt_api.loadRes(results), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(KEYS, ev.stats[:6].tolist(), strict=True))


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_ap_matches_pycocotools_on_random_detections_with_ties(iou_type, seed):
    g = torch.Generator().manual_seed(seed)
    pairs = [_random_image(g, 128, 128, int(torch.randint(0, 7, (1,), generator=g)), 9, 3) for _ in range(5)]
    dets, gts = [p[0] for p in pairs], [p[1] for p in pairs]
    ours, ref = mask_ap(dets, gts, iou_type=iou_type), _coco(dets, gts, iou_type)
    for k in KEYS:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k


def test_mask_ap_iou_exactly_at_a_threshold_counts_as_a_match():
    gt_box = torch.tensor([[0.0, 0.0, 20.0, 10.0]])
    # IoU exactly 0.5 (100 / 200) and exactly 0.75 (150 / 200)
    det_boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 20.0, 10.0]])
    for box, expected50, expected75 in ((det_boxes[:1], 1.0, 0.0), (det_boxes[1:], 1.0, 1.0)):
        det = {"boxes": box, "labels": torch.tensor([1]), "scores": torch.tensor([0.9]),
               "masks": _rect_masks(box, 32, 32)}
        gt = {"boxes": gt_box, "labels": torch.tensor([1]), "masks": _rect_masks(gt_box, 32, 32)}
        for iou_type in ("segm", "bbox"):
            ours = mask_ap([det], [gt], iou_type=iou_type)
            assert (ours["AP50"], ours["AP75"]) == pytest.approx((expected50, expected75))
            assert ours == pytest.approx(_coco([det], [gt], iou_type), abs=1e-12)


def test_mask_ap_hand_worked_false_positive_ranked_first():
    box = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    gt = {"boxes": box, "labels": torch.tensor([1])}
    det = {"boxes": torch.tensor([[20.0, 20.0, 28.0, 28.0], [0.0, 0.0, 8.0, 8.0]]), "labels": torch.tensor([1, 1]),
           "scores": torch.tensor([0.9, 0.8])}
    # ranked: FP, TP -> precision 1/2 at recall 1, and 1/2 at every recall level after interpolation
    assert mask_ap([det], [gt], iou_type="bbox")["AP"] == pytest.approx(0.5)
    det["labels"] = torch.tensor([2, 1])  # the FP is now of a class without ground truth: not counted
    assert mask_ap([det], [gt], iou_type="bbox")["AP"] == pytest.approx(1.0)


def test_mask_ap_accepts_probabilities_and_names_bad_input():
    box = torch.tensor([[2.0, 2.0, 12.0, 12.0]])
    gt = {"boxes": box, "labels": torch.tensor([1]), "masks": _rect_masks(box, 16, 16).to(torch.uint8)}
    probs = _rect_masks(box, 16, 16).float()[:, None] * 0.9  # (N, 1, H, W) as Mask R-CNN returns
    det = {"labels": torch.tensor([1]), "scores": torch.tensor([0.5]), "masks": probs}
    assert mask_ap([det], [gt])["AP"] == pytest.approx(1.0)
    assert mask_ap([det], [gt])["AP_medium"] == -1.0  # no medium objects
    with pytest.raises(ValueError, match=r"predictions\[0\]: expected a dict with keys"):
        mask_ap([{"labels": torch.tensor([1])}], [gt])
    with pytest.raises(ValueError, match="one dict per image"):
        mask_ap([det, det], [gt])
    with pytest.raises(ValueError, match="iou_type"):
        mask_ap([det], [gt], iou_type="keypoints")
