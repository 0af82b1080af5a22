"The audit report (ja/en) on planted logs: figures vs pandas, alerts, masked incidents, drift, sign-off; safe re-runs; the operations report's safety section."
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from browser import chromium
from test_monitor import BURST, INJECTION_ID, PERIOD, PII, RAW_VALUES, make_planted_workspace

from llmops_nb.reports import run_report

LOCALES = ("ja", "en")
JP = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


class Page(HTMLParser):
    "Text, tables (rows of cell texts, with their captions), headings, URL attributes and script count of a page."
    def __init__(self):
        super().__init__()
        self.text, self.tables, self.captions, self.headings, self.urls, self.scripts = [], [], [], [], [], 0
        self._cell = self._row = self._head = self._cap = None
    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "action", "xlink:href") and v]
        if tag == "table": self.tables.append([]); self.captions.append("")
        elif tag == "caption": self._cap = []
        elif tag == "tr" and self.tables: self._row = []; self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None: self._cell = []
        elif tag in ("h1", "h2", "h3"): self._head = []
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None: self._row.append("".join(self._cell).strip()); self._cell = None
        elif tag == "caption" and self._cap is not None: self.captions[-1] = "".join(self._cap).strip(); self._cap = None
        elif tag in ("h1", "h2", "h3") and self._head is not None: self.headings.append("".join(self._head).strip()); self._head = None
    def handle_data(self, data):
        self.text.append(data)
        for buf in (self._cell, self._head, self._cap):
            if buf is not None: buf.append(data)


def parse(path) -> Page:
    p = Page(); p.feed(Path(path).read_text(encoding="utf-8")); p.text = " ".join(p.text); return p


def table(page: Page, caption_start: str = None, first_header: str = None) -> list[list[str]]:
    for cap, tbl in zip(page.captions, page.tables):
        if (caption_start and cap.startswith(caption_start)) or (first_header and tbl and tbl[0] and tbl[0][0] == first_header): return tbl
    raise AssertionError(f"no table {caption_start or first_header!r}; captions: {page.captions}")


@pytest.fixture(scope="module")
def ws(demo_raw_workspace, tmp_path_factory):
    return make_planted_workspace(demo_raw_workspace, tmp_path_factory.mktemp("audit"))


@pytest.fixture(scope="module")
def runs(ws):
    out = ws / "reports" / "audit" / PERIOD
    return {loc: run_report("audit", out / loc, workspace=ws, period=PERIOD, locale=loc) for loc in LOCALES}


@pytest.fixture(scope="module")
def calls(ws) -> pd.DataFrame:
    files = [f for f in sorted((ws / "store").rglob("*.parquet")) if f"month={PERIOD}" in f.as_posix()]
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_volumes_and_kpis_match_pandas(runs, calls, ws):
    from llmops_nb.config import load_settings
    s = load_settings(ws)
    err = calls.error_type.fillna("").astype(str).ne("") | calls.status_code.fillna(0).astype(float).ge(400)
    p95 = calls.duration_s.quantile(0.95)
    for loc, run in runs.items():
        page = parse(run.html)
        assert f"{len(calls):,}" in page.text and f"{calls.user_id_hash.nunique():,}" in page.text
        kpi = {r[0]: r for r in table(page, first_header="KPI")[1:]}
        row = kpi["p95 レイテンシ" if loc == "ja" else "p95 latency"]
        assert row[2] == f"{p95:,.2f} s"
        assert row[3].endswith(({"ja": "達成", "en": "Pass"} if p95 <= s.p95_latency_s else {"ja": "未達", "en": "Fail"})[loc])
        er = kpi["エラー率" if loc == "ja" else "Error rate"]
        assert er[2] == f"{100 * err.mean():.2f}%"
        checks = {c["kpi"]: c for c in run.results["kpi_checks"]}
        assert checks["error_rate"]["actual"] == pytest.approx(err.mean(), rel=1e-9)
        assert checks["error_rate"]["passed"] == bool(err.mean() < s.error_rate_max)
        by_service = {r["service_name"]: r for r in run.results["by_service"]}
        assert {k: v["calls"] for k, v in by_service.items()} == calls.groupby("service_name").size().to_dict()


