"The operations dashboard in Voilà: Chromium changes the month and the service and the page shows figures computed independently with pandas."
import urllib.parse

import pandas as pd
import pytest
from browser import chromium


@pytest.fixture(scope="module")
def calls(demo_workspace) -> pd.DataFrame:
    files = [f for f in sorted((demo_workspace / "store").rglob("*.parquet")) if "month=" in f.as_posix()]
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return df.assign(month=df.ts_start.dt.strftime("%Y-%m"))


def expected(df: pd.DataFrame) -> dict:
    err = df.error_type.fillna("").astype(str).ne("") | df.status_code.fillna(0).astype(float).ge(400)
    return {"Calls": f"{len(df):,}", "Users": f"{df.user_id_hash.nunique():,}", "Error rate": f"{100 * err.mean():.2f}%",
            "p95 latency": f"{df.duration_s.quantile(0.95):,.2f} s"}


def test_dashboard_view_matches_pandas(demo_workspace, calls):
    from llmops_nb import logs
    from llmops_nb.config import load_settings
    from llmops_nb.views import ops as V
    s = load_settings(demo_workspace)
    with logs.connect(demo_workspace) as con:
        months, services = V.dashboard_options(con)
        assert months == sorted(calls.month.unique(), reverse=True) and services == sorted(calls.service_name.dropna().unique())
        v = V.dashboard_view(con, "2026-09", "support-bot", s, "en")
    sub = calls[(calls.month == "2026-09") & (calls.service_name == "support-bot")]
    assert {t["label"]: t["value"] for t in v["tiles"] if t["label"] in expected(sub)} == expected(sub)
    assert v["drift"].signal.tolist()[0] == "Prompt length (median input tokens)"


def _tiles(page) -> dict:
    labels = page.locator(".kpi .label").all_inner_texts()
    values = page.locator(".kpi .value").all_inner_texts()
    return dict(zip(labels, values))


@pytest.mark.browser
def test_dashboard_selectors_in_chromium(demo_workspace, calls, tmp_path):
    from llmops_nb.dashboards import serve
    external = []
    local = lambda u: urllib.parse.urlparse(u).scheme in ("data", "blob", "about") or urllib.parse.urlparse(u).hostname in ("127.0.0.1", "localhost")
    with serve("operations", workspace=demo_workspace, locale="en", log=tmp_path / "voila.log") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.route("**/*", lambda r: r.continue_() if local(r.request.url) else (external.append(r.request.url), r.abort()))
        page.goto(url, timeout=180_000)
        page.wait_for_selector(".kpi .value", timeout=180_000)
        latest = calls.month.max()
        assert page.locator("h1").first.inner_text().endswith("Operations dashboard")
        want = expected(calls[calls.month == latest])
        assert {k: v for k, v in _tiles(page).items() if k in want} == want
        selects = page.locator("select")
        selects.nth(0).select_option(label="Sep 2026")
        want = expected(calls[calls.month == "2026-09"])
        page.wait_for_function("want => document.querySelector('.kpi .value').innerText === want", arg=want["Calls"], timeout=60_000)
        assert {k: v for k, v in _tiles(page).items() if k in want} == want
        selects.nth(1).select_option(label="kb-search")
        want = expected(calls[(calls.month == "2026-09") & (calls.service_name == "kb-search")])
        page.wait_for_function("want => document.querySelector('.kpi .value').innerText === want", arg=want["Calls"], timeout=60_000)
        assert {k: v for k, v in _tiles(page).items() if k in want} == want
        body = page.inner_text("body")
        assert "KPIs against targets" in body and "Drift" in body and "Traceback" not in body
        page.screenshot(path=str(tmp_path / "operations_dashboard.png"), full_page=True)
    assert external == []
