"""cvlab.site: static pictures for widgets, headline figures, and a site that loads nothing from the network.

The pages are opened in Chromium by tests/browser/test_site.py; here they are built from a small notebook that
holds an explorer, an ``interact`` and claims, executed by the same nbclient run the course uses.
"""

import base64
import io
import re

import nbformat
import pytest
from PIL import Image

from cvlab.course import RunResult, claim, execute_notebook
from cvlab.site import CLAIM_LINE, build_site, headline, lesson_title, static_widgets

CELLS = [
    ("markdown", "Intro text.\n\n# 42 · A small lesson\n\nWith $x^2$ inline."),
    ("code", "import matplotlib.pyplot as plt\nfrom cvlab.course import claim\n"
             "from cvlab.widgets import slider_explorer\n"
             "claim('first figure', 0.5, 0.0, 1.0)\nclaim('second figure', 2, 1, 3)"),
    ("code", "def draw(n=3, mode='b'):\n    fig, ax = plt.subplots(figsize=(2, 2))\n    ax.plot(range(n))\n"
             "    return fig\n\nslider_explorer(draw, n=(1, 10), mode=['a', 'b'])"),
    ("code", "from ipywidgets import IntSlider, interact\n\n@interact(k=IntSlider(2, 1, 5))\ndef f(k):\n"
             "    plt.plot(range(k))\n    plt.show()"),
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    path = tmp_path_factory.mktemp("lesson") / "42_small.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"cvlab": {"budget_s": 60}})
    nb.cells = [getattr(nbformat.v4, f"new_{kind}_cell")(source) for kind, source in CELLS]
    nbformat.write(nb, path)
    nb, result = execute_notebook(path, timeout_s=120)
    assert result.error is None, result.error
    return nb, result


def _pngs(cell):
    return [Image.open(io.BytesIO(base64.b64decode(o.data["image/png"])))
            for o in cell.outputs if "image/png" in o.get("data", {})]


def test_static_widgets_replaces_every_widget_by_its_default_pictures(executed):
    nb, _ = executed
    before = nbformat.writes(nb)
    static = static_widgets(nb)
    assert nbformat.writes(nb) == before  # the input is not changed
    assert "widgets" not in static.metadata
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for c in static.cells if c.cell_type == "code" for o in c.outputs)
    explorer, interactive = static.cells[2], static.cells[3]
    assert "shown here at its defaults (n = 3, mode = b)" in explorer.outputs[0].data["text/plain"]
    assert "(k = 2)" in interactive.outputs[0].data["text/plain"]
    for cell in (explorer, interactive):
        pictures = _pngs(cell)
        assert len(pictures) == 1 and min(pictures[0].size) > 50


def test_claim_lines_are_what_claim_prints(capsys):
    claim("U-Net: mIoU at 1/4", 0.831, 0.8, 0.9)
    match = CLAIM_LINE.search(capsys.readouterr().out)
    assert (match["what"], match["value"]) == ("U-Net: mIoU at 1/4", "0.831")


def test_headline_is_the_first_claim_or_the_one_the_metadata_names(executed):
    nb, _ = executed
    assert headline(nb) == "first figure: 0.500"
    named = nbformat.from_dict({**nb, "metadata": {**nb.metadata, "cvlab": {"headline": "second figure"}}})
    assert headline(named) == "second figure: 2.000"
    assert headline(nbformat.v4.new_notebook()) is None
    with pytest.raises(TypeError, match="nb: expected a notebook"):
        headline({"cells": []})


def test_lesson_title_is_the_first_heading(executed):
    assert lesson_title(executed[0], "x") == "42 · A small lesson"
    assert lesson_title(nbformat.v4.new_notebook(), "fallback") == "fallback"


def test_build_site_writes_an_index_pages_and_local_mathjax(executed, tmp_path):
    nb, result = executed
    other = RunResult(result.path.with_name("43_more.ipynb"), 1.25, 90.0, error="boom")
    index = build_site([(nb, result), (nb, other)], tmp_path / "site")
    text = index.read_text()
    assert text.index("42_small.html") < text.index("43_more.html")
    assert f"<td class=\"num\">{result.seconds:.1f}</td>" in text and "first figure: 0.500" in text
    assert "<td>error</td>" in text
    page = (tmp_path / "site" / "42_small.html").read_text()
    assert (tmp_path / "site" / "_static" / "mathjax" / "MathJax.js").is_file()
    assert 'src="_static/mathjax/MathJax.js' in page and 'href="43_more.html"' in page
    loaded = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', page)
    assert loaded and not [url for url in loaded if re.match(r"https?:|//", url)], loaded


def test_build_site_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="lessons: expected a non-empty"):
        build_site([], tmp_path)
    with pytest.raises(TypeError, match=r"lessons\[0\]: expected a \(notebook, RunResult\) pair"):
        build_site([("nb", None)], tmp_path)
