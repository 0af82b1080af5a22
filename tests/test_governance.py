"Governance: the catalogue check (CI), planted violations → exactly the right controls fail, missing evidence, waivers."
import shutil
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from llmops_nb import governance as G
from llmops_nb.cli.compliance import cli_compliance
from llmops_nb.demo_governance import write_demo_governance
from llmops_nb.schema import conform

CAT_DIR = G.catalogue_dir()


@pytest.fixture(scope="module")
def cat():
    return G.load_catalogue()


# ---------------------------------------------------------------- the catalogue check (what CI runs)

def test_catalogue_is_valid_and_big_enough(cat):
    assert G.check_catalogue().empty, G.check_catalogue().to_string()
    auto = [c for c in cat.controls.values() if c["check"]["type"] != "manual"]
    assert len(cat.controls) >= 30 and len(auto) >= 15
    assert {c["check"]["type"] for c in auto} == {"logs", "evals", "config"}
    # every mapped id is in its framework's reference list, and every framework is used
    ref = {fw: set(df["id"]) for fw, df in cat.mappings.items()}
    used = {fw: set() for fw in G.FRAMEWORKS}
    for c in cat.controls.values():
        for fw, ids in c["mappings"].items():
            assert set(ids) <= ref[fw], (c["id"], fw, set(ids) - ref[fw])
            used[fw] |= set(ids)
    assert all(used[fw] for fw in G.FRAMEWORKS)
    # every policy is enforced by at least one control, and each control's policy exists in both languages
    assert {c["policy"] for c in cat.controls.values()} == set(G.POLICIES)
    assert all(G.policy_path(p, loc).exists() for p in G.POLICIES for loc in ("ja", "en"))
    assert len(cat.mappings["iso_42001"]) == 38 and len(cat.mappings["owasp_llm"]) == 10 and len(cat.mappings["meti"]) == 10


def _copy_catalogue(tmp_path) -> Path:
    dst = tmp_path / "governance"
    shutil.copytree(CAT_DIR, dst, ignore=shutil.ignore_patterns("systems", "README.md"))
    return dst


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, l in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in l)


def test_unknown_mapping_id_fails_ci_with_file_and_line(tmp_path):
    root = _copy_catalogue(tmp_path)
    f = root / "controls" / "PRV-01.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("MP-4.1-009", "MP-4.1-099"), encoding="utf-8")
    probs = G.check_catalogue(root)
    assert probs[["rule", "file", "line"]].values.tolist() == [["mapping.unknown_id", str(f), _line_of(f, "MP-4.1-099")]]
    assert "nist_ai_600_1 id 'MP-4.1-099'" in probs.message.iloc[0]
    with pytest.raises(G.GovernanceError, match=r"PRV-01.yaml:\d+: mapping.unknown_id"):
        G.load_catalogue(root)


def test_schema_and_rule_errors_are_named(tmp_path):
    root = _copy_catalogue(tmp_path)
    f = root / "controls" / "OPS-01.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("severity: medium", "severity: urgent"), encoding="utf-8")
    probs = G.check_catalogue(root)
    row = probs.iloc[0]
    assert (row.rule, row.line) == ("schema.enum", _line_of(f, "severity: urgent")) and "at severity" in row.message
    f.write_text(text.replace("p95_latency_s\n", "p99_latency\n").replace("${p95_latency_s}", "${nope}"), encoding="utf-8")
    probs = G.check_catalogue(root)
    assert probs.rule.tolist() == ["check.unknown_metric", "check.threshold"]
    assert probs.line.tolist() == [_line_of(f, "metric: p99_latency"), _line_of(f, "threshold:")]
    # a control moved to another policy no longer matches what the policies cite
    f.write_text(text.replace("policy: model-risk", "policy: transparency"), encoding="utf-8")
    probs = G.check_catalogue(root)
    assert set(probs.rule) == {"policy.controls"}
    assert any("does not cite its enforcing controls: OPS-01" in m for m in probs.message)
    assert any("cites controls that do not enforce it: OPS-01" in m for m in probs.message)


