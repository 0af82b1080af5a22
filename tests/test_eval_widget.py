"""EvalExplorer: numbers against independent pandas computation, 100k-case filtering time, masking and escaping,
and a browser run of the Voilà dashboard clicked through in Chromium."""
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import chromium

from llmops_nb import evals as E
from llmops_nb.i18n import fmt_pct
from llmops_nb.prompts import write_demo_prompts
from llmops_nb.widgets import evals as EW

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "templates" / "dashboards" / "eval_explorer.ipynb"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("eval_widget_ws")
    write_demo_prompts(w)
    return w, E.write_demo_evals(w)


def independent(ws, dataset, tag=None):
    "Scored runs joined by id with pandas, optionally restricted to a tag — computed without the widget."
    b = E.score_run(E.load_run(f"{dataset}-baseline", ws)).set_index("id")
    c = E.score_run(E.load_run(f"{dataset}-candidate", ws)).set_index("id")
    j = b.add_suffix("_b").join(c.add_suffix("_c"), how="inner")
    if tag: j = j[j.tags_b.map(lambda t: tag in t)]
    return j


def test_widget_numbers_match_pandas(ws):
    w, planted = ws
    app = EW.EvalExplorer(workspace=w, locale="en", baseline="support_en-baseline", candidate="support_en-candidate")
    app.metric.value, app.tag.value = "chrf", "json"
    j = independent(w, "support_en", "json")
    v = app.current
    assert v["n"] == len(j)
    assert v["pass_b"] == pytest.approx(j.passed_b.astype(float).mean()) and v["pass_c"] == pytest.approx(j.passed_c.astype(float).mean())
    s = v["summary"].set_index("metric")
    assert s.loc["chrf", "delta"] == pytest.approx((j.chrf_c - j.chrf_b).mean())
    reg = sorted(j.index[(j.passed_b == True) & (j.passed_c == False)])  # noqa: E712
    assert sorted(v["flips"].id) == reg == sorted(set(planted["support_en"]["regressed"]) & set(j.index))
    assert f'data-n="{len(j)}"' in app.headline.value
    assert app.summary.value.count("<tr data-metric=") == len(s)


def test_display_is_masked_and_escaped(ws):
    w, planted = ws
    app = EW.EvalExplorer(workspace=w, locale="ja", baseline="support_en-baseline", candidate="support_en-candidate")
    first = planted["support_en"]["regressed"][0]  # its input holds <script> and an e-mail address
    app.case.value = first
    page = app.flips.value + app.detail.value
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in page
    assert "aiko.77@example.com" not in page and "[EMAIL]" in page


def test_filter_100k_cases_under_300ms():
    b, c = EW.synthetic_runs(100_000, seed=1)
    app = EW.EvalExplorer({"b": b, "c": c}, locale="en", baseline="b", candidate="c")
    times = []
    for tag, metric, flip in [("tag01", "chrf", "all"), ("tag07", "score", "regressed"), ("", "rouge_l", "improved"),
                              ("tag13", "pass_rate", "all"), ("tag19", "latency_s", "regressed"), ("", "score", "all")]:
        app._muted = True
        app.tag.value, app.metric.value, app.flip.value = tag, metric, flip
        app._muted = False
        t0 = time.perf_counter(); app.refresh(); times.append(1000 * (time.perf_counter() - t0))
        assert app.current["n"] == (len(b) if not tag else int(app.tag_masks[tag].sum()))
    print(f"\nEvalExplorer redraw on 100k cases (ms): {[round(x) for x in times]}, median {statistics.median(times):.0f}")
    assert statistics.median(times) <= 300


def _free_port() -> int:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


