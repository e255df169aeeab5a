"""The Example blocks in the cvlab.ops docstrings run and print what they claim."""

import doctest

import pytest

from cvlab.ops import arithmetic, explain, transposed, upsampling


@pytest.mark.parametrize("module", [arithmetic, transposed, upsampling, explain], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
