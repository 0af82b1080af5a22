"The compliance report end to end on the demo workspace: what a reader needs is on the page, numbers agree, evidence is ledgered."
import json
import re
import shutil
from pathlib import Path

import pytest

from llmops_nb import governance as G
from llmops_nb import ledger as L
from llmops_nb.demo_governance import write_demo_governance


@pytest.fixture(scope="module")
def ws(demo_workspace, tmp_path_factory):
    from llmops_nb import maturity, prompts
    ws = tmp_path_factory.mktemp("compliance") / "ws"
    shutil.copytree(demo_workspace, ws)
    prompts.write_demo_prompts(ws); maturity.write_demo_assessments(ws); write_demo_governance(ws)
    return ws


@pytest.fixture(scope="module")
def run(ws):
    from llmops_nb.reports import run_report
    return run_report("compliance", ws / "reports" / "compliance-2026-10-en", workspace=ws, period="2026-10", locale="en")


@pytest.fixture(scope="module")
def rep(ws):
    return G.compliance_report(ws, "2026-10")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


def test_page_shows_what_a_reader_needs(run, rep):
    assert run.status == "ok"
    page = run.html.read_text(encoding="utf-8")
    text = _text(page)
    assert "AI governance compliance report" in text and "Oct 2026" in text
    n_fail = int((rep.results.status == "fail").sum())
    assert f"{n_fail} failure(s)" in text
    for heading in ("Status by system", "Coverage by framework", "Failures and their evidence", "Inconclusive — missing evidence",
                    "Waivers in force", "Attestations and waivers expired or expiring within 30 days",
                    "Change since the previous period (2026-09)", "Status by control"):
        assert heading in text, heading
    for fw in ("NIST AI RMF", "NIST AI 600-1", "ISO/IEC 42001", "EU AI Act", "METI AI Guidelines", "OWASP LLM Top 10"):
        assert fw in text
    # failures with their evidence, expired waivers said so, missing evidence named
    assert "unapproved deepseek-chat" in text and "Coding assistant" in text
    assert "waiver EXC-002 expired on 2026-09-30 and no longer counts" in text
    assert "attestation ATT-009 expired on 2026-09-30 and no longer counts" in text
    assert "EXC-001" in text and "Expiring soon" in text and "Expired (no longer counts)" in text
    # no raw personal data from the planted outputs reaches the page; the page is offline
    from llmops_nb.demo import PLANTED
    for p in PLANTED["pii"]: assert p.value not in page
    assert "<script" not in page and "http://" not in re.sub(r'href="[^"]*"', "", page).replace("http://www.w3.org", "")


def test_results_and_manifest(run, rep):
    res = run.results
    assert res["catalogue_version"] == G.catalogue_version() and res["period"] == "2026-10" and res["as_of"] == "2026-10-31"
    assert res["counts"] == rep.results.status.value_counts().reindex(list(G.STATUSES), fill_value=0).to_dict()
    assert len(res["results"]) == len(rep.results)
    inputs = {Path(e["path"]).name for e in run.manifest["inputs"]}
    assert {"PRV-01.yaml", "nist_ai_rmf.yaml", "control.schema.json", "code_assistant.yaml", "EXC-002.yaml"} <= inputs
    assert any(e["path"].endswith(".parquet") for e in run.manifest["inputs"])


def test_coverage_matrix_matches_an_independent_count(rep):
    cat = G.load_catalogue()
    worst = rep.results.groupby("control").status.agg(G.worst)
    for fw in G.FRAMEWORKS:
        ids = set(cat.mappings[fw].id)
        items = {}
        for c in cat.controls.values():
            for x in c["mappings"].get(fw, []): items.setdefault(x, []).append(worst[c["id"]])
        row = rep.coverage.set_index("framework").loc[fw]
        assert (row["items"], row["covered"]) == (len(ids), len(items))
        assert row["fail"] == sum(1 for v in items.values() if "fail" in v)
        assert row["pass"] == sum(1 for v in items.values() if set(v) <= {"pass", "not_applicable"} and "pass" in v)


def test_change_since_previous_period(rep):
    assert rep.previous == "2026-09" and rep.previous_results is not None
    chg = rep.changes.set_index(["system", "control"])
    prev = rep.previous_results.set_index(["system", "control"]).status
    cur = rep.results.set_index(["system", "control"]).status
    changed = sorted(k for k in cur.index if prev.get(k) != cur[k])
    assert sorted(chg.index) == changed
    # the LOG-01 waiver was valid in September and expired on 30 September
    assert chg.loc[("knowledge_search", "LOG-01"), ["previous", "current", "change"]].tolist() == ["excepted", "fail", "worsened"]


def test_japanese_tables(rep):
    t, h = G.display_results(rep.section("fail"), rep.systems, "ja")
    assert h["threshold"] == "基準" and h["evidence"] == "証跡"
    row = t.set_index(["system", "control"]).loc[("社内ナレッジ検索", "LOG-01")]
    assert row["value"] == "120" and row["threshold"] == "≥ 183"
    cov, _ = G.display_coverage(rep, "ja")
    assert "AI事業者ガイドライン" in set(cov.framework) and "EU AI法" in set(cov.framework)
    text, kind = G.verdict(rep, "ja")
    assert kind == "fail" and text.startswith(f"{int((rep.results.status == 'fail').sum())}件の不適合")


def test_report_run_goes_to_the_ledger(run, ws):
    path = L.ledger_path(ws)  # run_report has already appended this run's manifest
    entries = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert any(str(run.html.name) in json.dumps(e) for e in entries)
    assert L.verify(path).ok
    _html = run.html.read_bytes()
    run.html.write_bytes(_html.replace(b"Coding assistant", b"Coding assistanT", 1))
    v = L.verify(path)
    assert not v.ok and f"file changed: {run.html}" in v.first
    run.html.write_bytes(_html)
    assert L.verify(path).ok
