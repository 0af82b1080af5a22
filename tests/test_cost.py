"Cost: budgets and alerts on planted overruns, FOCUS export, forecast, anomalies, scenarios, routing, self-hosting and ROI arithmetic."
import json
import math
import shutil
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from llmops_nb import cost as K
from llmops_nb import schema
from llmops_nb.cli.cost import cli_cost
from llmops_nb.config import Settings
from llmops_nb.pricing import PriceBook, PriceBookError, parse_price_book, price_requests

TOY_BOOK = replace(parse_price_book("overrides:\n  - {model: toy-model, provider: acme, input_mtok: 1.0, output_mtok: 2.0}\n"
                                    "  - {model: toy-mini, provider: acme, input_mtok: 0.1, output_mtok: 0.2}\n"),
                   currency="JPY", fx_rate=150.0, tax_rate=0.10)


def toy_logs(anomaly=True, end="2026-10-31"):
    "One call a day per department: legal $2.00 on weekdays (¥330 with tax), sales half, support a quarter; weekends a tenth."
    rows = []
    for d in pd.date_range("2026-08-01", end, freq="D", tz="UTC"):
        wk = 1.0 if d.weekday() < 5 else 0.1
        for dept, f in (("legal", 1.0), ("sales", .5), ("support", .25)):
            k = f * wk * (10 if anomaly and dept == "legal" and d.date() == date(2026, 10, 15) else 1)
            rows.append(dict(ts_start=d + pd.Timedelta(hours=3), request_id=f"{dept}-{d:%Y%m%d}", provider_name="acme",
                             request_model="toy-model", input_tokens=round(1_000_000 * k), output_tokens=round(500_000 * k),
                             department=dept, team=f"{dept}-team", project=f"p-{dept}", cost_center=f"CC-{dept}",
                             use_case=f"uc-{dept}", user_id_hash=f"u{len(rows) % 7}", quality_score=.9, status_code=200))
    return schema.conform(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def toy():
    return price_requests(toy_logs(), TOY_BOOK)


S = Settings(name="Toy KK", monthly_budget=10_000.0, alert_threshold=0.8, currency="JPY")
BUDGETS = K.parse_budgets("departments:\n  - {department: legal, monthly: 6000}\n  - {department: sales, monthly: 4000, from: 2026-09}\n", S)


# --- budgets and alerts ---------------------------------------------------------------------------------------------

def test_budget_status_hand_worked(toy):
    st = K.budget_status(toy, BUDGETS).set_index(["name", "month"])
    # legal, October: 21 weekdays × ¥330 + the anomaly day ¥3,300 + 9 weekend days × ¥33
    assert st.loc[("legal", "2026-10"), "spent"] == pytest.approx(21 * 330 + 3300 + 9 * 33, abs=1e-6)
    assert st.loc[("legal", "2026-10"), "status"] == "over"
    # sales, October: 22 × ¥165 + 9 × ¥16.50 = ¥3,778.50 → 94 % of ¥4,000: alert
    assert st.loc[("sales", "2026-10"), "spent"] == pytest.approx(3778.5, abs=1e-6)
    assert st.loc[("sales", "2026-10"), "status"] == "alert"
    assert ("sales", "2026-08") not in st.index  # its budget starts in September
    # the organisation: every month over ¥10,000
    assert st.loc[(S.name, "2026-08"), "spent"] == pytest.approx(toy[toy.ts_start.dt.month == 8].cost_jpy_incl_tax.sum(), abs=1e-6)


def test_forecast_overrun_raises_an_alert_before_the_budget_is_spent():
    mid = K.budget_status(price_requests(toy_logs(anomaly=False, end="2026-10-14"), TOY_BOOK), BUDGETS, as_of="2026-10-14")
    r = mid.set_index(["name", "month"]).loc[("legal", "2026-10")]
    assert r.spent == pytest.approx(10 * 330 + 4 * 33, abs=1e-6)  # 57 %: below the 80 % threshold
    assert r.forecast == pytest.approx(22 * 330 + 9 * 33, abs=1e-6)  # ¥7,557 > ¥6,000
    assert r.status == "forecast_over"
    al = K.budget_alerts(mid, "en", names={"legal": "Legal"})
    assert any(m.startswith("Legal: the month-end projection for Oct 2026 of ¥7,557 will exceed the budget of ¥6,000") for m in al.message)


def test_alert_messages_in_both_languages(toy):
    st = K.budget_status(toy, BUDGETS)
    en, ja = K.budget_alerts(st, "en"), K.budget_alerts(st, "ja")
    assert en.status.iloc[0] == "over" and len(en) == len(ja)
    assert "legal: spend in Oct 2026 of ¥10,527 is over the budget of ¥6,000 (175%)" in en.message.tolist()
    assert "legal: 2026年10月の支出 ¥10,527 が予算 ¥6,000 を超過しました(175%)" in ja.message.tolist()


@pytest.mark.parametrize("text, message", [
    ("departments:\n  - {department: legal, monthly: -5}\n", "budgets.yaml:2: departments[0].monthly: -5 is not allowed"),
    ("departments:\n  - {department: legal, monthly: 5, from: 2026-13}\n", "departments[0].from: '2026-13' is not allowed; expected a month YYYY-MM"),
    ("departments:\n  - {department: legal, monthly: 5}\n  - {department: legal, monthly: 6}\n", "budgets.yaml:3: departments[1]: a second budget for legal"),
    ("alert_threshold: 1.5\n", "budgets.yaml:1: alert_threshold: 1.5 is not allowed"),
    ("departmens: []\n", "budgets.yaml:1: departmens: unknown key"),
])
def test_budget_file_errors(text, message):
    with pytest.raises(PriceBookError) as e: K.parse_budgets(text, S)
    assert message in str(e.value)


# --- the demo workspace: planted overrun and anomaly ----------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_ws(demo_raw_workspace, tmp_path_factory):
    "The 3,000-row demo with its prices, budgets and ROI assumptions, ingested."
    from llmops_nb import logs
    ws = tmp_path_factory.mktemp("cost_demo") / "ws"
    shutil.copytree(demo_raw_workspace, ws)
    K.write_demo_cost(ws)
    logs.ingest(sorted((ws / "raw").iterdir()), ws, gx=False, progress=False)
    return ws


@pytest.fixture(scope="module")
def demo_priced(demo_ws):
    from llmops_nb.pricing import load_priced
    return load_priced(demo_ws)


def test_demo_planted_overrun_is_the_only_department_overrun(demo_ws, demo_priced):
    st = K.budget_status(demo_priced, K.load_budgets(demo_ws))
    over = st[(st.scope == "department") & (st.status == "over")]
    assert over[["name", "month"]].values.tolist() == [["legal", "2026-10"]]
    # independent: legal's October spend with tax, summed straight from the priced rows
    legal_oct = demo_priced[demo_priced.department.eq("legal") & (demo_priced.ts_start.dt.strftime("%Y-%m") == "2026-10")]
    r = over.iloc[0]
    assert r.spent == pytest.approx(legal_oct.cost_jpy_incl_tax.sum(), rel=1e-12)
    assert r.spent > r.budget


def test_demo_cost_anomaly_is_flagged(demo_priced):
    an = K.spend_anomalies(demo_priced)
    assert (pd.Timestamp("2026-10-15"), "legal") in set(zip(an.date, an.department))


def test_demo_cli_cost_exit_codes(demo_ws, capsys):
    assert cli_cost(["-w", str(demo_ws), "-p", "2026-10", "--fail-on", "over", "--locale", "en"]) == 1
    out = capsys.readouterr().out
    assert "ALERT" in out and "legal" in out
    assert cli_cost(["-w", str(demo_ws), "-p", "2026-08", "--fail-on", "over"]) == 0
    assert cli_cost(["-w", str(demo_ws), "-p", "2026-8"]) == 2


# --- chargeback and FOCUS -------------------------------------------------------------------------------------------

def test_chargeback_adds_up(toy):
    oct_ = toy[toy.ts_start.dt.month == 10]
    cb = K.chargeback(oct_, "department").set_index("department")
    assert cb.loc["legal", "total"] == pytest.approx(10_527, abs=1e-6)
    assert cb.loc["legal", "cost"] + cb.loc["legal", "tax"] == pytest.approx(cb.loc["legal", "total"], abs=1e-9)
    assert cb.total.sum() == pytest.approx(oct_.cost_jpy_incl_tax.sum(), abs=1e-6)
    assert cb.share.sum() == pytest.approx(1.0)
    users = K.chargeback(oct_, "user")
    assert list(users.columns[:1]) == ["user_id_hash"] and users.calls.sum() == len(oct_)


FOCUS_REQUIRED = ["BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
                  "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ServiceCategory", "ServiceName", "SkuId",
                  "ConsumedQuantity", "ConsumedUnit", "PricingUnit", "ListUnitPrice", "Tags"]


def test_focus_export_hand_worked(toy, tmp_path):
    path = K.export_focus_csv(toy, tmp_path / "focus.csv", "Toy KK")
    f = pd.read_csv(path, encoding="utf-8")
    assert set(FOCUS_REQUIRED) <= set(f.columns)
    r = f[(f.ChargePeriodStart == "2026-08-04T00:00:00Z") & (f.SubAccountName == "legal")].sort_values("SkuId")
    # 1,000,000 input tokens at $1 and 500,000 output tokens at $2 per million: $1.00 each, ¥150 each at 150 yen
    assert r.ConsumedQuantity.tolist() == [1_000_000, 500_000] and r.BilledCost.tolist() == [1.0, 1.0]
    assert r.ListUnitPrice.tolist() == [1.0, 2.0] and r.PricingQuantity.tolist() == [1.0, 0.5]
    assert r.PricingUnit.unique().tolist() == ["1000000 Tokens"] and r.ChargeClass.isna().all()
    assert r.x_ReportingBilledCost.tolist() == pytest.approx([150.0, 150.0])
    assert r.ChargePeriodEnd.tolist() == ["2026-08-05T00:00:00Z"] * 2 and r.BillingPeriodStart.tolist() == ["2026-08-01T00:00:00Z"] * 2
    assert r.x_ReportingConsumptionTax.tolist() == pytest.approx([15.0, 15.0])
    assert json.loads(r.Tags.iloc[0]) == {"department": "legal", "team": "legal-team", "project": "p-legal", "cost_center": "CC-legal",
                                          "use_case": "uc-legal", "user_id_hash": json.loads(r.Tags.iloc[0])["user_id_hash"]}
    assert set(f.ServiceCategory) == {"AI and Machine Learning"} and set(f.ConsumedUnit) == {"Tokens"} and set(f.BillingCurrency) == {"USD"}
    assert f.BilledCost.sum() == pytest.approx(toy.cost_usd.sum(), abs=1e-9)
    assert f.x_ReportingBilledCost.sum() == pytest.approx(toy.cost_jpy.sum(), abs=1e-6)


def test_focus_on_demo_matches_priced_totals(demo_priced):
    oct_ = demo_priced[demo_priced.ts_start.dt.strftime("%Y-%m") == "2026-10"]
    f = K.focus_table(oct_, "Mirai")
    p = oct_[oct_.priced]
    assert f.BilledCost.sum() == pytest.approx(p.cost_usd.sum(), rel=1e-9)
    assert f.ListCost.sum() == pytest.approx(p.cost_list_usd.sum(), rel=1e-9)
    assert f.x_ReportingBilledCost.sum() == pytest.approx(p.cost_jpy.sum(), rel=1e-9)
    assert f.x_ReportingListCost.sum() == pytest.approx((p.cost_list_usd * p.fx_rate).sum(), rel=1e-9)
    assert f.ConsumedQuantity.sum() == pytest.approx(float(p.input_tokens.sum() + p.output_tokens.sum()), rel=1e-12)
    assert f.x_Calls.groupby([f.ChargePeriodStart, f.ResourceId]).max().sum() <= len(p)
    # the contract discount shows as ListCost above BilledCost for Anthropic only
    anth = f[f.ProviderName == "anthropic"]
    assert (anth.ListCost > anth.BilledCost + 1e-12).all() and (f[f.ProviderName == "gcp.gemini"].ListCost == f[f.ProviderName == "gcp.gemini"].BilledCost).all()


# --- forecast -------------------------------------------------------------------------------------------------------

def test_forecast_hand_worked():
    fc = K.forecast_spend(price_requests(toy_logs(anomaly=False, end="2026-10-14"), TOY_BOOK), as_of="2026-10-14")
    # to 14 October: 10 weekdays × ¥577.50 + 4 weekend days × ¥57.75; the rest: 12 weekdays and 5 weekend days
    assert fc.actual_to_date.iloc[0] == pytest.approx(10 * 577.5 + 4 * 57.75, abs=1e-6)
    assert fc.forecast.iloc[0] == pytest.approx(22 * 577.5 + 9 * 57.75, abs=1e-6)
    assert fc.forecast.iloc[1] == pytest.approx(21 * 577.5 + 9 * 57.75, abs=1e-6)  # November
    assert fc.month.tolist() == ["2026-10", "2026-11", "2026-12", "2027-01"]


def test_forecast_band_contains_the_truth_and_widens():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-05-01", "2026-10-31")
    wk = np.where(days.day_of_week < 5, 100.0, 10.0)
    daily = pd.DataFrame(dict(date=days, spend=wk * rng.lognormal(0, .15, len(days))))
    f = K.forecast_spend(None, daily=daily, level=0.9)
    nov = pd.date_range("2026-11-01", "2026-11-30")
    truth = np.where(nov.day_of_week < 5, 100.0, 10.0).sum() * np.exp(.15**2 / 2)
    assert f.low.iloc[1] < truth < f.high.iloc[1]
    w = (f.high - f.low).iloc[1:].to_numpy()
    assert (np.diff(w) > 0).all()


# --- anomalies ------------------------------------------------------------------------------------------------------

def test_anomalies(toy):
    an = K.spend_anomalies(toy)
    assert an[["date", "department"]].values.tolist() == [[pd.Timestamp("2026-10-15"), "legal"]]
    assert an.ratio.iloc[0] == pytest.approx(10.0)
    assert len(K.spend_anomalies(price_requests(toy_logs(anomaly=False), TOY_BOOK))) == 0


# --- scenarios, routing, self-hosting, ROI ----------------------------------------------------------------------------

def test_scenario_estimate_hand_worked():
    book = PriceBook(currency="JPY", fx_rate=150.0, tax_rate=0.10)
    e = K.estimate_monthly(K.Scenario(), book, on=date(2026, 9, 1))
    # 500 × 60 % × 10 × 21 = 63,000 calls; gpt-4o-mini (0.15/0.075/0.60) and gpt-4o (2.50/1.25/10) per call:
    per_mini = (1_400 * 0.15 + 600 * 0.075 + 400 * 0.60) / 1e6
    per_4o = (1_400 * 2.50 + 600 * 1.25 + 400 * 10) / 1e6
    assert e.calls == 63_000
    assert e.cost_usd == pytest.approx(44_100 * per_mini + 18_900 * per_4o, abs=1e-9)
    assert e.cost_incl_tax == pytest.approx(e.cost_usd * 150 * 1.1, abs=1e-9)
    r = K.scenario_range(K.Scenario(), book, on=date(2026, 9, 1)).set_index("case")
    assert r.cost_usd.tolist() == pytest.approx([e.cost_usd * 0.7 * 0.8 * 0.8, e.cost_usd, e.cost_usd * 1.3 ** 3], rel=1e-12)


def test_routing_replay_hand_worked():
    rows = []
    for i in range(160):
        uc, mini = ("drafting", "review")[i % 2], (i // 2) % 2 == 1
        rows.append(dict(ts_start=pd.Timestamp("2026-09-01", tz="UTC") + pd.Timedelta(minutes=i), request_id=f"rt{i}", provider_name="acme",
                         request_model="toy-mini" if mini else "toy-model", input_tokens=1_000_000, output_tokens=0, use_case=uc,
                         operation_name="chat", quality_score=(.8 if uc == "drafting" else .6) if mini else .9))
    p = price_requests(schema.conform(pd.DataFrame(rows)), TOY_BOOK)
    r = K.replay_routing(p, K.route_by_use_case({"drafting": "acme/toy-mini"}), TOY_BOOK)
    d = r.by_use_case.set_index("use_case")
    assert d.loc["drafting", "routed_calls"] == 40
    assert d.loc["drafting", "cost_before"] == pytest.approx(40 * 150 + 40 * 15, abs=1e-9)  # $1 or $0.10 per call at 150 yen
    assert d.loc["drafting", "cost_after"] == pytest.approx(80 * 15, abs=1e-9)
    assert d.loc["drafting", "quality_change"] == pytest.approx(-0.05, abs=1e-12)
    assert r.totals["saving"] == pytest.approx(40 * 135, abs=1e-9)
    assert K.replay_routing(p, K.route_by_prompt_length([(500_000, "acme/toy-mini")]), TOY_BOOK).totals["routed_calls"] == 0


def test_selfhost_hand_worked():
    from llmops_nb.pricing import SelfHosted
    p = SelfHosted("llama", 3.5, 2, 1400, 0.55, "H100")
    assert K.selfhost_monthly_cost(p) == pytest.approx(3.5 * 2 * 730)
    assert p.cost_per_mtok == pytest.approx(7.0 / (1400 * 3600 * 0.55 / 1e6))
    assert K.breakeven_mtok(p, 6.0) == pytest.approx(5110 / 6)
    assert math.isnan(K.breakeven_mtok(p, 2.0))  # dearer per token than the API at any volume
    cv = K.selfhost_vs_api(p, 6.0, [100, 851, 852, 2100])
    assert cv.cheaper.tolist() == ["api", "api", "self-hosted", "self-hosted"] and cv.deployments.tolist() == [1, 1, 1, 2]


def test_roi_arithmetic():
    base = K.ROIInputs(hours_saved_per_task=0.5, tasks_per_person_per_month=20, people=40, loaded_hourly_rate=5_000, adoption=0.6,
                       api_cost_monthly=150_000, licences_monthly=50_000, setup_cost=3_600_000, amortisation_months=36, success_rate=0.9)
    r = K.roi(base)
    # 480 tasks, 432 successful × 0.5 h × ¥5,000 = ¥1,080,000; costs 150,000 + 50,000 + 3,600,000 / 36 = ¥300,000
    assert (r.benefit_monthly, r.cost_monthly, r.net_monthly) == pytest.approx((1_080_000, 300_000, 780_000))
    assert r.payback_months == pytest.approx(3_600_000 / 880_000)
    assert r.net_3y == pytest.approx(36 * 880_000 - 3_600_000)
    assert r.roi_3y == pytest.approx((36 * 880_000 - 3_600_000) / (36 * 200_000 + 3_600_000))
    assert r.cost_per_successful_task == pytest.approx(300_000 / 432)
    assert K.roi(replace(base, success_rate=1.0)).benefit_monthly == pytest.approx(0.5 * 20 * 40 * 5_000 * 0.6)  # textbook formula
    assert K.roi(replace(base, hours_saved_per_task=0.01)).payback_months == math.inf
    cases = K.roi_cases(replace(base, hours_saved_per_task=0.2), base, replace(base, hours_saved_per_task=0.8))
    assert cases.case.tolist() == ["low", "base", "high"] and cases.net_3y.is_monotonic_increasing


def test_roi_from_demo_logs(demo_ws, demo_priced):
    month = demo_priced[demo_priced.ts_start.dt.strftime("%Y-%m") == "2026-10"]
    a = {x.use_case: x for x in K.load_roi(demo_ws)}
    r = K.roi_by_use_case(month, list(a.values()), 0.7).set_index(["use_case", "case"])
    cr = month[month.use_case == "contract_review"]
    ok = cr.error_type.isna() & (cr.status_code.fillna(200) < 400) & ~(cr.quality_score < 0.7)
    base = r.loc[("contract_review", "base")]
    assert base.tasks_monthly == pytest.approx(len(cr))  # one call per task
    assert base.api_cost_monthly == pytest.approx(cr.cost_jpy_incl_tax.sum())
    assert base.benefit_monthly == pytest.approx(ok.sum() * a["contract_review"].hours_saved["base"] * 6_500)
    assert r.loc[("contract_review", "low"), "net_3y"] < base.net_3y < r.loc[("contract_review", "high"), "net_3y"]


def test_roi_file_errors():
    with pytest.raises(PriceBookError, match=r"use_cases.d.hours_saved_per_task: expected low ≤ base ≤ high"):
        K.parse_roi("use_cases:\n  d: {people: 4, loaded_hourly_rate: 1, hours_saved_per_task: {low: .5, base: .2, high: .8}}\n")
    with pytest.raises(PriceBookError, match=r"pricing/roi.yaml:2: use_cases.d.people: 0 is not allowed"):
        K.parse_roi("use_cases:\n  d: {people: 0, loaded_hourly_rate: 1, hours_saved_per_task: {low: .1, base: .2, high: .8}}\n")
