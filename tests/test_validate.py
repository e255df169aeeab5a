import numpy as np
import pytest
import torch

from cvlab._validate import (
    check_categories,
    check_choice,
    check_class_ids,
    check_ignore_index,
    check_int,
    check_logits_and_labels,
    check_number,
    check_panoptic,
    check_same_shape,
    check_tensor,
)


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


def test_check_class_ids_returns_counted_mask_and_names_the_first_bad_id():
    values = torch.tensor([0, 2, 255, 1])
    assert check_class_ids(values, "t", 3, 255).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match=r"t: expected class ids in \[0, 3\), got 255 \(1 pixel\(s\) out of range\)"):
        check_class_ids(values, "t", 3)


def test_check_ignore_index():
    assert check_ignore_index(None) is None and check_ignore_index(np.int64(255)) == 255
    with pytest.raises(TypeError, match="ignore_index: expected an int or None, got float"):
        check_ignore_index(255.0)


def test_check_logits_and_labels():
    check_logits_and_labels(torch.zeros(2, 3, 4, 5), torch.zeros(2, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"logits and target: expected shapes \(B, K, \.\.\.\) and \(B, \.\.\.\)"):
        check_logits_and_labels(torch.zeros(2, 3, 4, 5), torch.zeros(2, 5, 4, dtype=torch.long))


@pytest.mark.parametrize(
    "value, kwargs, error, match",
    [
        ("1", {}, TypeError, "g: expected a number, got str"),
        (True, {}, TypeError, "g: expected a number, got bool"),
        (-1.0, {"minimum": 0.0}, ValueError, r"g: expected a number in \[0, inf\], got -1"),
        (0.0, {"minimum": 0.0, "open_min": True}, ValueError, r"g: expected a number in \(0, inf\], got 0"),
        (2.0, {"maximum": 1.0}, ValueError, r"g: expected a number in \[-inf, 1\], got 2"),
        (float("nan"), {}, ValueError, "g: expected a number"),
    ],
)
def test_check_number(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_number(value, "g", **kwargs)
    assert check_number(0.5, "g", minimum=0.0, maximum=1.0) == 0.5
