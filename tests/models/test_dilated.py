import pytest
import torch

from cvlab.models.dilated import CONTEXT_DILATIONS, ContextModule
from cvlab.models.receptive import receptive_field

PAPER_TABLE = [3, 5, 9, 17, 33, 65, 67, 67]  # Yu & Koltun 2016, Table 1


def test_receptive_field_table_of_the_paper_measured_from_gradients():
    module = ContextModule(2, identity_init=True)
    measured = [receptive_field(module.layers[:k], 2)[0] for k in range(1, 9)]
    assert measured == PAPER_TABLE
    formula = [1 + 2 * sum(CONTEXT_DILATIONS[:k]) for k in range(1, 8)]  # 1 + sum d (k - 1)
    assert measured[:7] == formula


def test_identity_initialisation_passes_non_negative_inputs_through():
    module = ContextModule(3).eval()
    x = torch.rand(2, 3, 20, 17)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x)


def test_default_initialisation_and_sizes():
    module = ContextModule(4, dilations=(1, 2), identity_init=False)
    assert len(module.layers) == 3
    assert module(torch.rand(1, 4, 9, 11)).shape == (1, 4, 9, 11)
    with pytest.raises(ValueError, match="dilations"):
        ContextModule(4, dilations=())