def test_cli_check_exit_status(tmp_path, capsys):
    assert cli_compliance(["check"]) == 0
    root = _copy_catalogue(tmp_path)
    (root / "policies" / "en" / "transparency.md").unlink()
    assert cli_compliance(["check", "--catalogue", str(root)]) == 1
    assert "policy.missing" in capsys.readouterr().err


# ---------------------------------------------------------------- a small workspace with planted violations

SETTINGS = """
[organisation]
name = Test Corp
locale = en
currency = USD
[budget]
monthly_budget = 1000
[kpi]
p95_latency_s = 2.0
"""

def _system(id, use_case, **kw):
    d = dict(id=id, name=dict(ja=id, en=id.title()), owner="owner", purpose=dict(ja="目的", en="purpose"), use_case=use_case,
             users=dict(audience="internal"), risk_tier="limited", jurisdictions=["JP"], role=["deployer"],
             approved_models=[dict(provider="openai", model="gpt-4o-mini")], registered_prompts=[use_case], data_categories=["x"],
             personal_data=True, human_oversight=dict(arrangement="human-in-the-loop"), status="production",
             links=dict(assessment="evidence/a.md", eval_gate="evidence/gate.md", dpia="evidence/dpia.md"))
    return {**d, **kw}


def _prompt(ws: Path, name: str, version: str, status: str = "approved"):
    appr = "{status: approved, approver: A, date: 2026-09-02}" if status == "approved" else f"{{status: {status}}}"
    p = ws / "prompts" / name / f"{version}.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"---\nversion: {version}\nauthor: a\ncreated: 2026-09-01\nmodel: gpt-4o-mini\nparameters: {{}}\n"
                 f"change_note: c\napproval: {appr}\n---\nAnswer briefly.\n", encoding="utf-8")


def _calls(use_case: str, n: int, rng, **over) -> list[dict]:
    "n clean October calls of `use_case`: fast, successful, scored, rated, attributed, traceable."
    t0 = pd.Timestamp("2026-10-01", tz="UTC")
    rows = []
    for i in range(n):
        rows.append(dict(ts_start=t0 + pd.Timedelta(minutes=37 * i), request_id=f"{use_case}-{i}", operation_name="chat",
                         provider_name="openai", request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18",
                         input_tokens=200, output_tokens=80, duration_s=0.5 + (i % 10) / 10, status_code=200,
                         use_case=use_case, service_name=f"{use_case}-svc", department="ops", cost_center="CC-1",
                         user_id_hash=f"{(i * 7919) % 97:064x}", prompt_name=use_case, prompt_version="1.0",
                         input_text="請求書の書き方を教えてください。", output_text="承知しました。手順は次のとおりです。",
                         quality_score=0.9, feedback=(1 if i % 10 == 0 else None), source_file="raw/a.jsonl", source_line=i + 1))
    for k, v in over.items():
        for i, x in v.items(): rows[i][k] = x
    return rows


@pytest.fixture()
def planted(tmp_path):
    "Two systems; the logs plant four violations: an unapproved model, slow calls, PII in outputs, too-short retention."
    ws = tmp_path / "ws"
    (ws / "evidence").mkdir(parents=True)
    for f in ("a.md", "gate.md", "dpia.md"): (ws / "evidence" / f).write_text("signed")
    (ws / "settings.ini").write_text(textwrap.dedent(SETTINGS))
    gov = ws / "governance"
    (gov / "systems").mkdir(parents=True)
    systems = [_system("chat", "support"), _system("search", "kb", log_retention_days=90)]
    for s in systems: (gov / "systems" / f"{s['id']}.yaml").write_text(yaml.safe_dump(s, allow_unicode=True))
    _prompt(ws, "support", "1.0"); _prompt(ws, "kb", "1.0")
    rng = np.random.default_rng(0)
    chat = _calls("support", 400, rng,
                  request_model={i: "gpt-4o" for i in range(5)}, response_model={i: "gpt-4o-2024-08-06" for i in range(5)},
                  duration_s={i: 9.0 for i in range(0, 400, 10)})
    kb = _calls("kb", 1000, rng, output_text={i: f"担当者の携帯は 090-48{i:02d}-1935 です。" for i in (3, 50, 99)})
    logs = conform(pd.DataFrame(chat + kb))
    return ws, logs, systems


