"""templates/eval_report.ipynb end to end (ja and en): figures against independent computation, gate rules, flips,
a prompt holding <script> rendered as text, PII masked, no external URLs, manifest hashes."""
import re
from pathlib import Path

import pytest

from llmops_nb import evals as E
from llmops_nb import reports as R
from llmops_nb.config import Settings, settings_ini_text
from llmops_nb.prompts import validate_registry, write_demo_prompts

SCRIPT = "<script>alert('prompt')</script>"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("eval_report_ws")
    (w / "settings.ini").write_text(settings_ini_text(Settings(locale="ja")), encoding="utf-8")
    root = write_demo_prompts(w)
    f = root / "support_chatbot" / "v1.10.md"  # the candidate's prompt now carries markup
    f.write_text(f.read_text(encoding="utf-8").replace("Policy:\n", f"Policy ({SCRIPT}):\n"), encoding="utf-8")
    assert validate_registry(root).empty
    return w, E.write_demo_evals(w)


@pytest.fixture(scope="module")
def runs(ws, tmp_path_factory):
    w, _ = ws
    out = tmp_path_factory.mktemp("eval_reports")
    return {loc: R.run_report("eval", out / loc, workspace=w, locale=loc) for loc in ("ja", "en")}


def page(run) -> str:
    return Path(run.html).read_text(encoding="utf-8")


def test_results_match_independent_computation(ws, runs):
    w, planted = ws
    res = runs["en"].results
    assert res["passed"] is False
    for d, passed in (("support_en", False), ("knowledge_ja", True)):
        c = res["comparisons"][f"{d}-baseline..{d}-candidate"]
        b = E.score_run(E.load_run(f"{d}-baseline", w)).set_index("id")
        k = E.score_run(E.load_run(f"{d}-candidate", w)).set_index("id").loc[b.index]
        assert c["passed"] is passed
        assert c["pass_rate_baseline"] == pytest.approx(b.passed.astype(float).mean())
        assert c["pass_rate_candidate"] == pytest.approx(k.passed.astype(float).mean())
        assert c["regressed"] == int(((b.passed == True) & (k.passed == False)).sum()) == len(planted[d]["regressed"])  # noqa: E712
        assert c["improved"] == len(planted[d]["improved"])
    assert set(res["comparisons"]["support_en-baseline..support_en-candidate"]["failed_rules"]) >= {
        "json_valid.min", "flips.max_regressed", "latency_s.max_increase_pct", "pass_rate.max_drop"}
    sf = res["comparisons"]["support_en-baseline..support_en-candidate"]["safety_findings"]
    assert sf["candidate"] > sf["baseline"] == 0  # the candidate reads out a stored card number
    assert runs["ja"].results == res  # figures do not depend on the language


def test_gate_rules_and_flips_shown(ws, runs):
    _, planted = ws
    html = page(runs["en"])
    assert html.count('class="callout fail ee-gate"') == 1 and html.count('class="callout pass ee-gate"') == 1
    rules = [dict(re.findall(r'(data-[a-z]+)="([^"]*)"', a)) for a in re.findall(r"<tr ([^>]*data-rule[^>]*)>", html)]
    got = {(r["data-metric"], r["data-rule"], r["data-status"]) for r in rules}
    assert {("json_valid", "min", "fail"), ("flips", "max_regressed", "fail"), ("refusal_ok", "min", "pass")} <= got
    rows = [dict(re.findall(r'(data-[a-z]+)="([^"]*)"', a)) for a in re.findall(r"<tr ([^>]*data-flip[^>]*)>", html)]
    shown = [(r["data-id"], r["data-flip"]) for r in rows]
    for d in planted.values():  # every regression is listed, then up to 20 improvements
        ids = {x.split("-")[0] for x in d["regressed"] + d["improved"]}
        got = [(i, f) for i, f in shown if i.split("-")[0] in ids]
        assert sorted(i for i, f in got if f == "regressed") == d["regressed"]
        imp = [i for i, f in got if f == "improved"]
        assert len(imp) == min(20, len(d["improved"])) and set(imp) <= set(d["improved"])
    assert "Overall: 1 of 2 comparisons meet the gate" in html
    assert "<svg" in html  # the delta chart, inline


def test_prompt_with_script_renders_as_text_and_pii_is_masked(runs):
    for run in runs.values():
        html = page(run)
        assert SCRIPT not in html and "<script>alert('hi')" not in html and "<script" not in html.lower()
        q = "(?:'|&#x27;|&#39;)"
        assert re.search(f"&lt;script&gt;alert\\({q}prompt{q}\\)&lt;/script&gt;", html)  # the prompt diff, as text
        assert re.search(f"&lt;script&gt;alert\\({q}hi{q}\\)&lt;/script&gt;", html)  # a case input, as text
        assert not re.search(r"[\w.+-]+@example\.com", html)  # e-mail addresses only masked
        assert not re.search(r"4111[ -]?1111[ -]?1111[ -]?1111", html)  # the leaked card number only masked
        assert "[EMAIL]" in html


def test_offline_and_manifest(runs):
    for run in runs.values():
        html = page(run)
        assert R.offline_violations(html) == []
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert R.verify_manifest(run.out_dir) == []
        names = {Path(i["path"]).name for i in run.manifest["inputs"]}
        assert {"support_en-baseline.parquet", "support_en-candidate.parquet", "gate.yaml"} <= names


def test_both_locales_complete(runs):
    ja, en = page(runs["ja"]), page(runs["en"])
    for word in ("評価レポート(リリース判定)", "合格率", "判定が変わったケース", "安全性の検出結果", "プロンプトの変更点", "タグ別の内訳"):
        assert word in ja
    for word in ("Eval report (release gate)", "Pass rate", "Flipped cases", "Safety findings", "What changed in the prompt", "Breakdown by tag"):
        assert word in en
    for html in (ja, en):
        assert not re.search(r">\s*evals\.[a-z_.]+\s*<", html)  # no untranslated label keys
