"The cost and ROI reports rendered end to end in Japanese and English, their figures checked against independent pandas sums."
import re
import shutil

import pandas as pd
import pytest

from llmops_nb import cost as K
from llmops_nb.i18n import fmt_money, fmt_money_headline
from llmops_nb.pricing import load_price_book, price_requests
from llmops_nb.reports import offline_violations, run_report

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def ws(demo_raw_workspace, tmp_path_factory):
    "The 3,000-row demo with its price book, budgets and ROI assumptions, ingested."
    from llmops_nb import logs
    w = tmp_path_factory.mktemp("cost_reports") / "ws"
    shutil.copytree(demo_raw_workspace, w)
    K.write_demo_cost(w)
    logs.ingest(sorted((w / "raw").iterdir()), w, gx=False, progress=False)
    return w


@pytest.fixture(scope="module")
def october(ws):
    "October's calls read straight from the Parquet store with pandas, priced with the workspace's book."
    from llmops_nb.schema import conform
    raw = pd.read_parquet(ws / "store" / "requests")
    df = conform(raw.drop(columns=[c for c in raw.columns if c == "month"]), allow_extra=True)
    p = price_requests(df, load_price_book(ws))
    return p[p.ts_start.dt.strftime("%Y-%m") == PERIOD]


@pytest.fixture(scope="module", params=["ja", "en"])
def cost_run(request, ws, tmp_path_factory):
    return request.param, run_report("cost", tmp_path_factory.mktemp(f"cost_{request.param}"), workspace=ws, period=PERIOD,
                                     locale=request.param)


@pytest.fixture(scope="module", params=["ja", "en"])
def roi_run(request, ws, tmp_path_factory):
    return request.param, run_report("roi", tmp_path_factory.mktemp(f"roi_{request.param}"), workspace=ws, period=PERIOD,
                                     locale=request.param)


def _page(run) -> str:
    return run.html.read_text(encoding="utf-8")


def test_cost_report_renders_offline(cost_run):
    loc, run = cost_run
    assert run.status == "ok"
    page = _page(run)
    assert offline_violations(page) == []
    assert not re.search(r'(src|href)\s*=\s*["\']?https?://', page)
    assert ("AI利用コスト月次レポート" if loc == "ja" else "Monthly AI cost report") in page


def test_cost_report_totals_match_pandas(cost_run, october):
    loc, run = cost_run
    res, page = run.results, _page(run)
    priced = october[october.priced]
    total, cost = priced.cost_jpy_incl_tax.sum(), priced.cost_jpy.sum()
    assert res["totals"]["total"] == pytest.approx(total, rel=1e-9)
    assert res["totals"]["tax"] == pytest.approx(total - cost, rel=1e-9)
    assert res["totals"]["calls"] == len(october)
    assert fmt_money_headline(total, "JPY", loc) in page  # the headline a reader sees
    # by department: each department's total, as the reader sees it
    dep = priced.groupby("department").cost_jpy_incl_tax.sum()
    shown = {r["department"]: r["total"] for r in res["by_department"]}
    for d, v in dep.items():
        assert shown[d] == pytest.approx(v, rel=1e-9)
        assert fmt_money(v, "JPY") in page


def test_cost_report_lists_unpriced_calls(cost_run, october):
    loc, run = cost_run
    res, page = run.results, _page(run)
    model = october.response_model.where(october.response_model.notna(), october.request_model)
    unknown = october[model.str.contains("mirai-contract")]
    assert len(unknown) > 0 and res["totals"]["unpriced_calls"] == len(unknown)
    row = [u for u in res["unpriced"] if "mirai-contract" in u["model"]][0]
    assert (row["calls"], row["input_tokens"]) == (len(unknown), int(unknown.input_tokens.sum()))
    assert "mirai-contract-ja-ft" in page
    assert ("公開価格にも価格表にもないモデル" if loc == "ja" else "model not in the catalogue or the price book") in page


def test_cost_report_budget_alert_on_the_planted_overrun(cost_run, october, ws):
    loc, run = cost_run
    res, page = run.results, _page(run)
    legal = [b for b in res["budgets"] if b["name"] == "legal"][0]
    spent = october[october.department.eq("legal")].cost_jpy_incl_tax.sum()
    assert legal["status"] == "over" and legal["spent"] == pytest.approx(spent, rel=1e-9)
    assert ("法務: 2026年10月の支出" if loc == "ja" else "Legal: spend in Oct 2026 of") in page
    assert ("を超過しました" if loc == "ja" else "is over the budget") in page


