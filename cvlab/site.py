"""The offline course site: every executed notebook as an HTML page, and an index in course order.

``python -m cvlab.course --out build`` (``make course``) executes the notebooks and calls :func:`build_site`, which
writes ``build/index.html``, one ``build/<notebook>.html`` per lesson and ``build/_static/``. The pages need no
network: formulas are typeset by the MathJax copy that the ``jupyter_server_mathjax`` package ships (copied into
``_static/mathjax``), no script is loaded from a CDN, and every widget (a ``cvlab.widgets`` explorer or an
``ipywidgets.interact``) is replaced by the pictures it showed in its default state, taken from the widget state
that the headless run saved in the notebook. Open ``build/index.html`` in any browser; no server is needed.
"""

from __future__ import annotations

import copy
import html
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import nbformat

from cvlab.course import RunResult

__all__ = ["build_site", "headline", "lesson_title", "static_widgets"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
"""Folder holding the nbconvert template ``cvlab_site`` (it extends nbconvert's ``lab`` template)."""

MATHJAX_URL = "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
"""Where the pages load MathJax from, relative to the site's root (all pages sit at the root)."""

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

CLAIM_LINE = re.compile(r"^(?P<what>.+?): (?P<value>\S+) \(text: \S+ to \S+\) ok$", re.MULTILINE)
"""A line printed by :func:`cvlab.course.claim` for a figure inside its band."""


def _mathjax_source() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).resolve().parent / "static"


