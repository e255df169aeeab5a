import numpy as np
import pytest
import torch

from cvlab._validate import (
    check_categories,
    check_choice,
    check_ignore_index,
    check_int,
    check_labels,
    check_logits_and_labels,
    check_number,
    check_panoptic,
    check_same_dtype,
    check_same_shape,
    check_tensor,
)
from cvlab.classical import adaptive_threshold, affinity_matrix, kmeans, mean_shift, normalized_cut, pixel_features
from cvlab.ops import upsample_bilinear


def test_check_tensor_accepts_and_returns():
    x = torch.zeros(2, 3)
    assert check_tensor(x, "x", ndim=2, dtype="float", finite=True) is x


@pytest.mark.parametrize(
    "value, kwargs, error, match",
    [
        ([1, 2], {}, TypeError, r"x: expected a tensor, got list"),
        (
            torch.zeros(2),
            {"ndim": (3, 4), "shape": "(B, H, W)"},
            ValueError,
            r"x: expected a tensor of shape \(B, H, W\) \(3 or 4 dimensions\), got torch.float32 of shape \(2,\)",
        ),
        (torch.zeros(2), {"dtype": "int"}, TypeError, r"x: expected an integer tensor, got torch.float32"),
        (torch.zeros(2, dtype=torch.long), {"dtype": "float"}, TypeError, "x: expected a floating tensor"),
        (torch.zeros(2), {"dtype": "bool"}, TypeError, r"x: expected a bool tensor"),
        (torch.zeros(2), {"dtype": torch.float64}, TypeError, r"expected torch.float64 tensor"),
        (torch.tensor([1.0, float("nan")]), {"finite": True}, ValueError, r"x: expected finite values, got 1 NaN/inf"),
    ],
)
def test_check_tensor_messages(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_tensor(value, "x", **kwargs)


def test_check_same_shape():
    check_same_shape(torch.zeros(2, 3), torch.ones(2, 3), "a", "b")
    with pytest.raises(ValueError, match=r"a and b: expected the same shape, got \(2, 3\) and \(3, 2\)"):
        check_same_shape(torch.zeros(2, 3), torch.zeros(3, 2), "a", "b")


def test_check_int():
    assert check_int(np.int64(3), "k") == 3
    with pytest.raises(ValueError, match="k: expected an int >= 1, got 0"):
        check_int(0, "k")
    with pytest.raises(TypeError, match="k: expected an int >= 0, got float"):
        check_int(2.0, "k", minimum=0)
    with pytest.raises(TypeError, match="got bool"):
        check_int(True, "k")


def test_check_choice():
    assert check_choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode: expected one of 'a', 'b', got 'c'"):
        check_choice("c", "mode", ("a", "b"))


def test_check_panoptic():
    x = torch.zeros(2, 3, 2, dtype=torch.long)
    assert check_panoptic(x, "p") is x
    check_panoptic(torch.zeros(4, 2, 3, 2, dtype=torch.int32), "p", batched=True)
    with pytest.raises(ValueError, match=r"p: expected a tensor of shape \(H, W, 2\)"):
        check_panoptic(torch.zeros(4, 2, 3, 2, dtype=torch.long), "p")
    with pytest.raises(ValueError, match="last dimension of size 2"):
        check_panoptic(torch.zeros(2, 3, 3, dtype=torch.long), "p")
    with pytest.raises(ValueError, match="instance ids >= 0"):
        check_panoptic(torch.tensor([[[1, -2]]]), "p")
    check_panoptic(torch.tensor([[[1, -2]]]), "p", values=False)


def test_check_categories():
    assert check_categories([3, 4], range(3), -1) == ((3, 4), (0, 1, 2))
    assert check_categories(torch.tensor([5]), (), -1) == ((5,), ())
    with pytest.raises(ValueError, match="disjoint"):
        check_categories([1, 3], [1], -1)
    with pytest.raises(ValueError, match="void id -1"):
        check_categories([-1], [1], -1)
    with pytest.raises(ValueError, match="distinct"):
        check_categories([3, 3], [1], -1)
    with pytest.raises(ValueError, match="at least one category"):
        check_categories([], [], -1)
    with pytest.raises(TypeError, match="things: expected a sequence"):
        check_categories("ab", [1], -1)


def test_check_labels_returns_the_counted_mask_and_names_the_first_bad_id():
    values = torch.tensor([0, 2, 255, 1])
    assert check_labels(values, "t", 3, 255).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match=r"t: expected class ids in \[0, 3\), got 255 \(1 value\(s\) out of range\)"):
        check_labels(values, "t", 3)


def test_check_ignore_index():
    assert check_ignore_index(None) is None and check_ignore_index(np.int64(255)) == 255
    with pytest.raises(TypeError, match="ignore_index: expected an int or None, got float"):
        check_ignore_index(255.0)


