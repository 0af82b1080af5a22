"The operations overview rendered end to end on the small demo workspace, checked against figures recomputed with pandas."
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from browser import chromium

from llmops_nb.reports import run_report

LOCALES = ("ja", "en")


class Page(HTMLParser):
    "Text of the page, its tables (rows of cell texts), headings, URL attributes and script count."
    def __init__(self):
        super().__init__()
        self.text, self.tables, self.headings, self.urls, self.scripts = [], [], [], [], 0
        self._cell = self._row = self._head = None
    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "action", "xlink:href") and v]
        if tag == "table": self.tables.append([])
        elif tag == "tr" and self.tables: self._row = []; self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None: self._cell = []
        elif tag in ("h1", "h2", "h3"): self._head = []
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None: self._row.append("".join(self._cell).strip()); self._cell = None
        elif tag in ("h1", "h2", "h3") and self._head is not None: self.headings.append("".join(self._head).strip()); self._head = None
    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None: self._cell.append(data)
        if self._head is not None: self._head.append(data)


def parse(html: str) -> Page:
    p = Page(); p.feed(html); p.text = " ".join(p.text); return p


@pytest.fixture(scope="module")
def runs(demo_workspace, tmp_path_factory):
    out = tmp_path_factory.mktemp("operations")
    return {loc: run_report("operations", out / loc, workspace=demo_workspace, locale=loc) for loc in LOCALES}


@pytest.fixture(scope="module")
def calls(demo_workspace) -> pd.DataFrame:
    "The valid calls, read straight from the Parquet store with pandas (no DuckDB, no llmops_nb.monitor)."
    files = sorted((demo_workspace / "store").rglob("*.parquet"))
    req = [f for f in files if "month=" in f.as_posix()]
    assert req, files
    return pd.concat([pd.read_parquet(f) for f in req], ignore_index=True)


def expected(df: pd.DataFrame) -> dict:
    "Headline figures computed independently with pandas."
    err = df.error_type.fillna("").astype(str).ne("") | df.status_code.fillna(0).astype(float).ge(400)
    st = df.status_code.astype("Float64")
    unavailable = st.ge(500).fillna(False) | st.isin([408, 429]).fillna(False) | (st.isna() & err)
    return dict(calls=len(df), users=df.user_id_hash.nunique(), error_rate=err.mean(), availability=1 - unavailable.mean(),
                p95=df.duration_s.dropna().quantile(0.95), p50=df.duration_s.dropna().quantile(0.5))


def test_headline_figures_match_pandas(runs, calls):
    e = expected(calls)
    for loc, run in runs.items():
        page = parse(run.html.read_text(encoding="utf-8"))
        for figure in (f"{e['calls']:,}", f"{e['users']:,}", f"{100 * e['error_rate']:.2f}%", f"{e['p95']:,.2f} s",
                       f"{100 * e['availability']:.2f}%"):
            assert figure in page.text, (loc, figure)
        s = run.results["summary"]
        assert (s["calls"], s["users"]) == (e["calls"], e["users"])
        assert s["p95_s"] == pytest.approx(e["p95"]) and s["p50_s"] == pytest.approx(e["p50"])
        assert s["error_rate"] == pytest.approx(e["error_rate"])


def rows_of(page: Page, first_header: str) -> dict:
    "First-column text → row cells, for the table whose first header is `first_header`."
    for tbl in page.tables:
        if tbl and tbl[0] and tbl[0][0] == first_header: return {r[0]: r for r in tbl[1:]}
    raise AssertionError(f"no table headed {first_header!r}; tables: {[t[0] for t in page.tables if t]}")


def test_breakdowns_match_pandas(runs, calls):
    names = {"ja": {"contract_review": "契約書レビュー", "support_chatbot": "サポートチャットボット", "legal": "法務"},
             "en": {"contract_review": "Contract review", "support_chatbot": "Support chatbot", "legal": "Legal"}}
    heads = {"ja": ("ユースケース", "モデル", "部門"), "en": ("Use case", "Model", "Department")}
    by_uc, by_model, by_dept = (calls.groupby(c).size() for c in ("use_case", "request_model", "department"))
    p95_uc = calls.groupby("use_case").duration_s.quantile(0.95)
    for loc, run in runs.items():
        page = parse(run.html.read_text(encoding="utf-8"))
        uc, model, dept = (rows_of(page, h) for h in heads[loc])
        for code in ("contract_review", "support_chatbot"):
            row = uc[names[loc][code]]
            assert row[1] == f"{by_uc[code]:,}" and row[2] == f"{100 * by_uc[code] / len(calls):.1f}%"
            assert f"{p95_uc[code]:,.2f} s" in row
        assert {k: int(v[1].replace(",", "")) for k, v in model.items()} == by_model.to_dict()
        assert dept[names[loc]["legal"]][1] == f"{by_dept['legal']:,}"


