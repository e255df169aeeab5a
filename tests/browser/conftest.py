"""Fixtures of the browser tests: the system Chromium, driven headless by Playwright (no browser download).

The tests skip only when no Chromium exists (``apt-get install chromium``; ``CVLAB_CHROMIUM`` names another
binary); ``.ci/run`` installs it, so CI runs them. Screenshots go to the git-ignored ``build/screenshots/``.
"""

import os
import shutil

import pytest

from cvlab.course import REPO

SCREENSHOTS = REPO / "build" / "screenshots"


def chromium_path() -> str | None:
    """The Chromium binary to drive: ``$CVLAB_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH."""
    for name in (os.environ.get("CVLAB_CHROMIUM"), "chromium", "chromium-browser"):
        found = name and shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set CVLAB_CHROMIUM to its binary)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path)
        try:
            yield chromium
        finally:
            chromium.close()
