"Tests of the demo workspace generator (llmops_nb.demo): determinism, counts, distributions, plants, events."
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_ROWS

from llmops_nb import demo
from llmops_nb.config import load_settings
from llmops_nb.demo import (
    DEPARTMENTS,
    EVENTS,
    MODELS,
    N_PLANTED_ROWS,
    PLANTED,
    PROMPTS,
    USE_CASES,
    live_prompt_versions,
    make_demo_workspace,
    planted_table,
)
from llmops_nb.schema import COLUMN_NAMES, conform

JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
N_MALFORMED = len(PLANTED["malformed"])


def raw_lines(ws: Path) -> list[bytes]:
    "Every raw JSONL line of a workspace, in file order."
    return [l for f in sorted((ws / "raw").glob("*.jsonl")) for l in f.read_bytes().split(b"\n")[:-1]]


def parse(ws: Path) -> tuple[pd.DataFrame, list[bytes]]:
    "Records that are UTF-8 JSON objects (as a frame, with their file) and the lines that are not."
    recs, bad = [], []
    for f in sorted((ws / "raw").glob("*.jsonl")):
        for l in f.read_bytes().split(b"\n")[:-1]:
            try: recs.append(json.loads(l.decode("utf-8")) | {"_file": f.name})
            except (UnicodeDecodeError, json.JSONDecodeError): bad.append(l)
    return pd.DataFrame(recs), bad


def valid_rows(df: pd.DataFrame) -> pd.DataFrame:
    "Rows that break no planted rule: drop the negative-token, reversed-time and duplicate lines."
    bad_ids = {p.request_id for p in PLANTED["malformed"] if p.kind in ("negative_tokens", "ts_end_before_start")}
    df = df[~df.request_id.isin(bad_ids)]
    return df[~df.request_id.duplicated(keep="first")]


