"""cvlab.course.claim: a prose figure outside its band fails the notebook."""

import pytest

from cvlab.course import ClaimError, claim


def test_claim_inside_band_prints_and_returns(capsys):
    assert claim("mIoU", 0.5, 0.4, 0.6) == 0.5
    assert "mIoU: 0.500 (text: 0.400 to 0.600) ok" in capsys.readouterr().out


def test_claim_outside_band_raises():
    with pytest.raises(ClaimError, match="text says"):
        claim("mIoU", 0.7, 0.4, 0.6)


def test_claim_rejects_inverted_band():
    with pytest.raises(ValueError, match="low <= high"):
        claim("mIoU", 0.5, 0.6, 0.4)


def test_one_place_names_the_student_repository():
    from cvlab.course import SETUP_CELL, STUDENT_REPO, STUDENT_REPO_URL, colab_url

    assert f"git+{STUDENT_REPO_URL}.git" in SETUP_CELL
    assert colab_url("notebooks/00_tour.ipynb") == (
        f"https://colab.research.google.com/github/{STUDENT_REPO}/blob/main/notebooks/00_tour.ipynb")