def _check_notebook(nb: object, name: str = "nb") -> nbformat.NotebookNode:
    if not isinstance(nb, nbformat.NotebookNode) or "cells" not in nb:
        raise TypeError(f"{name}: expected a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    return nb


def _claims(nb: nbformat.NotebookNode) -> Iterator[tuple[str, str]]:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                for match in CLAIM_LINE.finditer(output.get("text", "")):
                    yield match["what"], match["value"]


def headline(nb: nbformat.NotebookNode) -> str | None:
    """The headline figure of an executed notebook, as ``"what: value"``, or None when it checks no claim.

    It is the claim named by ``metadata.cvlab.headline`` when the notebook sets it, else the first
    :func:`cvlab.course.claim` the run printed (every quoted figure goes through ``claim``, so the headline is a
    measured number the text states).
    """
    nb = _check_notebook(nb)
    wanted = nb.metadata.get("cvlab", {}).get("headline")
    for what, value in _claims(nb):
        if wanted is None or what == wanted:
            return f"{what}: {value}"
    return None


def lesson_title(nb: nbformat.NotebookNode, default: str) -> str:
    """The text of the notebook's first ``# heading`` (``default`` when it has none)."""
    nb = _check_notebook(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+?)\s*$", cell.source, re.MULTILINE)
            if match:
                return match[1]
    return default


def _models(model_id: str, models: dict) -> Iterator[dict]:
    """A widget's model and every model inside it (``children`` of boxes), in display order."""
    model = models.get(model_id)
    if model is None:
        return
    yield model
    for child in model.get("state", {}).get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            yield from _models(child.removeprefix("IPY_MODEL_"), models)


def _pictures(model_id: str, models: dict) -> Iterator[nbformat.NotebookNode]:
    """The PNG outputs a widget shows: Image widgets' values and the figures drawn into Output widgets."""
    for model in _models(model_id, models):
        state = model.get("state", {})
        if model.get("model_name") == "ImageModel" and state.get("format") == "png":
            for buffer in model.get("buffers", []):
                if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64":  # nbformat's schema
                    data = {"image/png": buffer["data"], "text/plain": "<image>"}
                    yield nbformat.v4.new_output("display_data", data=data)
        for output in state.get("outputs", []):
            if "image/png" in output.get("data", {}):
                yield nbformat.from_dict(output)


def _settings(model_id: str, models: dict) -> Iterator[str]:
    """``name = value`` of every control (a widget with a description) inside a widget, in display order."""
    for model in _models(model_id, models):
        state = model.get("state", {})
        name = state.get("description")
        if name and isinstance(state.get("index"), int) and "_options_labels" in state:  # a dropdown syncs its index
            yield f"{name} = {state['_options_labels'][state['index']]}"
        elif name and "value" in state:
            yield f"{name} = {state['value']}"


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook whose widget outputs are replaced by what they showed, without the widget state.

    Each widget view becomes a note naming the controls' default settings, followed by the widget's pictures
    (PNG images and figures drawn into ``Output`` widgets, read from ``metadata.widgets``, which nbclient
    saves when it executes a notebook). A widget whose state holds no picture keeps only the note. The page then
    needs no widget renderer (which would load from a CDN). ``nb`` itself is not changed.
    """
    nb = copy.deepcopy(_check_notebook(nb))
    models = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            settings = ", ".join(_settings(view["model_id"], models))
            note = "Interactive in JupyterLab or Colab; shown here at its defaults"
            note += f" ({settings})" if settings else ""
            outputs.append(nbformat.v4.new_output("display_data", data={
                "text/html": f'<p class="cvlab-widget-note">{html.escape(note)}.</p>', "text/plain": note}))
            outputs.extend(_pictures(view["model_id"], models))
        cell.outputs = outputs
    return nb


def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="cvlab_site", extra_template_basedirs=[str(TEMPLATE_DIR)],
                        mathjax_url=MATHJAX_URL)


def _index_page(rows: Sequence[tuple[str, str, RunResult, str | None]]) -> str:
    lines = []
    for page, title, result, figure in rows:
        budget = f"{result.budget_s:.0f}" if result.budget_s is not None else "–"
        status = "error" if result.error else ("over budget" if result.over_budget else "ok")
        lines.append(
            f'<tr><td><a href="{html.escape(page)}">{html.escape(title)}</a></td>'
            f'<td class="num">{result.seconds:.1f}</td><td class="num">{budget}</td><td>{status}</td>'
            f"<td>{html.escape(figure) if figure else '–'}</td></tr>")
    total = sum(r.seconds for _, _, r, _ in rows)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>cvlab: the executed course</title>
<link rel="stylesheet" href="_static/site.css">
</head>
<body>
<main class="cvlab-index">
<h1>cvlab: dense prediction, the executed course</h1>
<p>Every lesson below was executed headless on the machine that built this site; the time is that run's wall
time against the notebook's CPU budget, and the headline figure is a measured claim of the lesson (a number its
text quotes, checked by the run). Explorers are shown at their defaults: open the notebooks in JupyterLab or
Colab to move the sliders.</p>
<table>
<thead><tr><th>lesson</th><th>time [s]</th><th>budget [s]</th><th>run</th><th>headline figure</th></tr></thead>
<tbody>
{chr(10).join(lines)}
</tbody>
<tfoot><tr><td>total</td><td class="num">{total:.1f}</td><td></td><td></td><td></td></tr></tfoot>
</table>
</main>
</body>
</html>
"""


def build_site(lessons: Sequence[tuple[nbformat.NotebookNode, RunResult]], out_dir: Path) -> Path:
    """Write the course site for executed notebooks, in the order given, and return the index page's path.

    Args:
        lessons: ``(executed notebook, its RunResult)`` pairs, as :func:`cvlab.course.execute_notebook` returns
            them, in course order.
        out_dir (Path): the site folder (created); holds ``index.html``, ``<notebook stem>.html`` and ``_static/``.

    Returns:
        Path: ``out_dir / "index.html"``.
    """
    if not isinstance(lessons, Sequence) or not lessons:
        raise ValueError(f"lessons: expected a non-empty sequence of (notebook, RunResult) pairs, got {lessons!r}")
    for i, pair in enumerate(lessons):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], RunResult)):
            raise TypeError(f"lessons[{i}]: expected a (notebook, RunResult) pair, got {type(pair).__name__}")
        _check_notebook(pair[0], f"lessons[{i}][0]")
    out_dir = Path(out_dir)
    static = out_dir / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_mathjax_source(), static / "mathjax", dirs_exist_ok=True)
    shutil.copy2(TEMPLATE_DIR / "site.css", static / "site.css")

    pages = [f"{result.path.stem}.html" for _, result in lessons]
    exporter = _exporter()
    rows = []
    for i, (nb, result) in enumerate(lessons):
        title = lesson_title(nb, result.path.stem)
        nav = {"index": "index.html",
               "previous": pages[i - 1] if i > 0 else None,
               "next": pages[i + 1] if i + 1 < len(pages) else None}
        resources = {"metadata": {"name": title}, "cvlab_nav": nav}
        body, _ = exporter.from_notebook_node(static_widgets(nb), resources=resources)
        (out_dir / pages[i]).write_text(body, encoding="utf-8")
        rows.append((pages[i], title, result, headline(nb)))
    index = out_dir / "index.html"
    index.write_text(_index_page(rows), encoding="utf-8")
    return index