def test_alerts_and_incidents_are_shown_with_their_calls(runs, calls):
    for loc, run in runs.items():
        page = parse(run.html)
        alerts = table(page, {"ja": "発報したアラート", "en": "Alerts raised"}[loc])
        burst = [r for r in alerts[1:] if r[1] == "error_burst"]
        assert len(burst) == 1 and burst[0][2] == f"{BURST['day']} {BURST['hour']:02d}:00" and burst[0][3] == BURST["provider"]
        assert "plant-burst-00" in burst[0][-1]
        assert burst[0][0] == {"ja": "重大", "en": "Critical"}[loc] and alerts[1][0] == burst[0][0]  # most severe first
        pii = table(page, {"ja": "個人情報・秘密情報の露出", "en": "PII and secret leaks"}[loc])
        ids = {r[0] for r in pii[1:]}
        assert set(PII) <= ids, ids
        src = {r[0]: r[-1] for r in pii[1:]}
        line = calls.set_index("request_id").source_line
        assert src["plant-pii-email"] == f"raw/planted.jsonl:{line['plant-pii-email']}"  # link into the raw data
        html = run.html.read_text(encoding="utf-8")
        assert not any(v in html for v in RAW_VALUES)  # masked everywhere
        inj = table(page, {"ja": "プロンプトインジェクションの試み", "en": "Prompt-injection attempts"}[loc])
        assert INJECTION_ID in {r[0] for r in inj[1:]}
        assert "&lt;script&gt;" in html and page.scripts == 0
        summary = {r[0]: r for r in table(page, first_header={"ja": "インシデント", "en": "Incident"}[loc])[1:]}
        assert int(summary[{"ja": "エラーの集中発生", "en": "Error bursts"}[loc]][2]) == BURST["errors"]
        r = run.results
        assert {a["alert_id"] for a in r["alerts"]} >= {f"error_burst@{BURST['day']}T{BURST['hour']:02d}:00/{BURST['provider']}"}


def test_drift_data_quality_and_signoff(runs, ws):
    from llmops_nb import logs
    q = logs.load_quarantine(ws)
    for loc, run in runs.items():
        page = parse(run.html)
        fd = {r[0]: r for r in table(page, {"ja": "モデル「credit_risk」", "en": "Feature drift of model"}[loc])[1:]}
        assert fd["payment_delay_days"][-1].endswith({"ja": "ドリフト", "en": "Drift"}[loc])
        assert fd["region"][-1] == {"ja": "安定", "en": "Stable"}[loc]
        dq = run.results["data_quality"]
        assert dq["quarantined"] == len(q) and dq["ingested"] == dq["valid"] + dq["quarantined"]
        sign = table(page, first_header={"ja": "役割", "en": "Role"}[loc])
        assert len(sign) == 4 and all(c == "" for r in sign[1:] for c in r[1:])  # blank lines to sign
        assert page.headings[-2] == {"ja": "承認", "en": "Sign-off"}[loc]


def test_both_locales_complete_and_offline(runs):
    ja, en = parse(runs["ja"].html), parse(runs["en"].html)
    assert ja.headings[0] == "LLM 運用監査レポート" and en.headings[0] == "LLM operations audit report"
    assert len(ja.headings) == len(en.headings) and len(ja.tables) == len(en.tables)
    en_words = en.headings + en.captions + [c for tbl in en.tables for c in tbl[0]]
    assert not [w for w in en_words if JP.search(w) and "credit_risk" not in w], [w for w in en_words if JP.search(w)]
    for run in runs.values():
        page = parse(run.html)
        assert page.scripts == 0 and [u for u in page.urls if not u.startswith(("#", "data:"))] == []
        assert "import " not in page.text and "M.audit_data" not in page.text


def test_rerun_gives_identical_results_and_both_runs_are_in_the_ledger(runs, ws):
    from llmops_nb.ledger import ledger_path, verify
    run = runs["en"]
    first = (run.out_dir / "results.json").read_bytes()
    assert "generated" not in first.decode() and "_utc" not in first.decode()
    again = run_report("audit", run.out_dir, workspace=ws, period=PERIOD, locale="en")
    assert (again.out_dir / "results.json").read_bytes() == first
    entries = [json.loads(l) for l in ledger_path(ws).read_text().splitlines()]
    mine = [e for e in entries if e["manifest"]["report"] == "audit" and e["manifest"]["parameters"]["locale"] == "en"]
    assert len(mine) >= 2 and mine[-1]["manifest"]["started_utc"] > mine[-2]["manifest"]["started_utc"]
    assert hashlib.sha256(first).hexdigest() in {o["sha256"] for o in mine[-1]["manifest"]["outputs"]}
    v = verify(ledger_path(ws))
    assert v.ok, v.problems
    assert not [p for p in run.out_dir.parent.iterdir() if p.name.startswith(".en.") and p.is_dir()]  # nothing half-done left