def test_kpis_against_targets(runs, calls, demo_workspace):
    from llmops_nb.config import load_settings
    s, e = load_settings(demo_workspace), expected(calls)
    want = {"p95_latency": e["p95"] <= s.p95_latency_s, "availability": e["availability"] >= s.availability_min,
            "error_rate": e["error_rate"] < s.error_rate_max}
    for loc, run in runs.items():
        got = {k["kpi"]: k["passed"] for k in run.results["kpis"]}
        assert {k: got[k] for k in want} == want
        page = parse(run.html.read_text(encoding="utf-8"))
        kpi = rows_of(page, "KPI")
        p95_row = kpi["p95 レイテンシ" if loc == "ja" else "p95 latency"]
        assert p95_row[2] == f"{e['p95']:,.2f} s"
        assert p95_row[3].endswith(({"ja": "達成", "en": "Pass"} if want["p95_latency"] else {"ja": "未達", "en": "Fail"})[loc])


def test_data_quality_accounts_for_every_row(runs, calls, demo_workspace):
    from llmops_nb import logs
    from llmops_nb.demo import PLANTED
    from llmops_nb.i18n import t
    quarantined = len(logs.load_quarantine(demo_workspace))
    assert quarantined == len(PLANTED["malformed"])  # every planted bad line, and nothing else
    for loc, run in runs.items():
        dq = run.results["data_quality"]
        assert (dq["valid"], dq["quarantined"], dq["ingested"]) == (len(calls), quarantined, len(calls) + quarantined)
        page = parse(run.html.read_text(encoding="utf-8"))
        assert f"{len(calls) + quarantined:,}" in page.text and f"{quarantined:,}" in page.text
        # every rule that quarantined rows, in the reader's words (logs' labels), with its count
        reasons = rows_of(page, {"ja": "隔離の理由", "en": "Quarantine reason"}[loc])
        q = logs.load_quarantine(demo_workspace)
        want = {t(f"logs.rule.{rule}", loc): f"{n:,}" for rule, n in q.rule.value_counts().items()}
        assert {k: v[1] for k, v in reasons.items()} == want


def test_both_locales_complete(runs):
    ja, en = (parse(runs[loc].html.read_text(encoding="utf-8")) for loc in LOCALES)
    assert ja.headings[0] == "LLM 運用概況" and en.headings[0] == "LLM operations overview"
    assert "ユースケース別" in ja.headings and "By use case" in en.headings
    assert len(ja.headings) == len(en.headings)
    jp = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    # every heading and every table header of the English page is English
    en_words = en.headings + [c for tbl in en.tables for c in tbl[0]]
    assert not [w for w in en_words if jp.search(w)], [w for w in en_words if jp.search(w)]
    assert all(jp.search(h) for h in ja.headings if h not in ("KPI",))
    assert '<html lang="ja">' in runs["ja"].html.read_text() and '<html lang="en">' in runs["en"].html.read_text()


def test_offline_no_scripts_and_escaped(runs):
    for run in runs.values():
        html = run.html.read_text(encoding="utf-8")
        page = parse(html)
        assert page.scripts == 0
        assert [u for u in page.urls if not u.startswith(("#", "data:"))] == []
        assert html.count("<svg") >= 9  # every chart inlined
        assert "import " not in page.text and "R.show_" not in page.text  # code hidden


def test_manifest_hashes_match(runs, demo_workspace):
    for run in runs.values():
        m = json.loads(run.manifest_path.read_text())
        assert m["status"] == "ok" and m["report"] == "operations"
        assert m["parameters"]["workspace"] == str(Path(demo_workspace).resolve())
        for o in m["outputs"]:
            assert hashlib.sha256((run.out_dir / o["path"]).read_bytes()).hexdigest() == o["sha256"]
        inputs = [Path(i["path"]) for i in m["inputs"]]
        assert any(p.name == "settings.ini" for p in inputs)
        assert sum(p.suffix == ".parquet" for p in inputs) >= 3  # the store's month partitions
        for i in m["inputs"]:
            assert hashlib.sha256(Path(i["path"]).read_bytes()).hexdigest() == i["sha256"]


@pytest.mark.browser
def test_report_in_chromium_offline(runs, calls, tmp_path):
    e = expected(calls)
    with chromium() as browser:
        for loc, run in runs.items():
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            attempted = []
            def route(r):
                if r.request.url.startswith("file:"): return r.continue_()
                attempted.append(r.request.url); return r.abort()
            page.route("**/*", route)
            page.goto(run.html.as_uri())
            charts = page.locator("figure.chart svg")
            assert charts.count() >= 9
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 80
            tiles = page.locator(".kpi .value")
            assert tiles.first.is_visible() and tiles.first.inner_text() == f"{e['calls']:,}"
            assert page.get_by_text(f"{e['p95']:,.2f} s").first.is_visible()
            title = {"ja": "LLM 運用概況", "en": "LLM operations overview"}[loc]
            assert page.locator("h1").inner_text() == title
            assert attempted == []
            page.screenshot(path=str(tmp_path / f"operations_{loc}.png"), full_page=True)