def test_planted_violations_fail_exactly(planted, cat):
    ws, logs, _ = planted
    res = G.evaluate(ws, "2026-10", logs=logs, catalogue=cat)
    fails = res[res.status == "fail"].set_index(["system", "control"])
    assert sorted(fails.index) == [("chat", "MOD-01"), ("chat", "OPS-01"), ("search", "LOG-01"), ("search", "PRV-01")]
    chat = logs[logs.use_case == "support"]
    assert fails.loc[("chat", "MOD-01"), "value"] == 5 and fails.loc[("chat", "MOD-01"), "sample_size"] == 400
    assert "unapproved gpt-4o: 5 calls" in fails.loc[("chat", "MOD-01"), "evidence"]
    assert fails.loc[("chat", "OPS-01"), "value"] == pytest.approx(np.percentile(chat.duration_s, 95))
    assert fails.loc[("chat", "OPS-01"), "threshold"] == "<= 2"
    assert fails.loc[("search", "PRV-01"), "value"] == pytest.approx(3 / 1000)
    assert fails.loc[("search", "PRV-01"), "sample_size"] == 1000
    assert all(f"kb-{i}" in fails.loc[("search", "PRV-01"), "evidence"] for i in (3, 50, 99))
    assert "090-48" not in fails.loc[("search", "PRV-01"), "evidence"]  # evidence names requests, never the personal data
    assert (fails.loc[("search", "LOG-01"), "value"], fails.loc[("search", "LOG-01"), "threshold"]) == (90, ">= 183")
    # the same checks pass where nothing was planted
    ok = res.set_index(["system", "control"]).status
    assert ok[("search", "MOD-01")] == ok[("chat", "PRV-01")] == ok[("search", "OPS-01")] == ok[("chat", "LOG-01")] == "pass"
    assert ok[("*", "CST-01")] == "pass" and ok[("*", "REG-02")] == "pass" and ok[("chat", "CHG-01")] == "pass"
    # missing evidence is never a pass: manual controls without attestations and the absent maturity assessment
    assert set(res[res.check_type == "manual"].status) <= {"inconclusive", "not_applicable"}
    assert ok[("*", "MAT-01")] == "inconclusive"


def test_missing_evidence_is_inconclusive(planted, cat):
    ws, logs, _ = planted
    no_text = logs.assign(output_text=None)
    r = G.evaluate(ws, "2026-10", logs=no_text, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("search", "PRV-01"), "status"] == "inconclusive"
    assert r.loc[("search", "PRV-01"), "missing"] == "output_text is not captured in the request log"
    # no log store at all: no control that reads logs may pass
    r = G.evaluate(ws, "2026-10", catalogue=cat)
    logs_checks = r[r.check_type.isin(["logs", "evals"]) & (r.status != "not_applicable")]
    assert set(logs_checks.status) == {"inconclusive"}
    assert (logs_checks.missing == "no request logs: the log store is empty or was not found").all()
    # a sample below the minimum is inconclusive; with on_insufficient_data: fail it fails
    few = logs[logs.use_case == "support"].head(40)
    r = G.evaluate(ws, "2026-10", logs=few, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("chat", "OPS-01"), ["status", "sample_size", "min_sample"]].tolist() == ["inconclusive", 40, 100]
    strict = G.Catalogue(cat.root, {**cat.controls, "OPS-01": {**cat.controls["OPS-01"], "check": {**cat.controls["OPS-01"]["check"],
                         "on_insufficient_data": "fail"}}}, cat.mappings, cat.version, cat.files)
    r = G.evaluate(ws, "2026-10", logs=few, catalogue=strict).set_index(["system", "control"])
    assert r.loc[("chat", "OPS-01"), "status"] == "fail"


def _write(p: Path, d: dict):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")


