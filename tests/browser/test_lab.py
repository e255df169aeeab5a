"""The course as a student meets it in JupyterLab: Run all, drag a slider, press nbgrader's Validate.

A real ``jupyter lab`` serves a temporary copy of the course on 127.0.0.1 (random free port, random token); the
system Chromium opens it headless through Playwright. Every notebook with widgets must run with no error output
and no "Error displaying widget", and moving each explorer's first slider must change the picture it shows
(before/after screenshots in ``build/screenshots/``). nbgrader's Validate button must report success on the
release with the solution's answers typed in and failure on the blank release.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from cvlab.course import REPO, budget_of, find_notebooks
from tests.browser.conftest import SCREENSHOTS
from tests.grading.a0_submissions import A0, RELEASE, RIGHT, edited

pytestmark = pytest.mark.browser


def _has_widgets(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    return any(c.cell_type == "code" and ("ipywidgets" in c.source or "cvlab.widgets" in c.source) for c in nb.cells)


WIDGET_NOTEBOOKS = [p for p in find_notebooks(REPO / "notebooks") if _has_widgets(p)]

# a JupyterLab notebook keeps every cell in the DOM (no windowing), so every output can be found and screenshot
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
                "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"}}


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _course_copy(root: Path) -> None:
    for folder in ("notebooks", "assignments"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy2(REPO / "nbgrader_config.py", root)
    nbformat.write(edited(RELEASE, replace=RIGHT), root / "assignments" / A0 / "answered.ipynb")
    for name, settings in LAB_SETTINGS.items():
        (root / ".settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / ".settings" / name).write_text(json.dumps(settings))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary copy of the course; its kernels and its process group die afterwards."""
    root = tmp_path_factory.mktemp("course")
    _course_copy(root)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("MPLBACKEND", None)  # the kernels draw inline, as for a student
    log = (root / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {server.returncode}:\n{(root / 'lab.log').read_text()}")
            try:
                lab.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer:\n{(root / 'lab.log').read_text()}") from None
                time.sleep(0.5)
        yield lab
    finally:
        try:
            for kernel in lab.api("kernels") if server.poll() is None else []:
                lab.api(f"kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(server.pid, sig)
                server.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture
def page(browser, lab):
    """A fresh browser context that can reach only the lab server."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab.url) else route.abort())
    page = context.new_page()
    yield page
    context.close()


CURRENT = "window.jupyterapp.shell.currentWidget"

KERNEL_READY = f"""() => {{
  const w = window.jupyterapp && {CURRENT};
  return !!(w && w.sessionContext && w.content && w.sessionContext.session?.kernel?.status === 'idle');
}}"""

RUN_STATE = f"""() => {{
  const w = {CURRENT}, cells = w.content.model.cells, errors = [];
  let done = true;
  for (let i = 0; i < cells.length; i++) {{
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (!cell.executionCount) done = false;
    for (let j = 0; j < cell.outputs.length; j++) {{
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error') errors.push(`cell ${{i}}: ${{out.ename}}: ${{out.evalue}}`);
    }}
  }}
  const idle = w.sessionContext.session?.kernel?.status === 'idle';
  return errors.length || (done && idle) ? {{done, errors}} : false;
}}"""


def _open(page, lab: Lab, path: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=180_000)


def _picture(output, timeout_s: float = 60) -> bytes:
    """A screenshot of the last picture an output shows, once one is drawn."""
    image = output.locator("img").last
    image.wait_for(state="visible", timeout=timeout_s * 1000)
    return image.screenshot()


def _drag(page, slider, distance: float = 60) -> None:
    """Drag a slider's handle with the mouse, towards the side with more room."""
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    box, track = handle.bounding_box(), slider.locator(".noUi-target").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx = distance if x < track["x"] + track["width"] / 2 else -distance
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=6)
    page.mouse.up()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", WIDGET_NOTEBOOKS, ids=[p.name for p in WIDGET_NOTEBOOKS])
def test_widget_notebook_runs_and_its_explorers_redraw(page, lab, path):
    _open(page, lab, f"notebooks/{path.name}")
    page.wait_for_function(KERNEL_READY, timeout=180_000, polling=500)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    limit_s = 10 * (budget_of(nbformat.read(path, as_version=4)) or 90)  # a ceiling for a loaded machine only
    state = page.wait_for_function(RUN_STATE, timeout=limit_s * 1000, polling=500).json_value()
    page.screenshot(path=SCREENSHOTS / f"{path.stem}-run-all.png")
    assert not state["errors"], f"{path.name}: error outputs after Run all: {state['errors']}"
    assert page.get_by_text("Error displaying widget").count() == 0, f"{path.name}: a widget failed to display"

    widgets = page.locator(".jp-OutputArea-output:has(.widget-slider)")
    explorers = [widgets.nth(i) for i in range(widgets.count())]
    assert explorers, f"{path.name}: no explorer with a slider was rendered"
    for i, explorer in enumerate(explorers):
        before = _picture(explorer)
        explorer.screenshot(path=SCREENSHOTS / f"{path.stem}-explorer{i}-before.png")
        _drag(page, explorer.locator(".widget-slider").first)
        deadline, after = time.monotonic() + 120, before
        while after == before and time.monotonic() < deadline:
            time.sleep(1)
            after = _picture(explorer)
        explorer.screenshot(path=SCREENSHOTS / f"{path.stem}-explorer{i}-after.png")  # controls and picture
        assert after != before, f"{path.name}: explorer {i} shows the same picture after its slider moved"
    state = page.evaluate(RUN_STATE)
    assert not (state and state["errors"]), f"{path.name}: moving a slider raised: {state['errors']}"


def _validate(page, lab: Lab, name: str) -> str:
    """Press nbgrader's Validate on ``assignments/A0/<name>``; the result dialog's outcome class."""
    _open(page, lab, f"assignments/{A0}/{name}")
    page.locator(".validate-button").first.click()
    result = page.locator(".jp-Dialog .validation-success, .jp-Dialog .validation-failed").first
    result.wait_for(timeout=900_000)
    page.screenshot(path=SCREENSHOTS / f"validate-{Path(name).stem}.png")
    return result.get_attribute("class")


@pytest.mark.timeout(1800)
def test_nbgrader_validate_passes_the_answered_release_and_fails_the_blank_one(page, lab):
    assert "validation-success" in _validate(page, lab, "answered.ipynb")
    assert "validation-failed" in _validate(page, lab, f"{A0}.ipynb")
