"""float16 / bfloat16 features: computed in float32, returned in the input's dtype; mixed dtypes named."""

import pytest
import torch

from cvlab.classical import (
    affinity_matrix,
    kmeans,
    kmeans_assign,
    kmeans_update,
    mean_shift,
    mean_shift_step,
    pixel_positions,
)


@pytest.fixture
def points():
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(60, 3, generator=g) * 0.05, torch.randn(60, 3, generator=g) * 0.05 + 1])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_clustering_low_precision_features_agree_with_float32(points, dtype):
    low = points.to(dtype)
    ours, ref = kmeans(low, 2, seed=0), kmeans(low.float(), 2, seed=0)
    assert ours.centers.dtype == dtype and torch.equal(ours.labels, ref.labels)
    shifted, ref_shift = mean_shift(low, 0.3), mean_shift(low.float(), 0.3)
    assert shifted.modes.dtype == dtype and torch.equal(shifted.labels, ref_shift.labels)
    assert kmeans_assign(low, low[:2]).tolist() == kmeans_assign(low.float(), low[:2].float()).tolist()
    assert kmeans_update(low, ref.labels, 2, low[:2]).dtype == dtype
    assert mean_shift_step(low[:4], low, 0.3).dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_affinity_low_precision_features(points, dtype):
    low = points.to(dtype)
    W = affinity_matrix(low, 0.5)
    assert W.dtype == dtype
    torch.testing.assert_close(W.float(), affinity_matrix(low.float(), 0.5), atol=1e-2, rtol=1e-2)
    sparse = affinity_matrix(low[:12], 0.5, radius=1.5, positions=pixel_positions(3, 4).to(dtype))
    assert sparse.dtype == dtype and sparse.is_sparse


@pytest.mark.parametrize(
    "call, names",
    [
        (lambda x: kmeans_assign(x, x[:2].double()), "features and centers"),
        (lambda x: kmeans_update(x, torch.zeros(len(x), dtype=torch.long), 2, x[:2].double()),
         "features and old_centers"),
        (lambda x: mean_shift_step(x[:2].double(), x, 0.3), "points and features"),
    ],
)
def test_mixed_dtypes_are_named(points, call, names):
    with pytest.raises(TypeError, match=f"^{names}: expected the same dtype, got torch.float32 and torch.float64|"
                                        f"^{names}: expected the same dtype, got torch.float64 and torch.float32"):
        call(points)
