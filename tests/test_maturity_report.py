"The maturity report renders offline in Japanese and English, and a reader sees the level of every dimension."
import html
import json
import re
from pathlib import Path

import pytest
import yaml

from llmops_nb import maturity as m
from llmops_nb.config import Settings, settings_ini_text
from llmops_nb.reports import ReportError, run_report
from llmops_nb.views import maturity as vm

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "maturity_report.ipynb"
BANKS = ROOT / "llmops_nb" / "data" / "maturity"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("maturity_ws")
    (w / "settings.ini").write_text(settings_ini_text(Settings(name="Mirai Trading")), encoding="utf-8")
    m.write_demo_assessments(w)
    return w


@pytest.fixture(scope="module")
def runs(ws, tmp_path_factory):
    out = tmp_path_factory.mktemp("maturity_out")
    return {loc: run_report(TEMPLATE, out / loc, workspace=ws, locale=loc) for loc in ("ja", "en")}


def independent_levels(doc: dict) -> dict:
    "Gated level and weighted score per dimension, computed straight from the bank YAML and the answers (no llmops_nb)."
    off = {f for f, v in doc.get("profile", {}).items() if v is False}
    out = {}
    for bank in doc["banks"]:
        b = yaml.safe_load((BANKS / f"{bank}.yaml").read_text(encoding="utf-8"))
        for d in b["dimensions"]:
            items = [it for it in b["items"] if it["dimension"] == d["id"] and not set(it["applies_if"]) & off]
            codes = {"yes": 4, "partial": 2, "no": 0}
            vals = {}
            for it in items:
                xs = [codes.get(a["value"], a["value"]) for a in doc["answers"] if a["item"] == it["id"] and a["value"] != "na"]
                nas = [a for a in doc["answers"] if a["item"] == it["id"] and a["value"] == "na"]
                vals[it["id"]] = (sum(xs) / len(xs)) if xs else ("na" if nas else None)
            answered = [it for it in items if isinstance(vals[it["id"]], (int, float))]
            w = sum(it["weight"] for it in answered)
            score = sum(it["weight"] * vals[it["id"]] / 4 for it in answered) / w if w else None
            level = b["scale"]["floor"]
            for lv in sorted({it["level"] for it in items if vals[it["id"]] != "na"}):
                if all(isinstance(vals[it["id"]], (int, float)) and vals[it["id"]] >= 3
                       for it in items if it["level"] == lv and vals[it["id"]] != "na"):
                    level = lv
                else: break
            names = {l["level"]: l["name"] for l in b["scale"]["levels"]}
            out[f"{bank}.{d['id']}"] = (level, score, names[level], d["name"])
    return out


@pytest.mark.parametrize("loc", ["ja", "en"])
def test_report_shows_every_dimension_level(runs, ws, loc):
    r = runs[loc]
    assert r.status == "ok"
    page = r.html.read_text(encoding="utf-8")
    doc = json.loads(vm.pick_assessment(ws).read_text(encoding="utf-8"))
    expected = independent_levels(doc)
    assert len(expected) == 20
    for dim, (level, score, lname, dname) in expected.items():
        row = re.search(rf'<tr data-dimension="{re.escape(dim)}"[^>]*>(.*?)</tr>', page, re.S)
        assert row, dim
        assert f'data-level="{level}"' in row.group(0), (dim, level)
        text = html.unescape(re.sub(r"<[^>]+>", " ", row.group(1)))
        assert dname[loc] in text and f"{level} {lname[loc]}" in text, (dim, text)  # the badge and the level's name
        assert f"{score * 100:.1f}%" in text, (dim, score, text)


@pytest.mark.parametrize("loc", ["ja", "en"])
def test_report_is_offline_and_complete(runs, loc):
    r = runs[loc]
    page = r.html.read_text(encoding="utf-8")
    assert re.findall(r"https?://(?!www\.w3\.org/)", page) == []  # no external URL at all (SVG namespaces aside)
    assert "<script" not in page.lower()
    assert page.count("<svg") >= 3  # a radar per model, inline
    words = {"ja": ["成熟度の全体像", "優先度の高いギャップ(上位5件)", "90日計画", "前回からの推移", "ロードマップ", "付録: 証拠", "最も弱い観点"],
             "en": ["Maturity at a glance", "Top five gaps", "90-day plan", "Trend since the last assessment", "Roadmap with roles",
                    "Appendix: evidence", "weakest link"]}[loc]
    for w in words: assert w in page, w
    res = r.results
    assert res["assessment"]["id"] == "demo-2026-Q3" and res["previous"] == "demo-2026-Q2"
    assert len(res["dimensions"]) == 20 and len(res["roadmap"]) > 5
    assert {e["path"].rsplit("/", 1)[-1] for e in r.manifest["inputs"]} >= {
        "2026-06-30_mirai-trading_demo-2026-q2.json", "2026-09-30_mirai-trading_demo-2026-q3.json"}


def test_report_top_gaps_follow_the_roadmap(runs, ws):
    page = runs["en"].html.read_text(encoding="utf-8")
    rm = m.roadmap(m.score_assessment(m.load_assessment(vm.pick_assessment(ws), ws)))
    gaps = page.split("Top five gaps", 1)[1].split("90-day plan", 1)[0]
    pos = [gaps.find(html.escape(x)) for x in rm.text_en.head(5)]
    assert all(p > 0 for p in pos) and pos == sorted(pos)


def test_report_for_an_earlier_assessment_and_bad_input(ws, tmp_path):
    f2 = vm.pick_assessment(ws, "2026-Q2")
    r = run_report(TEMPLATE, tmp_path / "q2", workspace=ws, locale="en", assessment=str(f2))
    assert r.results["assessment"]["id"] == "demo-2026-Q2" and r.results["previous"] is None
    assert "There is no earlier assessment to compare with." in r.html.read_text(encoding="utf-8")
    with pytest.raises(ReportError, match="assessment file not found"):
        run_report(TEMPLATE, tmp_path / "bad", workspace=ws, locale="en", assessment=str(tmp_path / "nope.json"))