def test_cost_report_focus_csv(cost_run, october):
    loc, run = cost_run
    f = pd.read_csv(run.out_dir / run.results["focus_csv"], encoding="utf-8")
    assert {"BilledCost", "EffectiveCost", "BillingCurrency", "ChargeClass", "ChargePeriodStart", "ChargePeriodEnd", "ServiceCategory",
            "ServiceName", "SkuId", "SkuMeter", "ConsumedQuantity", "ConsumedUnit", "PricingUnit", "ListUnitPrice", "Tags"} <= set(f.columns)
    assert f.BilledCost.sum() == pytest.approx(october[october.priced].cost_usd.sum(), rel=1e-9)  # USD, as billed
    # the yen view is the report's chargeback: same fact, same number, department by department
    by = f.groupby("SubAccountName")[["x_ReportingBilledCost", "x_ReportingConsumptionTax", "x_ReportingBilledCostInclTax"]].sum()
    for d in run.results["by_department"]:
        if d["department"] not in by.index: assert d["cost"] == 0; continue  # only unpriced calls: nothing to bill
        assert by.loc[d["department"]].tolist() == pytest.approx([d["cost"], d["tax"], d["total"]], rel=1e-9), d["department"]
    assert (run.out_dir / run.results["focus_csv"].replace(".csv", ".metadata.json")).exists()
    assert set(f.ChargePeriodStart.str[:7]) == {PERIOD}
    from llmops_nb.reports import file_entry, verify_manifest  # the CSV is an output of the run, hashed in its manifest
    listed = {o["path"]: o for o in run.manifest["outputs"]}
    assert listed[run.results["focus_csv"]]["sha256"] == file_entry(run.out_dir / run.results["focus_csv"], run.out_dir)["sha256"]
    assert verify_manifest(run.out_dir) == []


def test_cost_report_anomaly_and_forecast(cost_run):
    loc, run = cost_run
    res = run.results
    assert ("2026-10-15", "legal") in {(a["date"][:10], a["department"]) for a in res["anomalies"]}
    fc = res["forecast"]
    assert [r["month"] for r in fc] == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert all(r["low"] <= r["forecast"] <= r["high"] for r in fc)


def test_roi_report_renders_offline(roi_run):
    loc, run = roi_run
    assert run.status == "ok"
    page = _page(run)
    assert offline_violations(page) == []
    assert ("生成AI投資対効果" if loc == "ja" else "Generative AI return on investment") in page
    assert ("契約書レビュー" if loc == "ja" else "Contract review") in page
    assert "mirai-contract-ja-ft" in page  # unpriced calls are named in every cost report


def test_roi_report_figures_match_pandas(roi_run, october, ws):
    loc, run = roi_run
    res = run.results
    cr = october[october.use_case.eq("contract_review")]
    ok = cr.error_type.isna() & (cr.status_code.fillna(200) < 400) & ~(cr.quality_score < 0.7)
    base = [r for r in res["roi"] if r["use_case"] == "contract_review" and r["case"] == "base"][0]
    assert base["benefit_monthly"] == pytest.approx(ok.sum() * 0.75 * 6_500, rel=1e-9)  # roi.yaml: 0.75 h, ¥6,500 an hour
    assert base["api_cost_monthly"] == pytest.approx(cr.cost_jpy_incl_tax.sum(), rel=1e-9)
    assert base["cost_monthly"] == pytest.approx(cr.cost_jpy_incl_tax.sum() + 4_000_000 / 36, rel=1e-9)
    # the blended API price and the self-hosting break-even
    api = october[october.priced & october.provider_name.ne("self_hosted")]
    usd_per_mtok = api.cost_usd.sum() / (api.input_tokens.sum() + api.output_tokens.sum()) * 1e6
    assert res["api_usd_per_mtok"] == pytest.approx(usd_per_mtok, rel=1e-9)
    sh = res["selfhost"][0]
    assert sh["monthly_usd"] == pytest.approx(0.85 * 2 * 730)
    expected_be = 0.85 * 2 * 730 / usd_per_mtok
    assert (sh["breakeven_mtok"] is None) == (expected_be > 1200 * 3600 * 730 * 0.35 / 1e6)
    # routing: a saving is never claimed without the quality change next to it
    for r in res["routing"]:
        assert set(r["totals"]) >= {"saving", "quality_change"}
        assert r["totals"]["cost_before"] == pytest.approx(
            october[october.priced & october.operation_name.fillna("chat").ne("embeddings")].cost_jpy.sum(), rel=1e-9)
