"""match_clusters / clustering_miou: against brute-force matching, scikit-learn and cvlab.metrics."""

import itertools

import pytest
import torch
from sklearn.metrics import jaccard_score

from cvlab.classical import clustering_miou, match_clusters
from cvlab.metrics import confusion_matrix, mean_iou


def _random_case(seed, clusters, classes, n=500):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(classes, (n,), generator=g)
    pred = (target * 7 + 3) % clusters  # a scrambled but informative clustering
    noise = torch.rand(n, generator=g) < 0.3
    pred[noise] = torch.randint(clusters, (int(noise.sum()),), generator=g)
    return pred, target


@pytest.mark.parametrize("seed", range(3))
def test_matching_maximises_agreement_like_brute_force(seed):
    pred, target = _random_case(seed, clusters=4, classes=4)
    matched = match_clusters(pred, target, 4)
    best = max(int((torch.tensor(perm)[pred] == target).sum()) for perm in itertools.permutations(range(4)))
    assert int((matched == target).sum()) == best


def test_miou_agrees_with_sklearn_and_cvlab_metrics_when_every_cluster_is_matched():
    pred, target = _random_case(0, clusters=5, classes=5)
    target = target.view(20, 25)
    pred = pred.view(20, 25)
    target[0, :5] = 255  # ignored pixels
    matched = match_clusters(pred, target, 5)
    keep = target != 255
    expected = jaccard_score(target[keep].numpy(), matched[keep].numpy(), average="macro")
    assert clustering_miou(pred, target, 5) == pytest.approx(expected)
    by_metrics = float(mean_iou(confusion_matrix(matched, target, 5)))
    assert clustering_miou(pred, target, 5) == pytest.approx(by_metrics)


def test_surplus_clusters_are_unmatched_and_count_as_errors():
    target = torch.tensor([0, 0, 0, 1, 1, 1])
    pred = torch.tensor([4, 4, 9, 2, 2, 2])  # cluster 9 is a third cluster for two classes
    assert match_clusters(pred, target, 2).tolist() == [0, 0, -1, 1, 1, 1]
    assert clustering_miou(pred, target, 2) == pytest.approx((2 / 3 + 1) / 2)
    one_cluster = torch.zeros(6, dtype=torch.long)
    assert clustering_miou(one_cluster, target, 2) == pytest.approx(0.5 / 2)


def test_classes_absent_from_the_target_take_no_cluster_and_no_part_in_the_mean():
    target = torch.tensor([0, 0, 1, 1, 1])  # classes 2 and 3 of 4 are absent from this image
    pred = torch.tensor([0, 0, 1, 1, 2])  # a surplus cluster 2
    matched = match_clusters(pred, target, 4)
    assert matched.tolist() == [0, 0, 1, 1, -1]  # not matched to an absent class
    assert clustering_miou(pred, target, 4) == pytest.approx((1 + 2 / 3) / 2)  # over the 2 classes present
    expected = jaccard_score(target.numpy(), matched.numpy(), labels=[0, 1], average="macro")
    assert clustering_miou(pred, target, 4) == pytest.approx(expected)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda p, t: match_clusters(p.float(), t, 3), TypeError, "pred"),
        (lambda p, t: match_clusters(p, t[:-1], 3), ValueError, "pred and target"),
        (lambda p, t: match_clusters(p - 1, t, 3), ValueError, "pred"),
        (lambda p, t: match_clusters(p, t, 2), ValueError, "target"),
        (lambda p, t: match_clusters(p, t, 0), ValueError, "num_classes"),
        (lambda p, t: clustering_miou(p, torch.full_like(t, 255), 3), ValueError, "ignore_index"),
    ],
)
def test_bad_input_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 2, 2]))
