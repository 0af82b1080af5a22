"Maturity: bank files, scoring on hand-worked assessments, bands, roadmap order, statement banks, history, exports, CLI."
import json
from datetime import date
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from llmops_nb import maturity as m
from llmops_nb.cli.assess import cli_assess

BANK_DIR = Path(m.__file__).parent / "data" / "maturity"
BANK_FILES = sorted(BANK_DIR.glob("*.yaml"))


# ---------------------------------------------------------------- bank files (CI gate)

def test_schemas_are_valid_json_schemas():
    for name in ("bank.schema.json", "assessment.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads((BANK_DIR / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", BANK_FILES, ids=lambda p: p.name)
def test_every_bank_file_is_valid_and_bilingual(path):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, json.loads((BANK_DIR / "bank.schema.json").read_text(encoding="utf-8")))
    bank = m.load_bank(path)
    for it in doc["items"]:
        for key in ("text", "help", "evidence_hint"):
            assert it[key]["ja"].strip() and it[key]["en"].strip(), (it["id"], key)
            assert it[key]["ja"] != it[key]["en"], (it["id"], key)  # a real translation, not a copy
        assert it["roles"], it["id"]
        assert it["references"], it["id"]
    # every dimension has items at every level above the floor, so each level can be reached honestly
    top = bank.levels.level.max()
    per = bank.items.groupby("dimension")["level"].apply(set)
    for dim, levels in per.items():
        assert levels == set(range(bank.floor + 1, top + 1)), (dim, levels)