def test_check_logits_and_labels():
    check_logits_and_labels(torch.zeros(2, 3, 4, 5), torch.zeros(2, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"logits and target: expected shapes \(B, K, \.\.\.\) and \(B, \.\.\.\)"):
        check_logits_and_labels(torch.zeros(2, 3, 4, 5), torch.zeros(2, 5, 4, dtype=torch.long))


@pytest.mark.parametrize("value", [0.25, 1, np.float32(0.25), np.float64(0.25), np.int64(1), torch.tensor(0.25),
                                   torch.tensor(1), torch.tensor(0.25, dtype=torch.float64)])
def test_check_number_accepts_python_numpy_and_0d_tensor_scalars(value):
    assert check_number(value, "sigma", minimum=0, exclusive=True) == pytest.approx(float(value))
    assert isinstance(check_number(value, "sigma"), float)


@pytest.mark.parametrize(
    "value, kwargs, error, match",
    [
        (0.0, {"minimum": 0, "exclusive": True}, ValueError, r"^sigma: expected a finite number > 0, got 0.0$"),
        (torch.tensor(-1.0), {"minimum": 0}, ValueError, r"^sigma: expected a finite number >= 0, got -1.0$"),
        (2.0, {"minimum": 0, "maximum": 1}, ValueError, r"^sigma: expected a finite number >= 0 and <= 1, got 2.0"),
        (float("nan"), {}, ValueError, r"^sigma: expected a finite number, got nan"),
        (float("inf"), {"minimum": 0}, ValueError, r"^sigma: expected a finite number >= 0, got inf"),
        (True, {}, TypeError, r"^sigma: expected a finite number, got bool"),
        ("0.5", {}, TypeError, r"^sigma: expected a finite number, got str"),
        (torch.tensor([0.5]), {}, TypeError, r"^sigma: expected a finite number, got a tensor of shape \(1,\)"),
        (torch.tensor(True), {}, TypeError, r"^sigma: expected a finite number, got a tensor of shape \(\)"),
    ],
)
def test_check_number_messages(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_number(value, "sigma", **kwargs)
    assert check_number(float("inf"), "tol", minimum=0, finite=False) == float("inf")


def test_check_int_accepts_0d_integer_tensors_and_check_same_dtype_names_both():
    assert check_int(torch.tensor(3), "k") == 3
    with pytest.raises(TypeError, match="^k: expected an int >= 1, got Tensor"):
        check_int(torch.tensor(3.0), "k")
    with pytest.raises(TypeError, match=r"^features and centers: expected the same dtype, got torch.float32 and "
                                        r"torch.float64$"):
        check_same_dtype(torch.zeros(1), torch.zeros(1, dtype=torch.float64), "features", "centers")


@pytest.mark.parametrize("scalar", [np.float32, np.float64, torch.tensor])
def test_public_functions_take_numpy_and_0d_tensor_scalars(scalar):
    x = torch.rand(30, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(affinity_matrix(x, scalar(0.3)), affinity_matrix(x, 0.3))
    assert torch.equal(mean_shift(x, scalar(0.4)).labels, mean_shift(x, 0.4).labels)
    assert kmeans(x, 2, tol=scalar(0.0), n_init=1).inertia == kmeans(x, 2, tol=0.0, n_init=1).inertia
    assert normalized_cut(affinity_matrix(x, 0.3), max_ncut=scalar(0.2)).shape == (30,)
    image = torch.rand(3, 4, 5)
    torch.testing.assert_close(pixel_features(image, "rgbxy", scalar(0.5)), pixel_features(image, "rgbxy", 0.5))
    assert adaptive_threshold(image[0], 3, offset=scalar(0.1)).shape == (4, 5)
    assert upsample_bilinear(image[None], scale_factor=scalar(2.0)).shape == (1, 3, 8, 10)


def test_check_labels_one_message_for_every_module():
    from cvlab._validate import check_labels
    from cvlab.classical import kmeans_update, match_clusters
    from cvlab.metrics import confusion_matrix
    from cvlab.viz import colorize

    check_labels(torch.tensor([0, 2, 255]), "target", 3, ignore_index=255)
    message = r"^target: expected class ids in \[0, 3\) or ignore_index=255, got -1 \(1 value\(s\) out of range\)$"
    with pytest.raises(ValueError, match=message):
        check_labels(torch.tensor([0, -1, 255]), "target", 3, ignore_index=255)
    x = torch.tensor([[-1, 0]])
    for call, text in [
        (lambda: confusion_matrix(torch.zeros_like(x), x, 3), r"^target: expected class ids in \[0, 3\) or"),
        (lambda: match_clusters(torch.zeros_like(x), x, 3), r"^target: expected class ids in \[0, 3\) or"),
        (lambda: colorize(x), r"^labels: expected class ids in \[0, 256\) or ignore_index=255"),
        (lambda: kmeans_update(torch.rand(2, 2), x[0], 2, torch.rand(2, 2)),
         r"^labels: expected class ids in \[0, 2\)"),
    ]:
        with pytest.raises(ValueError, match=text):
            call()