def test_waivers_and_attestations_expire(planted, cat):
    ws, logs, _ = planted
    exc = dict(id="EXC-1", control="LOG-01", scope="search", reason="migration", approver="CIO", date="2026-06-01", expires="2026-10-31")
    _write(ws / "governance" / "exceptions" / "EXC-1.yaml", exc)
    att = dict(id="ATT-1", control="AUP-01", system="*", answer="yes", evidence="https://x", approver="A", date="2026-01-10", expires="2026-12-31")
    _write(ws / "governance" / "attestations" / "ATT-1.yaml", att)
    r = G.evaluate(ws, "2026-10", logs=logs, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("search", "LOG-01"), ["status", "underlying_status", "exception"]].tolist() == ["excepted", "fail", "EXC-1"]
    assert r.loc[("*", "AUP-01"), ["status", "attestation"]].tolist() == ["pass", "ATT-1"]
    # one day earlier expiry: the waiver and the attestation no longer count, and the result says so
    _write(ws / "governance" / "exceptions" / "EXC-1.yaml", {**exc, "expires": "2026-10-30"})
    _write(ws / "governance" / "attestations" / "ATT-1.yaml", {**att, "expires": "2026-10-30"})
    r = G.evaluate(ws, "2026-10", logs=logs, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("search", "LOG-01"), "status"] == "fail"
    assert "waiver EXC-1 expired on 2026-10-30 and no longer counts" in r.loc[("search", "LOG-01"), "note"]
    assert r.loc[("*", "AUP-01"), "status"] == "inconclusive"
    assert r.loc[("*", "AUP-01"), "note"] == "attestation ATT-1 expired on 2026-10-30 and no longer counts"
    # …but September, when both were valid, still reads as it did
    sept = logs.assign(ts_start=logs.ts_start - pd.Timedelta(days=30))
    r = G.evaluate(ws, "2026-09", logs=sept, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("search", "LOG-01"), "status"] == "excepted" and r.loc[("*", "AUP-01"), "status"] == "pass"
    ex = G.expiring(G.load_governance(ws, cat), date(2026, 10, 31))
    assert ex[["id", "state", "days_left"]].values.tolist() == [["ATT-1", "expired", -1], ["EXC-1", "expired", -1]]


def test_answers_no_and_partial_fail(planted, cat):
    ws, logs, _ = planted
    for i, (sysid, ans) in enumerate([("chat", "no"), ("search", "partial")]):
        _write(ws / "governance" / "attestations" / f"A{i}.yaml", dict(id=f"ATT-{i}", control="INC-03", system=sysid, answer=ans,
               evidence="e", approver="a", date="2026-09-01", expires="2027-09-01"))
    r = G.evaluate(ws, "2026-10", logs=logs, catalogue=cat).set_index(["system", "control"])
    assert r.loc[("chat", "INC-03"), "status"] == r.loc[("search", "INC-03"), "status"] == "fail"


def test_bad_governance_records_are_reported(planted, cat):
    ws, _, _ = planted
    f = ws / "governance" / "exceptions" / "bad.yaml"
    _write(f, dict(id="EXC-9", control="NOPE-01", scope="ghost", reason="r", approver="a", date="2026-06-01", expires="2026-05-01"))
    with pytest.raises(G.GovernanceError) as e:
        G.load_governance(ws, cat)
    rules = [p.rule for p in e.value.problems]
    assert rules == ["record.expiry", "record.unknown_control", "record.unknown_system"]
    assert all(p.file == str(f) for p in e.value.problems)


def test_applicability(cat):
    s = _system("x", "x", risk_tier="high", users=dict(audience="external"), jurisdictions=["EU", "JP"], personal_data=False)
    assert G.applies(cat.controls["RSK-02"], s) == (True, "")
    assert G.applies(cat.controls["PRV-04"], s) == (False, "personal_data False not in True")
    assert G.applies(cat.controls["RSK-02"], {**s, "jurisdictions": ["JP"]}) == (False, "jurisdiction JP not in ['EU']")


# ---------------------------------------------------------------- the demo workspace fails for visible reasons

@pytest.fixture(scope="module")
def demo_gov(demo_workspace, tmp_path_factory):
    from llmops_nb import maturity, prompts
    ws = tmp_path_factory.mktemp("gov") / "ws"
    shutil.copytree(demo_workspace, ws)
    prompts.write_demo_prompts(ws); maturity.write_demo_assessments(ws); write_demo_governance(ws)
    return ws