@pytest.fixture(scope="module")
def voila(ws, tmp_path_factory):
    w, planted = ws
    port = _free_port()
    log = (tmp_path_factory.mktemp("voila") / "voila.log").open("w")
    env = dict(os.environ, LLMOPS_NB_WORKSPACE=str(w), LLMOPS_NB_LOCALE="en")
    voila_bin = Path(sys.executable).parent / "voila"
    proc = subprocess.Popen([str(voila_bin), str(DASHBOARD), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    try:
        for _ in range(200):
            try: socket.create_connection(("127.0.0.1", port), 0.5).close(); break
            except OSError: time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/", w, planted
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill()


@pytest.mark.browser
def test_dashboard_click_through(voila):
    url, w, planted = voila
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        external, dialogs = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.route(re.compile(r"^(?!http://127\.0\.0\.1|ws://127\.0\.0\.1|data:|blob:).*"),
                   lambda route: (external.append(route.request.url), route.abort()))  # the test runs offline
        page.goto(url, timeout=120_000)
        page.wait_for_selector(".ee-summary", timeout=180_000)
        headline = lambda: page.inner_text(".ee-headline")

        # choose the English support runs (the app opens on the newest pair)
        page.select_option(".ee-baseline select", label="support_en-baseline")
        page.select_option(".ee-candidate select", label="support_en-candidate")
        j = independent(w, "support_en")
        done = "t => { const s = document.querySelector('.ee-status'); return s && s.innerText.startsWith(t); }"  # set last
        page.wait_for_function(done, arg=f"{len(j)} cases summarised")
        page.wait_for_function("t => document.querySelector('.ee-headline').innerText.includes(t)",
                               arg=f"{fmt_pct(j.passed_b.astype(float).mean())} → {fmt_pct(j.passed_c.astype(float).mean())}")
        assert f"{len(planted['support_en']['regressed'])} pass → fail" in headline()

        # metric chrF and tag json: the numbers shown equal pandas on the json cases
        page.select_option(".ee-metric select", label="chrF (character n-grams)")
        page.select_option(".ee-tag select", label="json")
        jj = independent(w, "support_en", "json")
        page.wait_for_function(done, arg=f"{len(jj)} cases summarised")
        assert page.locator(".ee-n").get_attribute("data-n") == str(len(jj))
        row = page.locator('.ee-summary tr[data-metric="chrf"]')
        d = (jj.chrf_c - jj.chrf_b).mean()
        assert row.locator("td.d").inner_text() == EW.fmt_delta("chrf", d, "en")
        assert row.locator("td.b").inner_text() == f"{jj.chrf_b.mean():.3f}"
        pr = page.locator('.ee-summary tr[data-metric="pass_rate"]')
        assert pr.locator("td.c").inner_text() == fmt_pct(jj.passed_c.astype(float).mean())
        shown = sorted(page.eval_on_selector_all(".ee-flips tr[data-id]", "els => els.map(e => e.dataset.id)"))
        want = sorted(jj.index[(jj.passed_b.astype(bool)) != (jj.passed_c.astype(bool))])
        assert shown == want and set(shown) <= set(planted["support_en"]["regressed"])

        # only improvements: none among the json cases
        page.locator(".ee-flip button", has_text="fail → pass").click()
        page.wait_for_selector(".ee-flips-none")
        page.locator(".ee-flip button", has_text="pass → fail").click()
        page.wait_for_selector(".ee-flips tr[data-id]")

        # pick the case with <script> and an e-mail address: shown as escaped, masked text
        case = planted["support_en"]["regressed"][0]
        opt = page.eval_on_selector_all(".ee-case-select select option", "els => els.map(e => e.textContent)")
        page.select_option(".ee-case-select select", label=next(o for o in opt if o.startswith(case)))
        page.wait_for_function("id => document.querySelector('.ee-case-id') && document.querySelector('.ee-case-id').innerText == id", arg=case)
        detail = page.inner_text(".ee-detail-box")
        assert "<script>alert('hi')</script>" in detail and "[EMAIL]" in detail and "aiko.77@example.com" not in page.content()
        assert page.locator(".ee-detail-box script").count() == 0 and not dialogs  # the markup never ran

        # Japanese
        page.locator(".ee-lang button", has_text="日本語").click()
        page.wait_for_function("() => document.querySelector('.ee-summary').innerText.includes('合格率')")
        assert "合格→不合格" in page.inner_text(".ee-headline") and "ポイント" in page.inner_text(".ee-summary")
        # the only outside requests are Voilà's own template asking jsDelivr for Font Awesome icons; they were
        # blocked and the app worked without them
        assert all("fontawesome" in u or "font-awesome" in u for u in external), external
