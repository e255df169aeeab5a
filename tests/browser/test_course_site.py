"""The offline course site opened in Chromium with the network blocked: formulas typeset, pictures shown, links work.

The site is built by the main job's own command (``python -m cvlab.course --out ...``) from two quick notebooks:
00 (an explorer, no formula) and 03 (formulas and an ``interact``). Every page reachable from the index is visited;
any request that leaves ``file://`` is refused and fails the test.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cvlab.course import REPO, main
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

NOTEBOOKS = [REPO / "notebooks" / "00_tour.ipynb", REPO / "notebooks" / "03_upsampling.ipynb"]
RAW_MATH = re.compile(r"\$[^$\n]+\$")

PAGE_FACTS = """() => {
  const text = el => { const c = el.cloneNode(true); c.querySelectorAll('code, pre, script').forEach(x => x.remove());
                       return c.innerText; };
  const notes = [...document.querySelectorAll('.cvlab-widget-note')];
  return {
    markdown: [...document.querySelectorAll('.jp-RenderedMarkdown')].map(text),
    formulas: document.querySelectorAll('script[type^="math/tex"]').length,
    mathErrors: document.querySelectorAll('.MathJax_Error, .merror').length,
    images: [...document.images].map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0})),
    widgetsWithoutPicture: notes.filter(n => !n.closest('.jp-OutputArea').querySelector('img')).length,
    widgets: notes.length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  };
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert main([*map(str, NOTEBOOKS), "--out", str(out)]) == 0
    return out


@pytest.mark.timeout(1200)
def test_site_reads_offline(browser, site):
    context = browser.new_context()
    refused = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (refused.append(route.request.url), route.abort()))
    page = context.new_page()
    failed = []  # a missing local file (a font, a script) as well as a refused request
    page.on("requestfailed", lambda request: request.url.startswith("file:")
            and failed.append(f"{request.url}: {request.failure}"))
    todo, seen, facts = [site / "index.html"], set(), {}
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        if page.evaluate("typeof MathJax !== 'undefined'"):  # wait until every formula is typeset
            page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")
        facts[path.name] = page.evaluate(PAGE_FACTS)
        page.screenshot(path=SCREENSHOTS / f"site-{path.stem}.png", full_page=path.name == "index.html")
        for link in facts[path.name]["links"]:
            url = urlsplit(link)
            if url.scheme != "file":
                continue  # an external reference cannot be checked offline
            target = Path(unquote(url.path))
            assert target.is_file(), f"{path.name}: the link {link} leads nowhere"
            if target == path and url.fragment:  # the HTML rule: the fragment as written, else percent-decoded
                ids = facts[path.name]["ids"]
                assert url.fragment in ids or unquote(url.fragment) in ids, f"{path.name}: no anchor #{url.fragment}"
            elif target.suffix == ".html":
                todo.append(target)
    context.close()

    assert not refused, f"the site asked the network for {refused}"
    assert not failed, f"requests failed: {failed}"
    assert set(facts) == {"index.html", *(f"{p.stem}.html" for p in NOTEBOOKS)}
    for name, page_facts in facts.items():
        raw = [m for block in page_facts["markdown"] for m in RAW_MATH.findall(block)]
        assert not raw, f"{name}: formulas left as raw TeX: {raw[:5]}"
        assert page_facts["mathErrors"] == 0, f"{name}: MathJax reported {page_facts['mathErrors']} errors"
        broken = [i["src"] for i in page_facts["images"] if not i["ok"]]
        assert not broken, f"{name}: broken images {broken}"
        assert page_facts["widgetsWithoutPicture"] == 0, f"{name}: a widget left no static picture"
    assert facts["03_upsampling.html"]["formulas"] > 10, "03's formulas were not typeset"
    assert facts["00_tour.html"]["widgets"] >= 1 and facts["03_upsampling.html"]["widgets"] >= 1
    assert facts["00_tour.html"]["images"], "the tour shows no picture"


def test_index_lists_the_lessons_in_order_with_their_times(site):
    text = (site / "index.html").read_text()
    rows = re.findall(r'<tr><td><a href="([^"]+)">[^<]+</a></td><td class="num">([0-9.]+)</td>', text)
    assert [href for href, _ in rows] == [f"{p.stem}.html" for p in NOTEBOOKS]
    assert all(float(seconds) > 0 for _, seconds in rows)
