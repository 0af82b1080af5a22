"The CostEstimator app: update time on the demo data, and in Chromium (Voilà) moving sliders and checking the page's figures."
import html
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime, timezone
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import yaml
from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "templates" / "dashboards" / "cost_estimator.ipynb"


@pytest.fixture(scope="module")
def ws(demo_raw_workspace, tmp_path_factory):
    "The 3,000-row demo with its price book and budgets, ingested."
    from llmops_nb import cost, logs
    w = tmp_path_factory.mktemp("cost_widget") / "ws"
    shutil.copytree(demo_raw_workspace, w)
    cost.write_demo_cost(w)
    logs.ingest(sorted((w / "raw").iterdir()), w, gx=False, progress=False)
    return w


# --- an independent price for one call, from the catalogue's calc_price and the price book's YAML ------------------

def _per_call_usd(model: str, scen: dict, tier: str, book: dict) -> float:
    "USD for one call of the scenario on `model` ('provider/model') in `tier`, from the YAML file and genai_prices.calc_price."
    from genai_prices import Usage, calc_price
    prov, name = model.split("/", 1)
    on = date.fromisoformat(scen["on"])
    tin, tout, h = scen["tokens_in"], scen["tokens_out"], scen["cache_hit_rate"]
    for o in book.get("overrides", []):
        start = o.get("valid_from")
        if fnmatch(name, o["model"]) and o.get("provider", prov) == prov and (start is None or on >= date.fromisoformat(str(start))):
            usd = (tin * (1 - h) * o["input_mtok"] + tin * h * o.get("cache_read_mtok", o["input_mtok"]) + tout * o["output_mtok"]) / 1e6
            return usd * (1 - book["batch_discounts"].get(prov, 0)) if tier == "batch" else usd
    pid = {"openai": "openai", "anthropic": "anthropic", "gcp.gemini": "google"}[prov]
    ts = datetime.combine(on, datetime.min.time(), timezone.utc).replace(hour=12)
    def rates(ctx):  # USD per token of each kind, from calc_price on 100,000 tokens (below any long-context threshold)
        price = lambda **u: float(calc_price(Usage(**u), name, provider_id=pid, genai_request_timestamp=ts, price_context=ctx).total_price) / 1e5
        return price(input_tokens=100_000), price(input_tokens=100_000, cache_read_tokens=100_000), price(output_tokens=100_000)
    r_in, r_cr, r_out = rates(None)
    std = tin * (1 - h) * r_in + tin * h * r_cr + tout * r_out
    if tier == "standard": return std
    b_in, b_cr, b_out = rates({"processing": "batch"})
    if (b_in, b_cr, b_out) == (r_in, r_cr, r_out):  # no catalogue batch price that day: the book's batch discount
        return std * (1 - book["batch_discounts"].get(prov, 0))
    return tin * (1 - h) * b_in + tin * h * b_cr + tout * b_out


def _expected(scen: dict, ws: Path) -> dict:
    "Monthly cost (JPY incl. tax) and break-even of a scenario, computed independently."
    book = yaml.safe_load((ws / "pricing" / "price_book.yaml").read_text(encoding="utf-8"))
    on = date.fromisoformat(scen["on"])
    fx = [r["usd_jpy"] for r in sorted(book["fx_rates"], key=lambda r: str(r["date"])) if date.fromisoformat(str(r["date"])) <= on][-1]
    calls = scen["users"] * scen["adoption"] * scen["requests_per_user_per_day"] * scen["working_days"]
    mix = scen["model_mix"]
    total = sum(mix.values())
    b = scen["batch_share"]
    usd = sum(calls * s / total * ((1 - b) * _per_call_usd(m, scen, "standard", book) + b * _per_call_usd(m, scen, "batch", book))
              for m, s in mix.items())
    mtok = calls * (scen["tokens_in"] + scen["tokens_out"]) / 1e6
    return dict(jpy=usd * fx * 1.10, usd=usd, mtok=mtok, api=usd / mtok, fx=fx)


def _change_every_control(ws):
    "A cost estimator on `ws` after ten control changes; returns the app and each update's milliseconds."
    from llmops_nb.widgets.cost import CostEstimator
    app = CostEstimator.from_workspace(ws, locale="en")
    app.ui
    c = app.controls
    times = []
    for k, v in [("users", 2_000), ("tokens_in", 4_000), ("cache", .5), ("batch", .3), ("share_a", .8), ("model_b", "openai/gpt-4o"),
                 ("utilisation", .9), ("tps", 5_000), ("locale", "ja"), ("requests", 3.0)]:
        c[k].value = v
        times.append(app.last_ms)
    return app, times


def test_every_control_change_updates_the_estimate(ws):
    app, _ = _change_every_control(ws)
    exp = _expected(json.loads(html.unescape(app.summary.value.split('data-scenario="')[1].split('"')[0])), ws)
    assert app.last_estimate["amount"]["base"] == pytest.approx(exp["jpy"], rel=1e-9)


