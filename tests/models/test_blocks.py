import pytest
import torch

from cvlab.models.blocks import conv_block, match_size


def test_match_size_crops_at_the_bottom_right_by_default():
    x = torch.arange(2 * 5 * 6.0).view(1, 2, 5, 6)
    assert torch.equal(match_size(x, (3, 4)), x[..., :3, :4])


def test_match_size_center_crops_equally():
    x = torch.arange(7 * 7.0).view(1, 1, 7, 7)
    assert torch.equal(match_size(x, (3, 5), align="center"), x[..., 2:5, 1:6])


def test_match_size_pads_by_replicating_the_last_row_and_column():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = match_size(x, (3, 3))
    assert torch.equal(out[0, 0], torch.tensor([[1.0, 2.0, 2.0], [3.0, 4.0, 4.0], [3.0, 4.0, 4.0]]))


def test_match_size_crops_one_axis_and_pads_the_other_without_touching_the_input():
    x = torch.rand(2, 3, 4, 9)
    before = x.clone()
    out = match_size(x, (6, 5))
    assert out.shape == (2, 3, 6, 5)
    assert torch.equal(out[..., :4, :], x[..., :5]) and torch.equal(out[..., 5, :], x[..., 3, :5])
    assert torch.equal(x, before)


def test_match_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        match_size(torch.zeros(1, 1, 4, 4), (4,))
    with pytest.raises(ValueError, match="align"):
        match_size(torch.zeros(1, 1, 4, 4), (4, 4), align="left")
    with pytest.raises(ValueError, match="x"):
        match_size(torch.zeros(4, 4), (4, 4))


@pytest.mark.parametrize("padding, expected", [(1, 9), (0, 5)])
def test_conv_block_keeps_or_trims_the_size(padding, expected):
    block = conv_block(3, 4, 2, padding=padding)
    assert block(torch.rand(2, 3, 9, 9)).shape == (2, 4, expected, expected)
