"Every Voilà dashboard, served with llmops-nb's offline template, renders its app in Chromium and asks nothing of the internet."
import urllib.parse

import pytest
from browser import chromium

from llmops_nb.dashboards import list_dashboards, serve


def _is_local(url: str) -> bool:
    u = urllib.parse.urlparse(url)
    return u.scheme in ("data", "blob", "about") or u.hostname in ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def browser():
    with chromium() as b: yield b


@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(list_dashboards()))
def test_dashboard_renders_offline(name, demo_workspace, browser, tmp_path):
    external, errors = [], []
    with serve(name, workspace=demo_workspace, locale="en", log=tmp_path / "voila.log") as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: None if _is_local(r.url) else external.append(r.url))
        page.route("**/*", lambda r: r.continue_() if _is_local(r.request.url) else r.abort())
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, timeout=180_000)
        # the app is on the page once ipywidgets have drawn their views
        page.wait_for_selector(".jupyter-widgets, .widget-box, .lm-Widget.jupyter-widgets", timeout=180_000)
        page.wait_for_timeout(1500)
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / f"{name}.png"))
        page.close()
    assert external == [], f"{name} dashboard asked the internet for: {external}"
    assert "Traceback" not in text and "Error" not in text.split("\n")[0], text[:500]
    assert len(text.strip()) > 200, f"{name} dashboard shows almost nothing: {text[:300]!r}"