def test_demo_fails_for_visible_reasons(demo_gov, cat):
    res = G.evaluate(demo_gov, "2026-10", catalogue=cat)
    r = res.set_index(["system", "control"])
    assert r.loc[("code_assistant", "MOD-01"), "status"] == "fail" and "unapproved deepseek-chat" in r.loc[("code_assistant", "MOD-01"), "evidence"]
    assert r.loc[("code_assistant", "MOD-02"), "status"] == "fail"
    assert r.loc[("knowledge_search", "LOG-01"), ["status", "value"]].tolist() == ["fail", 120]
    assert "waiver EXC-002 expired on 2026-09-30" in r.loc[("knowledge_search", "LOG-01"), "note"]
    assert r.loc[("email_generation", "TRN-01"), "status"] == "fail"
    assert r.loc[("email_generation", "SEC-03"), ["status", "exception"]].tolist() == ["excepted", "EXC-001"]
    assert r.loc[("support_chatbot", "VND-01"), "status"] == "inconclusive"
    assert "ATT-009 expired on 2026-09-30" in r.loc[("support_chatbot", "VND-01"), "note"]
    assert r.loc[("support_chatbot", "INC-03"), "status"] == "fail"
    assert r.loc[("*", "MAT-01"), ["status", "value"]].tolist() == ["pass", 31]  # assessed 2026-09-30
    chg = res[(res.control == "CHG-01") & (res.status == "fail")]
    assert len(chg) >= 1 and all("pending" in e for e in chg.evidence)
    assert "knowledge_search" not in set(res[(res.control == "CHG-02") & (res.status == "fail")].system)  # embeddings need no prompt


def test_eval_gates_from_stored_runs(demo_gov, cat, tmp_path):
    evals = pytest.importorskip("llmops_nb.evals")
    if not hasattr(evals, "write_demo_evals"): pytest.skip("llmops_nb.evals.write_demo_evals is not available yet")
    ws = tmp_path / "ws"
    shutil.copytree(demo_gov, ws)
    evals.write_demo_evals(ws)
    g = G.derive_gate_results(ws / "evals")
    runs = evals.list_runs(ws / "evals")
    assert len(g) == len(runs) - runs.dataset.nunique()  # every run but the first of each dataset is gated
    for r in g.itertuples():  # the same verdict as evals' own gate
        assert r.passed == evals.run_gate(r.baseline, r.candidate, ws / "evals" / "gate.yaml", where=ws / "evals").passed
    res = G.evaluate(ws, "2026-10", catalogue=cat).set_index(["system", "control"])
    rel = res.loc[("email_generation", "REL-01")]  # sales_email 1.3 went live on 1 October with no eval run at all
    assert (rel.status, rel.value) == ("fail", 1) and "sales_email 1.3: live 2026-10-01, no passing gate" in rel.evidence
    assert res.loc[("code_assistant", "REL-01"), ["status", "sample_size"]].tolist() == ["pass", 0]  # nothing went live in October


def test_store_windows_equal_all_rows_in_memory(demo_gov, cat):
    "Reading each system's window from the store (only the columns its controls need) gives exactly the results of all rows in memory."
    from llmops_nb.logs import load_requests
    every = load_requests(demo_gov)  # every row and column, text included
    for period in ("2026-09", "2026-10"):
        lazy = G.evaluate(demo_gov, period, catalogue=cat)
        eager = G.evaluate(demo_gov, period, catalogue=cat, logs=every)
        pd.testing.assert_frame_equal(lazy, eager)
        assert (lazy.status == "fail").sum() >= 5 and lazy.sample_size.max() > 100  # the comparison has something to compare
    src = G.LogSource(workspace=demo_gov)
    assert src.latest_period() == every.ts_start.max().strftime("%Y-%m")
    assert src.has_rows(*G.period_bounds("2026-09")) and not src.has_rows(*G.period_bounds("2025-01"))
    chat = G.load_governance(demo_gov, cat).systems["support_chatbot"]
    w = src.window(chat, "period", *G.period_bounds("2026-10"), ["duration_s"])
    assert w.columns.tolist() == [*G.BASE_COLUMNS, "duration_s"]
    assert len(w) == int(((every.use_case == "support_chatbot") & (every.ts_start >= "2026-10-01")).sum())