def test_failing_run_exits_non_zero_and_keeps_the_previous_report(runs, ws, tmp_path, capsys):
    from llmops_nb.cli import main
    from llmops_nb.ledger import ledger_path
    w = tmp_path / "ws"
    shutil.copytree(ws, w, ignore=shutil.ignore_patterns("reports"))
    assert main(["report", "audit", "-w", str(w), "--period", PERIOD, "--locale", "ja"]) == 0
    out = w / "reports" / "audit" / PERIOD / "ja"
    good = {p: (out / p).read_bytes() for p in ("audit.html", "results.json", "manifest.json")}
    (w / "alerts.yaml").write_text("rules:\n  - name: broken\n    metric: latency\n    op: '>'\n    threshold: 5\n")
    capsys.readouterr()
    assert main(["report", "audit", "-w", str(w), "--period", PERIOD, "--locale", "ja"]) == 2
    err = capsys.readouterr().err
    assert "alerts.yaml:2: alert rule 'broken': metric 'latency' is unknown" in err and str(out / "failed" / "audit.ipynb") in err
    assert {p: (out / p).read_bytes() for p in good} == good  # the good report is untouched
    failed = json.loads((out / "failed" / "manifest.json").read_text())
    assert failed["status"] == "failed" and "AlertRuleError" in (out / "failed" / "audit.ipynb").read_text()
    statuses = [json.loads(l)["manifest"]["status"] for l in ledger_path(w).read_text().splitlines()]
    assert statuses == ["ok", "failed"]
    (w / "alerts.yaml").unlink()
    assert main(["report", "audit", "-w", str(w), "--period", PERIOD, "--locale", "ja"]) == 0
    assert (out / "results.json").read_bytes() == good["results.json"]
    assert (out / "failed" / "audit.ipynb").exists()  # the failure stays on record


def test_operations_report_safety_section(ws):
    from llmops_nb import logs, safety
    for loc in LOCALES:
        run = run_report("operations", ws / "reports" / "operations" / PERIOD / loc, workspace=ws, period=PERIOD, locale=loc, ledger=False)
        page = parse(run.html)
        assert {"ja": "安全性（個人情報・インジェクション）", "en": "Safety (personal data, injection)"}[loc] in page.headings
        uc = table(page, {"ja": "ユースケース別の検出", "en": "Findings by use case"}[loc])
        df = logs.load_requests(ws, PERIOD, columns=["request_id", "use_case", "output_text", "input_text"])
        flagged = safety.scan_requests(df).query("family == 'pii'").groupby("use_case").request_id.nunique()
        name = {"ja": "サポートチャットボット", "en": "Support chatbot"}[loc]
        row = {r[0]: r for r in uc[1:]}[name]
        n = (df.use_case == "support_chatbot").sum()
        assert row[1] == f"{n:,}" and row[2] == f"{flagged['support_chatbot']} ({100 * flagged['support_chatbot'] / n:.1f}%)"
        assert run.results["safety"]["pii"] >= len(PII) and run.results["safety"]["injection"] >= 1
        html = run.html.read_text(encoding="utf-8")
        assert not any(v in html for v in RAW_VALUES) and page.scripts == 0


@pytest.mark.browser
def test_audit_report_in_chromium(runs, calls, tmp_path):
    with chromium() as browser:
        for loc, run in runs.items():
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            attempted = []
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else (attempted.append(r.request.url), r.abort()))
            page.goto(run.html.as_uri())
            assert page.locator("h1").inner_text() == {"ja": "LLM 運用監査レポート", "en": "LLM operations audit report"}[loc]
            assert page.locator(".kpi .value").first.inner_text() == f"{len(calls):,}"
            assert page.get_by_text("plant-burst-00").first.is_visible()
            for tbl in page.locator("table.data").all():  # no table wider than the page
                assert tbl.bounding_box()["width"] <= 1000, tbl.inner_text()[:80]
            assert attempted == []
            page.screenshot(path=str(tmp_path / f"audit_{loc}.png"), full_page=True)