def digests(ws: Path) -> dict:
    return {f.relative_to(ws).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(ws.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def raw(demo_raw_workspace):
    return parse(demo_raw_workspace)


@pytest.fixture(scope="module")
def mid(tmp_path_factory):
    "A 20,000-row workspace for distribution checks, parsed."
    ws = make_demo_workspace(tmp_path_factory.mktemp("demo20k"), rows=20_000, progress=False)
    df, _ = parse(ws)
    v = valid_rows(df).copy()
    v["ts"] = pd.to_datetime(v.ts_start, utc=True, format="ISO8601")
    return ws, v


# ---------------------------------------------------------------- determinism and counts

def test_same_seed_same_bytes_other_seed_other_bytes(demo_raw_workspace, tmp_path):
    a = digests(demo_raw_workspace)
    assert {"settings.ini", "raw/requests_2026-08.jsonl", "raw/requests_2026-09.jsonl",
            "raw/requests_2026-10.jsonl"} <= set(a)  # plus the other modules' demo parts (prompts, evals, …)
    assert digests(make_demo_workspace(tmp_path / "again", rows=DEMO_ROWS, progress=False)) == a
    b = digests(make_demo_workspace(tmp_path / "other", rows=DEMO_ROWS, seed=7, progress=False))
    assert all(a[k] != b[k] for k in a if k.startswith("raw/"))


def test_rebuild_in_place_replaces_files(tmp_path):
    ws = make_demo_workspace(tmp_path / "w", rows=500, months=3, progress=False)
    make_demo_workspace(ws, rows=500, months=1, progress=False)
    assert [f.name for f in sorted((ws / "raw").iterdir())] == ["requests_2026-08.jsonl"]
    assert len(raw_lines(ws)) == 500 + N_MALFORMED


def test_line_and_row_counts(demo_raw_workspace, raw):
    df, bad = raw
    assert len(raw_lines(demo_raw_workspace)) == DEMO_ROWS + N_MALFORMED
    # truncated JSON, plain text and Shift_JIS lines do not parse; the other three malformed lines do
    assert len(bad) == 3
    assert sum(b"ERROR llm-gateway" in l for l in bad) == 1
    with pytest.raises(UnicodeDecodeError): [l.decode("utf-8") for l in bad if b'"ts_start"' in l and l.endswith(b"}")]
    assert len(df) == DEMO_ROWS + 3
    assert len(valid_rows(df)) == DEMO_ROWS
    left_empty = {"custom_id", "cache_creation_1h_input_tokens", "finish_reasons", "system_instructions", "ts_source"}
    assert list(df.columns[:-1]) == [c for c in COLUMN_NAMES if c not in ("source_file", "source_line", *left_empty)]


def test_valid_rows_conform_to_schema(raw):
    v = conform(valid_rows(raw[0]).drop(columns="_file"))
    assert v.request_id.is_unique
    assert (v.ts_end >= v.ts_start).all() and (v.duration_s > 0).all()
    assert v.ts_start.min() >= pd.Timestamp("2026-08-01", tz="UTC") and v.ts_start.max() < pd.Timestamp("2026-11-01", tz="UTC")
    assert raw[0].ts_start.str.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()


def test_rows_land_in_their_month_file(raw):
    df = valid_rows(raw[0])
    assert (("requests_" + df.ts_start.str[:7] + ".jsonl") == df._file).all()


def test_too_few_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 100"): make_demo_workspace(tmp_path, rows=50, progress=False)


def test_settings(demo_raw_workspace):
    s = load_settings(demo_raw_workspace)
    assert (s.name, s.locale, s.currency, s.fx_rate, str(s.fx_date), s.tax_rate) == \
        ("株式会社ミライ商事 / Mirai Trading Co., Ltd.", "ja", "JPY", 150.0, "2026-10-01", 0.10)
    assert s.path("raw") == (demo_raw_workspace / "raw").resolve()


# ---------------------------------------------------------------- planted findings

def test_planted_rows_present_once_with_their_text(raw):
    df = raw[0].set_index("request_id", drop=False)
    for cat in ("pii", "injection", "unapproved_model", "unpriced_model", "duplicate_original"):
        for p in PLANTED[cat]:
            assert (raw[0].request_id == p.request_id).sum() == (2 if cat == "duplicate_original" else 1), p
            row = df.loc[[p.request_id]].iloc[0]
            assert (row.use_case, row.team, row.request_model) == (p.use_case, p.team, MODELS.set_index("key").request_model[p.model])
            assert row.ts_start[11:19] == p.time
            if p.field:
                assert row[p.field] == p.text and p.value in p.text


def test_planted_pii_values_are_valid():
    from stdnum import luhn
    from stdnum.jp import in_ as my_number
    kinds = {p.kind: [] for p in PLANTED["pii"]}
    for p in PLANTED["pii"]: kinds[p.kind].append(p)
    assert {k: len(v) for k, v in kinds.items()} == dict(email=2, phone_jp=2, my_number=1, credit_card=2)
    assert all(luhn.is_valid(p.value.replace(" ", "")) for p in kinds["credit_card"])
    (mn,) = kinds["my_number"]
    assert my_number.is_valid(mn.value.replace(" ", "")) and "マイナンバー" in mn.text
    assert [p.value[:3] for p in kinds["phone_jp"]] == ["090", "03-"]
    assert sum(p.field == "input_text" for p in PLANTED["pii"]) == 1


def test_planted_injections_cover_both_languages():
    inj = PLANTED["injection"]
    assert len(inj) == 6 and all(p.field == "input_text" and p.value in p.text for p in inj)
    assert {p.lang for p in inj} == {"ja", "en"}
    assert any("以前の指示を無視" in p.text for p in inj) and any("ignore previous instructions" in p.text.lower() for p in inj)
    assert any(re.search(r"[\u200b\u2063]", p.text) for p in inj)


def test_malformed_lines(raw):
    df, bad = raw
    mal = {p.kind: p for p in PLANTED["malformed"]}
    assert (df.set_index("request_id").loc[mal["negative_tokens"].request_id, "output_tokens"] < 0)
    r = df.set_index("request_id").loc[mal["ts_end_before_start"].request_id]
    assert r.ts_end < r.ts_start
    dup = df[df.request_id == mal["duplicate_request_id"].request_id]
    assert len(dup) == 2 and dup.ts_start.iloc[0] < dup.ts_start.iloc[1]
    assert sum(1 for l in bad if l.startswith(b'{"ts_start"') and not l.endswith(b"}")) == 1


def test_planted_table_matches_constant():
    t = planted_table()
    assert len(t) == sum(map(len, PLANTED.values())) == N_PLANTED_ROWS + N_MALFORMED
    assert t[t.category != "malformed"].request_id.is_unique


# ---------------------------------------------------------------- distributions

def test_use_cases_languages_and_models(mid):
    _, v = mid
    assert set(v.use_case) == set(USE_CASES.use_case)
    lang = np.where(v.input_text.fillna("").str.contains(JA), "ja", "en")
    both = pd.crosstab(v.use_case, lang)
    assert (both > 0).all().all(), both
    assert set(v.provider_name) == {"openai", "anthropic", "gcp.gemini", "self_hosted", "deepseek", "azure.ai.openai"}
    assert set(v.request_model) == set(MODELS.request_model)
    # English support questions are answered in English
    sup = v[(v.use_case == "support_chatbot") & v.output_text.notna()]
    assert (sup.input_text.str.contains(JA) == sup.output_text.str.contains(JA)).all()


def test_error_rate_and_types(mid):
    _, v = mid
    err = v.error_type.notna()
    assert 0.004 <= err.mean() <= 0.012
    assert set(v.error_type.dropna()) <= set(demo.ERROR_TYPES)
    assert (v.status_code[~err] == 200).all() and (v.status_code[err] >= 400).all()
    codes = v[err].groupby("error_type").status_code.unique().map(lambda a: sorted(a))
    assert codes.get("rate_limit") == [429]
    assert (v[v.error_type.isin(["rate_limit", "server_error", "overloaded"])].input_tokens == 0).all()
    assert (v.finish_reason[~err].isin(["stop", "length"])).all()


def test_token_semantics(mid):
    _, v = mid
    assert (v.cache_read_input_tokens + v.cache_creation_input_tokens <= v.input_tokens).all()
    assert (v.reasoning_output_tokens <= v.output_tokens).all()
    assert set(v[v.reasoning_output_tokens > 0].request_model) == {"o3-mini"}
    assert set(v[v.cache_creation_input_tokens > 0].provider_name) == {"anthropic"}
    anth = v[(v.provider_name == "anthropic") & (v.input_tokens >= 1500)]
    assert 0.5 < (anth.cache_read_input_tokens > 0).mean() < 0.9
    emb = v[v.operation_name == "embeddings"]
    assert len(emb) and (emb.output_tokens == 0).all() and emb.prompt_name.isna().all()
    assert (v.input_tokens > 200_000).sum() > 0  # long-context tier
    assert set(v[v.input_tokens > 128_000].request_model) == {"gemini-1.5-pro"}


def test_token_profiles_follow_use_cases(mid):
    _, v = mid
    med = v[v.operation_name == "chat"].groupby("use_case").input_tokens.median()
    assert med.idxmax() == "contract_review" and med.idxmin() == "email_generation"


def test_batch_calls_run_at_night_in_tokyo(mid):
    _, v = mid
    b = v[v.is_batch & (v.ts.dt.strftime("%Y-%m-%d") != EVENTS["cost_anomaly"]["date"])]
    assert set(b.use_case) == {"contract_review"} and (b.service_tier == "batch").all()
    assert set(b.ts.dt.hour) <= {17, 18, 19}  # 02:00–05:00 JST
    assert (v.service_tier[~v.is_batch] == "standard").all()


def test_office_hours_weekdays_and_growth(mid):
    _, v = mid
    office = v[v.use_case != "support_chatbot"]
    jst = office.ts + pd.Timedelta(hours=9)
    assert ((jst.dt.hour >= 8) & (jst.dt.hour < 20)).mean() > 0.9
    assert (jst.dt.day_of_week < 5).mean() > 0.9
    monthly = v.groupby(v.ts_start.str[:7]).size()
    assert monthly["2026-10"] > 1.15 * monthly["2026-08"]


def test_latency_follows_output_and_ttft_only_when_streaming(mid):
    _, v = mid
    ok = v[v.error_type.isna() & (v.operation_name == "chat")]
    assert np.corrcoef(ok.output_tokens, ok.duration_s)[0, 1] > 0.3
    streaming = ok.use_case.isin(USE_CASES[USE_CASES.streaming].use_case) & ~ok.is_batch
    assert ok.ttft_s[streaming].notna().all() and ok.ttft_s[~streaming].isna().all()
    assert (ok.ttft_s[streaming] < ok.duration_s[streaming]).all()


def test_quality_feedback_and_prompt_versions(mid):
    _, v = mid
    q = v.quality_score.dropna()
    assert q.between(0, 1).all() and 0.2 < len(q) / len(v) < 0.5
    assert set(v.feedback.dropna()) == {-1, 0, 1} and v.feedback.notna().mean() < 0.1
    day = v.ts.dt.date
    for name, vs in PROMPTS.items():
        rows = v[v.prompt_name == name]
        assert set(rows.prompt_version) == set(map(str, vs)), name
        live = [str(x) in map(str, live_prompt_versions(name, d)) for x, d in zip(rows.prompt_version, day[rows.index])]
        assert all(live), name
    sup = v[v.prompt_name == "support_chatbot"].groupby("prompt_version").quality_score.mean()
    assert sup["1.10"] > sup["1.9"] > sup["1.8"]
    oct_email = v[(v.prompt_name == "sales_email") & (v.ts_start >= "2026-10")].groupby("prompt_version").quality_score.mean()
    assert oct_email["1.3"] < oct_email["1.2"] - 0.02  # the regression an eval should catch


def test_chargeback_dimensions(mid):
    _, v = mid
    cc = DEPARTMENTS.set_index("department").cost_center
    assert (v.cost_center == v.department.map(cc)).all()
    assert set(v[v.use_case == "knowledge_search"].department) == set(DEPARTMENTS.department)
    assert v.user_id_hash.str.fullmatch(r"[0-9a-f]{16}").all()
    assert v.groupby("conversation_id").size().max() > 1


def test_budget_sized_to_peak_month(mid):
    ws, v = mid
    s = load_settings(ws)
    cols = {c: v[c].to_numpy() for c in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                                          "output_tokens", "is_batch")}
    cols["_model"] = v.request_model.map({m: i for i, m in enumerate(MODELS.request_model)}).to_numpy()
    v = v.assign(jpy=demo.list_cost_usd(cols) * s.fx_rate * (1 + s.tax_rate), month=v.ts_start.str[:7])
    by_month = v.groupby("month").jpy.sum() / s.monthly_budget
    assert 0.9 < by_month.max() <= 0.94 and by_month.idxmax() == "2026-10"
    assert by_month["2026-08"] < s.alert_threshold
    assert s.alert_threshold < by_month.max() / (1 + s.tax_rate)  # over the alert line with or without tax


def test_budget_with_the_pricing_module(mid):
    "Priced by llmops_nb.pricing at list prices, October still lands between the alert threshold and 100 %+."
    pricing = pytest.importorskip("llmops_nb.pricing")
    ws, v = mid
    s = load_settings(ws)
    priced = pricing.price_requests(conform(v.drop(columns=["_file", "ts"])))
    jpy = priced.cost_usd.groupby(v.ts_start.str[:7].to_numpy()).sum() * s.fx_rate * (1 + s.tax_rate)
    assert s.alert_threshold < jpy["2026-10"] / s.monthly_budget < 1.15


# ---------------------------------------------------------------- events

def _day(date_str: str, n: int = 30_000, seed: int = 42) -> pd.DataFrame:
    day = pd.Timestamp(date_str, tz="UTC")
    i = (day - pd.Timestamp("2026-08-01", tz="UTC")).days
    uc = np.repeat(np.arange(len(USE_CASES)), demo.largest_remainder(USE_CASES.share.to_numpy(), n))
    c = demo.generate_day(np.random.default_rng([seed, i]), i, day, uc, seed)
    df = pd.DataFrame({k: v for k, v in c.items() if not k.startswith("_")})
    df["ts"] = pd.to_datetime(df.ts, unit="us", utc=True)
    return df


@pytest.mark.parametrize("event", ["error_burst", "latency_spike", "cost_anomaly"])
def test_event_days_keep_the_invariants(event):
    df = _day(EVENTS[event]["date"], n=5_000)
    err = df.error_type.notna()
    assert (df.output_text.isna() == (err | (df.operation_name == "embeddings"))).all()
    assert (df.reasoning_output_tokens[err] == 0).all() and (df.output_tokens >= df.reasoning_output_tokens).all()
    assert (df.cache_read_input_tokens + df.cache_creation_input_tokens <= df.input_tokens).all()
    assert (df.finish_reason[err].isin(["error", "content_filter"])).all() and df.ttft_s[err].isna().all()


def test_error_burst():
    ev = EVENTS["error_burst"]
    df = _day(ev["date"])
    inside = df.ts.dt.strftime("%H:%M").between(ev["start"], ev["end"], inclusive="left") & (df.provider_name == ev["provider"])
    assert df[inside].error_type.eq("rate_limit").mean() > 0.2
    assert df[~inside].error_type.notna().mean() < 0.02


def test_latency_spike():
    ev = EVENTS["latency_spike"]
    df = _day(ev["date"])
    ok = df[df.error_type.isna() & (df.provider_name == ev["provider"])]
    inside = ok.ts.dt.strftime("%H:%M").between(ev["start"], ev["end"], inclusive="left")
    assert ok[inside].duration_s.median() > 3 * ok[~inside].duration_s.median()


def test_cost_anomaly_day_in_legal():
    ev = EVENTS["cost_anomaly"]
    plan = demo.day_plan(demo.demo_days(), 100_000)
    legal = plan[ev["use_case"]]
    assert legal[ev["date"]] > 3 * legal.drop(pd.Timestamp(ev["date"], tz="UTC")).median()
    df = _day(ev["date"], n=5_000)
    cr = df[df.use_case == ev["use_case"]]
    assert (cr.request_model == ev["model"]).mean() > 0.7 and cr.input_tokens.median() > 50_000
    assert cr.is_batch.mean() < 0.15  # a runaway synchronous script, not the nightly batch


# ---------------------------------------------------------------- models and prices

def test_models_priced_by_genai_prices(mid):
    "Every public model id in the logs is in the genai-prices catalogue, at the list prices MODELS records."
    from genai_prices.data_snapshot import get_snapshot
    snap = get_snapshot()
    prov = {"gcp.gemini": "google", "azure.ai.openai": "azure"}
    _, v = mid
    m = MODELS.set_index("request_model")
    for (p, req, resp), _g in v.groupby(["provider_name", "request_model", "response_model"], dropna=False):
        row = m.loc[req]
        if not row.in_catalogue:
            with pytest.raises(LookupError): snap.find_provider_model(req, None, prov.get(p, p), None)
            continue
        for name in (req, resp):
            if isinstance(name, str): snap.find_provider_model(name, None, prov.get(p, p), None)
        _, info = snap.find_provider_model(req, None, prov.get(p, p), None)
        price = info.prices if not isinstance(info.prices, list) else info.prices[-1].prices
        base = lambda x: float(getattr(x, "base", x) or 0)
        assert base(price.input_mtok) == pytest.approx(row.list_usd_in), req
        assert base(price.output_mtok) == pytest.approx(row.list_usd_out), req
    unknown = MODELS[~MODELS.in_catalogue]
    assert set(unknown.provider) == {"self_hosted", "azure.ai.openai"} and set(unknown.tier) == {"self_hosted", "fine_tuned"}
    assert (v.provider_name == "azure.ai.openai").sum() == len(PLANTED["unpriced_model"])
    assert (v.request_model == "deepseek-chat").sum() == len(PLANTED["unapproved_model"])


# ---------------------------------------------------------------- the loader reads it

def test_logs_reader_accounts_for_every_line(demo_raw_workspace):
    logs = pytest.importorskip("llmops_nb.logs")
    if not hasattr(logs, "read_logs"): pytest.skip("llmops_nb.logs.read_logs not available yet")
    valid, quarantined = 0, 0
    for f in sorted((demo_raw_workspace / "raw").glob("*.jsonl")):
        res = logs.read_logs(f)
        valid += len(res.valid); quarantined += len(res.quarantine)
    assert valid + quarantined == DEMO_ROWS + N_MALFORMED
    assert quarantined == N_MALFORMED


# ---------------------------------------------------------------- scale

@pytest.mark.bench
def test_bench_one_million_rows(tmp_path):
    import resource
    import time
    t = time.perf_counter()
    ws = make_demo_workspace(tmp_path / "m", rows=1_000_000, progress=False)
    secs = time.perf_counter() - t
    size = sum(f.stat().st_size for f in (ws / "raw").iterdir())
    print(f"\n1M rows: {secs:.1f} s ({1e6 / secs:,.0f} rows/s), {size / 1e9:.2f} GB raw, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    assert len(raw_lines(ws)) == 1_000_000 + N_MALFORMED


def test_ingested_demo_workspace(demo_workspace, demo_ingest_summary):
    "The shared fixture: every valid row in the store, the malformed lines in the quarantine."
    from llmops_nb import logs
    assert (demo_ingest_summary.valid, demo_ingest_summary.quarantined) == (DEMO_ROWS, N_MALFORMED)
    df = logs.load_requests(demo_workspace)
    assert len(df) == DEMO_ROWS and df.request_id.is_unique
    assert set(df.ts_start.dt.strftime("%Y-%m")) == {"2026-08", "2026-09", "2026-10"}
    planted = planted_table()
    assert set(planted[planted.category.isin(["pii", "injection"])].request_id) <= set(df.request_id)
    q = logs.load_quarantine(demo_workspace)
    assert len(q) == N_MALFORMED


def test_refresh_removes_the_old_store_and_refuses_foreign_workspaces(tmp_path):
    ws = make_demo_workspace(tmp_path / "w", rows=200, progress=False)
    (ws / "store" / "requests").mkdir(parents=True)
    (ws / "store" / "requests" / "old.parquet").write_bytes(b"stale")
    make_demo_workspace(ws, rows=200, progress=False)
    assert not (ws / "store").exists()
    other = tmp_path / "other"; other.mkdir()
    (other / "settings.ini").write_text("[organisation]\nname = Example Corp\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not the demo company"): make_demo_workspace(other, rows=200, progress=False)
    assert not (other / "raw").exists()


def test_safety_scanner_finds_exactly_the_planted_rows(mid):
    "The text banks hold no PII or injection by accident: the scanner flags the planted rows and nothing else."
    safety = pytest.importorskip("llmops_nb.safety")
    _, v = mid
    found = safety.scan_requests(conform(v.drop(columns=["_file", "ts"])))
    planted = planted_table().query("category in ['pii', 'injection']")
    assert set(found.request_id) == set(planted.request_id)
    fam = found.groupby("request_id").family.first()
    assert (fam[planted.request_id].to_numpy() == planted.category.to_numpy()).all()