def test_builtin_banks_cover_the_issue():
    banks = {b: m.load_bank(b) for b in m.builtin_banks()}
    assert sum(len(b.items) for b in banks.values()) >= 60
    assert list(banks["mlops"].dimensions.dim) == ["people", "model_creation", "model_release", "app_integration"]
    assert list(banks["mlops"].levels.level) == [0, 1, 2, 3, 4]
    assert all("Google level" in c for c in banks["mlops"].levels.crossref)
    assert list(banks["llmops"].dimensions.dim) == ["prompts", "evaluation", "safety", "rag", "cost", "feedback"]
    assert list(banks["llmops"].levels.name_en) == ["Initial", "Defined", "Managed", "Optimized"]
    assert list(banks["governance"].dimensions.name_ja) == ["人間中心", "安全性", "公平性", "プライバシー保護", "セキュリティ確保",
                                                           "透明性", "アカウンタビリティ", "教育・リテラシー", "公正競争確保", "イノベーション"]
    ids = pd.concat([b.items.item_id for b in banks.values()])
    assert ids.is_unique


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_item_missing_a_language_fails_with_file_and_line(tmp_path, lang):
    text = (BANK_DIR / "llmops.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    # drop the `help` text of the third item in one language
    helps = [i for i, l in enumerate(text) if l.strip() == "help:"]
    target = helps[2] + (1 if lang == "ja" else 2)
    assert text[target].strip().startswith(f"{lang}:")
    del text[target]
    bad = tmp_path / "llmops.yaml"; bad.write_text("".join(text), encoding="utf-8")
    with pytest.raises(m.BankError) as e:
        m.load_bank(bad)
    msg = str(e.value)
    assert f"{bad}:{helps[2] + 1}: items[2].help: '{lang}' is a required property (rule: required)" in msg


def test_blank_text_and_cross_field_rules_fail(tmp_path):
    doc = yaml.safe_load((BANK_DIR / "mlops.yaml").read_text(encoding="utf-8"))
    doc["items"][3]["text"]["en"] = "   "
    with pytest.raises(m.BankError, match=r"items\[3\]\.text\.en: .* does not match"):
        m.load_bank(doc)
    doc = yaml.safe_load((BANK_DIR / "mlops.yaml").read_text(encoding="utf-8"))
    doc["items"][4]["id"] = doc["items"][3]["id"]
    with pytest.raises(m.BankError, match="duplicate item id mlops.people.04"):
        m.load_bank(doc)


# ---------------------------------------------------------------- a hand-worked assessment on a small bank

TINY = """
bank: tiny
version: 1.0.0
title: {ja: 小, en: Tiny}
description: {ja: 試験用, en: for tests}
answer_format: scale
scale:
  floor: 0
  default_target: 3
  levels:
    - {level: 0, name: {ja: 零, en: Zero}, min_score: 0.0, description: {ja: 零, en: zero}}
    - {level: 1, name: {ja: 一, en: One}, min_score: 0.3, description: {ja: 一, en: one}}
    - {level: 2, name: {ja: 二, en: Two}, min_score: 0.6, description: {ja: 二, en: two}}
    - {level: 3, name: {ja: 三, en: Three}, min_score: 0.9, description: {ja: 三, en: three}}
dimensions:
  - {id: a, name: {ja: エー, en: A}, description: {ja: エー, en: A}, weight: 2}
  - {id: b, name: {ja: ビー, en: B}, description: {ja: ビー, en: B}}
items:
"""
_ITEMS = [("a.01", 1, 1, []), ("a.02", 1, 2, []), ("a.03", 2, 1, []), ("a.04", 3, 1, []),
          ("b.01", 1, 1, []), ("b.02", 2, 1, []), ("b.03", 2, 1, ["uses_rag"]), ("b.04", 3, 3, [])]


@pytest.fixture
def tiny():
    items = [dict(id=f"tiny.{i}", dimension=i[0], level=lv, text=dict(ja=f"問{i}", en=f"Q{i}"), help=dict(ja="補足", en="help"),
                  evidence_hint=dict(ja="証拠", en="evidence"), applies_if=flags, roles=["ml_engineer"], tools=["Git"],
                  references=[dict(framework="external", ref="test")], weight=w) for i, lv, w, flags in _ITEMS]
    doc = yaml.safe_load(TINY); doc["items"] = items
    return {"tiny": m.load_bank(doc)}


@pytest.fixture
def tiny_doc(tiny):
    doc = m.new_assessment("t-q2", "2026-06-30", "Tiny Co", banks=list(tiny.values()), profile={"uses_rag": False},
                           respondents=[{"id": "r1", "role": "ml_engineer"}, {"id": "r2", "role": "product_owner"}])
    for item, r, v, ev in [("a.01", "r1", 4, "e/a01"), ("a.01", "r2", 3, ""), ("a.02", "r1", "yes", "e/a02"),
                           ("a.02", "r2", "partial", ""), ("a.03", "r1", "na", ""), ("a.03", "r2", "na", ""),
                           ("a.04", "r1", 1, ""), ("b.01", "r1", 2, ""), ("b.02", "r1", 4, "e/b02"), ("b.03", "r1", 4, "e/b03"),
                           ("b.04", "r2", "no", "")]:
        m.set_answer(doc, f"tiny.{item}", v, r, evidence=ev)
    return doc


def test_hand_worked_items(tiny, tiny_doc):
    it = m.score_assessment(tiny_doc, tiny).items.set_index("item_id")
    it.index = it.index.str[5:]
    assert list(it.status) == ["answered", "answered", "na", "answered", "answered", "answered", "out_of_scope", "answered"]
    assert it.value["a.01"] == 3.5 and it.value["a.02"] == 3.0 and it.value["b.04"] == 0
    assert np.isnan(it.value["b.03"])  # answered, but the profile switches it off
    assert list(it.index[it.met]) == ["a.01", "a.02", "b.02"]
    assert list(it.index[it.claimed]) == ["b.01"]  # 2 without evidence; a.02's evidence from r1 covers the item
    assert list(it.index[it.disagree]) == ["a.02"]  # yes (4) vs partial (2): spread 2
    assert it.spread["a.01"] == 1


def test_hand_worked_dimensions_and_overall(tiny, tiny_doc):
    s = m.score_assessment(tiny_doc, tiny)
    d = s.dimensions.set_index("dim")
    # A: (1·.875 + 2·.75 + 1·.25) / 4; a.03 is N/A (not in the denominator)
    assert d.score["a"] == pytest.approx(2.625 / 4)
    assert d.level["a"] == 1  # level 1 all met; level 2 only N/A (skipped); level 3 a.04 not met
    assert d.band_level["a"] == 2  # 0.65625 in [0.6, 0.9)
    assert d.coverage["a"] == 1.0 and d.n_disagree["a"] == 1 and d.n_na["a"] == 1
    # B: (1·.5 + 1·1 + 3·0) / 5 = 0.3 exactly: the lower edge of band 1
    assert d.score["b"] == pytest.approx(0.3)
    assert d.band_level["b"] == 1
    assert d.level["b"] == 0  # b.01 (level 1) not met
    assert d.proven_score["b"] == pytest.approx((0.25 + 1 + 0) / 5)  # b.01 claimed: credited with 1 of 4
    assert d.n_items["b"] == 3 and d.n_claimed["b"] == 1
    o = s.overall.iloc[0]
    assert o.score == pytest.approx((2 * 2.625 / 4 + 1 * 0.3) / 3)  # dimension weights 2 and 1
    assert o.level == 0 and o.weakest == "tiny.b"  # weakest link
    assert o.band_level == 1
    assert o.coverage == pytest.approx(7 / 7)


def test_no_answers_and_na_everywhere(tiny):
    doc = m.new_assessment("empty", "2026-06-30", "Tiny Co", banks=list(tiny.values()))
    s = m.score_assessment(doc, tiny)
    assert s.dimensions.score.isna().all() and (s.dimensions.level == 0).all() and (s.dimensions.coverage == 0).all()
    for i in tiny["tiny"].items.item_id: m.set_answer(doc, i, "na")
    s = m.score_assessment(doc, tiny)
    assert s.dimensions.level.isna().all()  # nothing applies: no level, not level 0
    assert (s.dimensions.coverage == 1).all()


def test_claimed_threshold_and_evidence(tiny):
    doc = m.new_assessment("c", "2026-06-30", "Tiny Co", banks=list(tiny.values()))
    m.set_answer(doc, "tiny.a.01", 1); m.set_answer(doc, "tiny.a.02", 2); m.set_answer(doc, "tiny.b.01", 4, evidence="x.md")
    it = m.score_assessment(doc, tiny).items.set_index("item_id")
    assert not it.claimed["tiny.a.01"]  # below 2 needs no evidence
    assert it.claimed["tiny.a.02"] and not it.claimed["tiny.b.01"]
    assert it.proven_met["tiny.b.01"] and it.met["tiny.b.01"]


@pytest.mark.parametrize("bank", ["mlops", "llmops", "governance"])
def test_band_edges_are_half_open(bank):
    b = m.load_bank(bank)
    lv = b.levels
    for i, row in enumerate(lv.itertuples()):
        assert m.band_level(row.min_score, lv) == row.level
        if i: assert m.band_level(row.min_score - 1e-6, lv) == lv.level.iloc[i - 1]
    assert m.band_level(1.0, lv) == lv.level.max()


def test_disagreement_on_mixed_na(tiny):
    doc = m.new_assessment("d", "2026-06-30", "Tiny Co", banks=list(tiny.values()))
    m.set_answer(doc, "tiny.a.01", 3, "r1"); m.set_answer(doc, "tiny.a.01", "na", "r2")
    m.set_answer(doc, "tiny.a.02", 3, "r1"); m.set_answer(doc, "tiny.a.02", 4, "r2")
    it = m.score_assessment(doc, tiny).items.set_index("item_id")
    assert it.disagree["tiny.a.01"] and not it.disagree["tiny.a.02"]
    assert it.value["tiny.a.01"] == 3  # the N/A answer leaves the mean


# ---------------------------------------------------------------- roadmap

def test_roadmap_order_and_horizons(tiny, tiny_doc):
    s = m.score_assessment(tiny_doc, tiny)
    g = m.gaps(s, {"tiny.a": 3, "tiny.b": 2}).set_index("dim")
    assert list(g.gap) == [2, 2] and g.next_level["a"] == 3 and g.next_level["b"] == 1
    rm = m.roadmap(s, {"tiny.a": 3, "tiny.b": 2})
    # both priority 1 × 2 = 2; a.04 has the bigger shortfall (1 - .25) than b.01 (1 - .5)
    assert list(rm.item_id) == ["tiny.a.04", "tiny.b.01"]
    assert list(rm.priority) == [2, 2] and list(rm.horizon) == [30, 60]
    assert list(rm.planned_date) == [date(2026, 7, 30), date(2026, 8, 29)]
    assert list(rm.roles) == [("ml_engineer",), ("ml_engineer",)] and set(rm.owner) == {""}
    # weight × gap: b.04 (weight 3) outranks a.04 once b's next level is 3
    doc = json.loads(json.dumps(tiny_doc)); m.set_answer(doc, "tiny.b.01", 4, "r1", evidence="e")
    rm = m.roadmap(m.score_assessment(doc, tiny), 3)
    assert list(rm.item_id) == ["tiny.b.04", "tiny.a.04"] and list(rm.priority) == [3, 2]
    assert m.roadmap(s, {"tiny.a": 1, "tiny.b": 0}).empty  # targets met: nothing to do


# ---------------------------------------------------------------- external statement banks

def _sheet(path: Path, rows):
    if path.suffix == ".csv":
        pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    else:
        from openpyxl import Workbook
        wb = Workbook(); ws = wb.active
        for r in rows: ws.append(list(r))
        wb.save(path)
    return path


@pytest.mark.parametrize("ext", ["xlsx", "csv"])
def test_statement_bank_import_and_rule(tmp_path, ext):
    rows = [("section", "statement_en", "statement_ja")] + \
           [(f"S{s}", f"statement {s}.{k}", f"設問 {s}.{k}") for s in range(1, 8) for k in range(1, 4)]
    b = m.import_statement_bank(_sheet(tmp_path / f"q.{ext}", rows), "ext", mature_sections=4)
    assert len(b.items) == 21 and len(b.dimensions) == 7
    assert b.items.text_ja.iloc[0] == "設問 1.1" and b.items.text_en.iloc[0] == "statement 1.1"
    assert b.mature_sections == ["ext.s1", "ext.s2", "ext.s3", "ext.s4"]
    doc = m.new_assessment("x", "2026-09-30", "Co", banks=[b])
    for i in b.items.item_id: m.set_answer(doc, i, "yes" if i < "ext.s5" else "no")
    v = m.statement_verdict(m.score_assessment(doc, {"ext": b}), "ext")
    assert v.mature and v.failing.empty  # sections 5-7 are "no" but do not count
    assert list(v.sections.all_yes) == [True] * 4 + [False] * 3
    m.set_answer(doc, "ext.s3.02", "no")
    v = m.statement_verdict(m.score_assessment(doc, {"ext": b}), "ext")
    assert not v.mature and list(v.failing.item_id) == ["ext.s3.02"]
    assert v.sections.set_index("section").share_yes["S3"] == pytest.approx(2 / 3)
    m.set_answer(doc, "ext.s3.02", None)  # unanswered is not yes
    assert not m.statement_verdict(m.score_assessment(doc, {"ext": b}), "ext").mature


def test_statement_bank_errors_and_storage(tmp_path):
    with pytest.raises(m.BankError, match=r"q1.csv:4: statement: empty statement"):
        m.import_statement_bank(_sheet(tmp_path / "q1.csv", [("section", "statement"), ("A", "x"), ("", "y"), ("B", "")]))
    with pytest.raises(m.BankError, match="needs a 'section' column"):
        m.import_statement_bank(_sheet(tmp_path / "q2.csv", [("topic", "statement"), ("A", "x")]))
    with pytest.raises(m.BankError, match="unknown section"):
        m.import_statement_bank(_sheet(tmp_path / "q3.csv", [("section", "statement"), ("A", "x")]), mature_sections=["Z"])
    b = m.import_statement_bank(_sheet(tmp_path / "q4.csv", [("section", "statement"), ("Docs", "x"), ("", "y")]), "ext")
    assert list(b.items.dimension) == ["ext.docs", "ext.docs"]  # blank section continues the one above
    ws = tmp_path / "ws"
    p = m.save_bank(b, ws)
    doc = m.new_assessment("e1", "2026-09-30", "Co", banks=[b]); m.set_answer(doc, "ext.docs.01", "yes")
    saved = m.save_assessment(doc, ws)
    s = m.score_assessment(m.load_assessment(saved, ws), workspace=ws)  # the bank is found in the workspace
    assert p.exists() and s.dimension("ext.docs").n_met == 1
    with pytest.raises(m.BankError, match="taken by a built-in bank"):
        m.save_bank(m.load_bank("mlops"), ws)


# ---------------------------------------------------------------- assessment files, history, comparison

def test_assessment_file_errors_name_line_and_rule(tmp_path):
    doc = m.new_assessment("f", "2026-06-30", "Co", banks=["mlops"])
    m.set_answer(doc, "mlops.people.01", 3); m.set_answer(doc, "mlops.people.99", 3)
    p = tmp_path / "a.json"; p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    line = next(i for i, l in enumerate(p.read_text().splitlines(), 1) if "mlops.people.99" in l) - 1  # the answer's "{" line
    with pytest.raises(m.AssessmentError, match=rf"a.json:{line}: answers\[1\]: item 'mlops.people.99' is not in bank\(s\) mlops \(rule: item\)"):
        m.load_assessment(p)
    p.write_text('{"format": 1,\n "id": }')
    with pytest.raises(m.AssessmentError, match=r"a.json:2: not valid JSON"):
        m.load_assessment(p)


def test_history_append_only_trend_and_compare(tmp_path, tiny):
    ws = tmp_path / "ws"
    (ws).mkdir()
    (ws / "settings.ini").write_text("[paths]\nassessments_dir = maturity_history\n", encoding="utf-8")
    a = m.new_assessment("q2", "2026-06-30", "Co", banks=["mlops"], assessed_by="PMO", period="2026-Q2")
    for i in ("mlops.people.01", "mlops.people.02", "mlops.model_release.02"): m.set_answer(a, i, 4, evidence="e")
    b = m.new_assessment("q3", "2026-09-30", "Co", banks=["mlops"], assessed_by="PMO", period="2026-Q3")
    for i in ("mlops.people.01", "mlops.people.02", "mlops.model_release.01"): m.set_answer(b, i, 4, evidence="e")
    m.set_answer(b, "mlops.people.02", 1)
    pa, pb = m.save_assessment(a, ws), m.save_assessment(b, ws)
    assert pa.parent == (ws / "maturity_history").resolve()  # the folder comes from settings.ini
    with pytest.raises(m.AssessmentError, match="append-only"):
        m.save_assessment(b, ws)
    idx = m.assessment_index(ws)
    assert list(idx.id) == ["q2", "q3"] and list(idx.assessed_by) == ["PMO", "PMO"] and idx.intact.all()
    assert idx.banks.iloc[0] == {"mlops": "1.0.0"}
    assert m.previous_assessment(ws, b) == pa
    tr = m.trend(ws, "Co")
    assert len(tr) == 8 and list(tr.id.unique()) == ["q2", "q3"]
    c = m.compare(*(m.score_assessment(m.load_assessment(p, ws)) for p in (pa, pb)))
    assert list(c.resolved.item_id) == ["mlops.model_release.01"]
    assert sorted(c.new.item_id) == ["mlops.model_release.02", "mlops.people.02"]
    d = c.dimensions.set_index("dimension")
    assert d.score_delta["mlops.people"] == pytest.approx((1 + 0.25) / 2 - 1.0)
    assert d.level_a["mlops.model_release"] == 0 and d.level_b["mlops.model_release"] == 1
    pb.write_text(pb.read_text(encoding="utf-8").replace('"PMO"', '"someone else"'), encoding="utf-8")
    assert list(m.assessment_index(ws).intact) == [True, False]


# ---------------------------------------------------------------- exports

def test_exports_json_and_excel(tmp_path, tiny, tiny_doc):
    s = m.score_assessment(tiny_doc, tiny)
    rm = m.roadmap(s, 3)
    js = json.loads(m.export_json(s, tmp_path / "s.json", rm).read_text(encoding="utf-8"))
    dims = {d["dimension"]: d for d in js["dimensions"]}
    assert dims["tiny.b"]["score"] == pytest.approx(0.3) and dims["tiny.b"]["level"] == 0
    assert [r["item_id"] for r in js["roadmap"]] == list(rm.item_id)
    assert js["items"][2]["score"] is None  # N/A → null, not NaN
    x = pd.read_excel(m.export_excel(s, tmp_path / "s.xlsx", rm, locale="ja"), sheet_name=None)
    assert list(x) == ["summary", "dimensions", "items", "evidence", "roadmap"]
    dj = x["dimensions"].set_index("観点")
    assert dj.loc["ビー", "レベル"] == 0 and dj.loc["エー", "スコア"] == pytest.approx(2.625 / 4)
    assert list(x["roadmap"]["設問ID"]) == list(rm.item_id)
    assert x["roadmap"]["必要な役割"].iloc[0] == "MLエンジニア"
    assert len(x["evidence"]) == 4  # a.01, a.02, b.02 and the out-of-scope b.03 answer keep their evidence


# ---------------------------------------------------------------- selection guide

@pytest.mark.parametrize("uc, approach", [
    (dict(name="fraud", data_kind="tabular", task="anomaly_detection"), "mlops"),
    (dict(name="defects", data_kind="images", task="classification"), "mlops"),
    (dict(name="faq", data_kind="documents", task="search", fresh_knowledge=True), "llmops"),
    (dict(name="triage", data_kind="text", task="classification"), "both"),
    (dict(name="claims", data_kind="documents", task=["classification", "summarisation"]), "both"),
])
def test_selection_guide_approach(uc, approach):
    a = m.select_ops(m.UseCase(**uc))
    assert a.choice == approach
    assert a.why("ja") and a.why("en") and all(s.strip() for s in a.why("en"))


def test_build_or_buy_follows_maturity():
    assert m.build_or_buy(0, monthly_requests=10_000_000, differentiating=True).choice == "buy"  # low maturity: buy first
    assert m.build_or_buy(2).choice == "hybrid"
    assert m.build_or_buy(4).choice == "hybrid"  # mature but nothing strategic to own
    b = m.build_or_buy(3, monthly_requests=2_000_000)
    assert b.choice == "build" and "high volume" in b.why("en")[0]
    g = m.selection_guide([dict(name="faq", data_kind="documents", task="search", fresh_knowledge=True)], level=1, locale="ja")
    assert g.sourcing.iloc[0] == "buy" and "RAG" in g.reasons.iloc[0] and "マネージド" in g.reasons.iloc[0]


# ---------------------------------------------------------------- demo and CLI

def test_demo_assessments(tmp_path):
    files = m.write_demo_assessments(tmp_path)
    assert [f.parent for f in files] == [(tmp_path / "assessments").resolve()] * 2
    docs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert [d["period"] for d in docs] == ["2026-Q2", "2026-Q3"]
    assert all(len(d["respondents"]) == 4 for d in docs)
    s2, s3 = (m.score_assessment(d) for d in docs)
    for s in (s2, s3):
        assert (s.items.status == "na").sum() >= 2 and s.items.claimed.sum() >= 1 and s.items.disagree.sum() >= 1
        assert s.answers.evidence_ref.ne("").sum() > 40
        assert (s.items.status == "out_of_scope").sum() == 1  # fine-tuning item
    assert (s3.overall.score > s2.overall.score).all()  # the quarter improved
    assert m.write_demo_assessments(tmp_path) == []  # rerun: nothing new, nothing overwritten


def test_cli_assess(tmp_path, capsys):
    f2, f3 = m.write_demo_assessments(tmp_path)
    assert cli_assess(["score", str(f3), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    s3 = m.score_assessment(m.load_assessment(f3))
    people = s3.dimension("mlops.people")
    assert "mlops.people" in out and f"{people.score * 100:.1f}%" in out
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["assessment"]["id"] == "demo-2026-Q3"
    assert cli_assess(["roadmap", str(f3), "--target", "3", "--xlsx", str(tmp_path / "r.xlsx")]) == 0
    assert len(pd.read_excel(tmp_path / "r.xlsx", sheet_name="roadmap")) == len(m.roadmap(s3, 3))
    assert cli_assess(["compare", str(f2), str(f3)]) == 0
    assert "resolved gaps:" in capsys.readouterr().out
    _sheet(tmp_path / "q.csv", [("section", "statement"), ("A", "x")])
    assert cli_assess(["import-bank", str(tmp_path / "q.csv"), "--id", "ext", "--workspace", str(tmp_path)]) == 0
    assert (tmp_path / "assessments" / "banks" / "ext.yaml").exists()
    bad = tmp_path / "bad.yaml"; bad.write_text("bank: x\n")
    assert cli_assess(["validate-bank", str(bad)]) == 1
    assert "bad.yaml:1:" in capsys.readouterr().err