@pytest.mark.bench
def test_update_is_fast_on_demo_data(ws):
    "Wall-clock target (bench only: flaky on a loaded 2-core machine): an update after a change takes ≤ 100 ms (median)."
    _, times = _change_every_control(ws)
    print(f"\nupdate after a change: median {np.median(times):.1f} ms, max {max(times):.1f} ms")
    assert np.median(times) <= 100


@pytest.fixture(scope="module")
def voila(ws):
    "Voilà serving the cost estimator for the demo workspace, in English."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    env = dict(os.environ, LLMOPS_NB_WORKSPACE=str(ws), LLMOPS_NB_LOCALE="en")
    log = open(ws / "voila.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "voila"), str(DASHBOARD), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1", "--show_tracebacks=True"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ws)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(120):
        try: urllib.request.urlopen(url + "api", timeout=2); break
        except Exception: time.sleep(0.5)
    yield url
    proc.terminate()
    try: proc.wait(10)
    except subprocess.TimeoutExpired: proc.kill()
    log.close()


def _scenario(page) -> dict:
    return json.loads(page.locator(".ce-summary").get_attribute("data-scenario"))


def _settle(page, timeout=30.0) -> dict:
    "Wait until the scenario the page shows stops changing (each key press is one update), and return it."
    last, stable_since, t0 = None, time.time(), time.time()
    while time.time() - t0 < timeout:
        s = page.locator(".ce-summary").get_attribute("data-scenario")
        if s != last: last, stable_since = s, time.time()
        elif time.time() - stable_since > 1.5: return json.loads(s)
        time.sleep(0.2)
    return json.loads(last)


def _slider(page, label: str):
    return page.locator(".cost-estimator .widget-slider", has_text=label).locator(".noUi-handle")


@pytest.mark.browser
def test_sliders_update_the_figures(voila, ws):
    from llmops_nb.i18n import fmt_money
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        page.goto(voila, timeout=120_000)
        page.wait_for_selector(".ce-monthly", timeout=180_000)
        be0 = float(page.locator(".ce-breakeven").get_attribute("data-value"))
        assert math.isnan(be0)  # the demo's L4 set-up costs more per token than these API calls: it never pays
        # 1. the starting figures equal an independent computation of the scenario the page states
        s0 = _settle(page)  # the browser may snap a slider to its step once, which is one more update
        e0 = _expected(s0, ws)
        v0 = float(page.locator(".ce-monthly").get_attribute("data-value"))
        assert v0 == pytest.approx(e0["jpy"], rel=1e-9)
        assert page.locator(".ce-exact").inner_text() == fmt_money(e0["jpy"], "JPY")
        # 2. move the People slider with the keyboard: five steps to the right
        _slider(page, "People").focus()
        for _ in range(5): page.keyboard.press("ArrowRight")
        s1 = _settle(page)
        assert s1["users"] > s0["users"]
        e1 = _expected(s1, ws)
        v1 = float(page.locator(".ce-monthly").get_attribute("data-value"))
        assert v1 == pytest.approx(e1["jpy"], rel=1e-9)
        assert v1 / v0 == pytest.approx(s1["users"] / s0["users"], rel=1e-9)  # cost is proportional to the people
        assert page.locator(".ce-exact").inner_text() == fmt_money(e1["jpy"], "JPY")
        vol = page.locator(".ce-volume")
        assert float(vol.get_attribute("data-mtok")) == pytest.approx(e1["mtok"], rel=1e-9)
        # 3. push self-hosting to its most efficient set-up: a break-even appears and equals monthly cost ÷ API price
        for label in ("Tokens / second", "Utilisation"):
            _slider(page, label).focus(); page.keyboard.press("End")
            time.sleep(1.0)
        _settle(page)
        be = float(page.locator(".ce-breakeven").get_attribute("data-value"))
        tps, util = 20_000, 1.0
        cap = tps * 3600 * 730 * util / 1e6
        want = 0.85 * 2 * 730 / e1["api"]
        assert want <= cap  # at 20,000 tokens/s and 100 % one deployment can carry the break-even volume
        assert be == pytest.approx(want, rel=1e-9)
        assert "self-hosting pays from" in page.locator(".ce-breakeven").inner_text()
        # 4. the page reports how long the last update took (the 100 ms budget is checked by `make bench`)
        assert float(page.locator(".ce-timing").inner_text().split("updated in ")[1].split(" ms")[0]) >= 0
        # 5. Japanese
        page.locator(".cost-estimator button", has_text="日本語").click()
        page.wait_for_function("() => document.querySelector('.ce-summary')?.innerText.includes('月額費用')", timeout=30_000)
        assert "損益分岐点" in page.locator(".ce-breakeven").inner_text()
        slider = page.locator(".cost-estimator .widget-slider", has_text="対象人数")
        slider.first.wait_for(timeout=30_000)  # the labels are re-rendered after the summary: wait, do not sample
        assert slider.count() == 1
