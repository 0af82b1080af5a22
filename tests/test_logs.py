"Request-log ingestion: readers per provider (hand-worked rows), detection, quarantine, chunking, store, GX agreement."
import gzip
import hashlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmops_nb import logs as L
from llmops_nb.schema import COLUMN_NAMES, empty_requestlog, requestlog_checks

DATA = Path(__file__).parent / "data" / "logs"
NOW = "2026-11-01"
TOK = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens", "reasoning_output_tokens"]


def toks(df):
    "Token columns per row, missing as -1."
    return df[TOK].astype("float").fillna(-1).astype(int).values.tolist()


def sha16(salt, user):
    return hashlib.sha256(f"{salt}\x1f{user}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------- synthetic native logs

def native_frame(n: int, seed: int = 0, start: str = "2026-08-01", days: int = 90) -> pd.DataFrame:
    "n clean native rows (as raw values) spread over `days` days."
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, days * 86400, n)), unit="s")
    dur = rng.uniform(0.2, 8, n).round(3)
    inp = rng.integers(50, 6000, n)
    cache = (inp * rng.uniform(0, 0.9, n)).astype(int)
    out = rng.integers(1, 1500, n)
    reas = (out * rng.uniform(0, 0.5, n)).astype(int)
    iso = lambda s: s.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    return pd.DataFrame(dict(
        ts_start=iso(pd.Series(ts)), ts_end=iso(pd.Series(ts + pd.to_timedelta(dur, unit="s"))), duration_s=dur,
        request_id=[f"r-{seed}-{i:07d}" for i in range(n)], operation_name="chat",
        provider_name=rng.choice(["openai", "anthropic", "gcp.gemini", "self_hosted"], n),
        request_model=rng.choice(["gpt-4.1-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "llama-3.3-70b"], n),
        service_tier=rng.choice(["standard", "batch", "flex"], n), input_tokens=inp, cache_read_input_tokens=cache,
        cache_creation_input_tokens=0, output_tokens=out, reasoning_output_tokens=reas,
        finish_reason=rng.choice(["stop", "length", "end_turn"], n), status_code=200,
        department=rng.choice(["legal", "sales", "customer_support", "hr", "engineering"], n),
        user_id_hash=[f"{x:016x}" for x in rng.integers(0, 2**60, n)],
        quality_score=rng.uniform(0, 1, n).round(3), feedback=rng.choice([-1, 0, 1], n)))


def write_jsonl(df: pd.DataFrame, path: Path) -> Path:
    df.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


# ---------------------------------------------------------------- readers, hand-worked

@pytest.mark.parametrize("name,fmt,expected,extra", [
    ("openai_chat.jsonl", "openai", [[3512, 2944, 0, 418, 0], [950, 0, 0, 2048, 1664], [85, 0, 0, 0, -1]],
     dict(finish_reason=["stop", "length", None], service_tier=["standard", "flex", None], department=["legal", None, "hr"])),
    ("openai_responses.jsonl", "openai", [[1840, 1536, 0, 1250, 896], [620, 0, 0, 512, 512]],
     dict(finish_reason=["stop", "max_output_tokens"], service_tier=["standard", "priority"])),
    ("openai_batch_output.jsonl", "openai_batch", [[742, 512, 0, 186, 0], [655, 0, 0, 143, 0], [0, -1, -1, 0, -1], [0, -1, -1, 0, -1]],
     dict(status_code=[200, 200, 400, None], is_batch=[True] * 4, service_tier=["batch"] * 4)),
    ("anthropic_messages.jsonl", "anthropic", [[2460, 0, 2048, 503, -1], [2446, 2048, 0, 1024, -1], [0, -1, -1, 0, -1]],
     dict(status_code=[200, 200, 529], error_type=[None, None, "overloaded_error"])),
    ("gemini_generate_content.jsonl", "gemini", [[1250, 1024, 0, 900, 520], [1100, 0, 0, 256, 0], [55, 0, 0, 0, 0]],
     dict(finish_reason=["stop", "max_tokens", "safety"], operation_name=["generate_content"] * 3)),
    ("otlp_genai_traces.json", "otlp", [[64, -1, -1, 0, -1], [2200, 1800, -1, 310, -1], [0, -1, -1, 0, -1], [3000, -1, 2500, 420, -1]],
     dict(operation_name=["embeddings", "chat", "chat", "chat"], status_code=[None, None, 429, None])),
    ("litellm_spend_logs.json", "litellm", [[1350, 1024, -1, 224, 0], [2460, 0, 2048, 503, -1], [0, -1, -1, 0, -1]],
     dict(status_code=[200, 200, 429], team=["cs-tier1", "contracts", "cs-tier1"])),
    ("litellm_spend_logs.csv", "litellm", [[640, 512, -1, 171, -1], [640, -1, -1, 171, -1], [85, -1, -1, 0, -1]],
     dict(usage_source=["provider", "proxy_cache", "provider"])),
    ("langfuse_observations.json", "langfuse", [[2000, 800, 0, 420, 120], [530, -1, -1, 95, -1], [0, -1, -1, 0, -1]],
     dict(provider_name=["openai", "anthropic", "openai"], error_type=[None, None, "RateLimitError"])),
    ("langfuse_observations.csv", "langfuse", [[1000, 300, 0, 300, 90]], dict(provider_name=["gcp.gemini"])),
])
def test_reader_matches_hand_worked_rows(name, fmt, expected, extra):
    # LiteLLM's CSV export writes its (UTC) times without an offset: naive times need an explicit zone (issue 13)
    r = L.read_logs(DATA / name, now=NOW)
    assert r.format == fmt
    assert len(r.quarantine) == 0
    assert toks(r.valid) == expected
    for col, values in extra.items():
        assert [None if pd.isna(v) else v for v in r.valid[col]] == values, col
    # the token semantics the rest of the toolkit relies on
    v = r.valid
    assert (v.input_tokens >= v.cache_read_input_tokens.fillna(0) + v.cache_creation_input_tokens.fillna(0)).all()
    assert (v.output_tokens >= v.reasoning_output_tokens.fillna(0)).all()


def test_anthropic_input_is_the_sum_of_its_three_parts():
    raw = [json.loads(l)["response"] for l in (DATA / "anthropic_messages.jsonl").read_text().splitlines()][:2]
    r = L.read_logs(DATA / "anthropic_messages.jsonl")
    for u, got in zip(raw, r.valid.itertuples()):
        u = u["usage"]
        assert got.input_tokens == u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
        assert got.cache_read_input_tokens == u["cache_read_input_tokens"]
        assert got.output_tokens == u["output_tokens"]


def test_gemini_output_adds_thoughts_to_candidates():
    rec = json.loads((DATA / "gemini_generate_content.jsonl").read_text().splitlines()[0])["response"]["usageMetadata"]
    row = L.read_logs(DATA / "gemini_generate_content.jsonl").valid.iloc[0]
    assert row.output_tokens == rec["candidatesTokenCount"] + rec["thoughtsTokenCount"]
    assert row.reasoning_output_tokens == rec["thoughtsTokenCount"]
    assert row.input_tokens == rec["promptTokenCount"] and row.cache_read_input_tokens == rec["cachedContentTokenCount"]


def test_openai_subsets_are_copied_not_added():
    rec = json.loads((DATA / "openai_chat.jsonl").read_text().splitlines()[0])["response"]["usage"]
    row = L.read_logs(DATA / "openai_chat.jsonl").valid.iloc[0]
    assert row.input_tokens == rec["prompt_tokens"] and row.output_tokens == rec["completion_tokens"]
    assert row.cache_read_input_tokens == rec["prompt_tokens_details"]["cached_tokens"]


def test_wrapper_metadata_wins_and_users_are_pseudonymised():
    r = L.read_logs(DATA / "openai_chat.jsonl", salt="s3cret")
    row = r.valid.iloc[0]
    assert row.ts_start == pd.Timestamp("2026-10-05T01:02:01.250Z")  # wrapper ts, not `created`
    assert row.duration_s == 2.14 and row.ts_end == pd.Timestamp("2026-10-05T01:02:03.390Z")
    assert (row.department, row.team, row.cost_center, row.prompt_version) == ("legal", "contracts", "CC-120", "2.1.0")
    assert row.user_id_hash == sha16("s3cret", "tanaka.hiroshi@example.co.jp")
    assert "tanaka" not in r.valid.to_json(date_format="iso")


def test_otlp_jsonl_of_documents_keeps_line_numbers(tmp_path):
    doc = json.loads((DATA / "otlp_genai_traces.json").read_text())
    p = tmp_path / "traces.jsonl"
    p.write_text("\n".join([json.dumps(doc), "{not json", json.dumps(doc)]) + "\n")
    r = L.read_logs(p)
    assert r.format == "otlp"
    assert r.quarantine.rule.tolist() == ["malformed_json"] + ["duplicate_request_id"] * 4
    assert r.valid.source_line.tolist() == [1, 1, 1, 1]
    assert r.quarantine.source_line.tolist() == [2, 3, 3, 3, 3]


def test_anthropic_batch_needs_a_time_and_takes_defaults():
    bare = L.read_logs(DATA / "anthropic_batch_results.jsonl")
    assert bare.quarantine.rule.tolist() == ["required_missing"] * 3
    assert bare.quarantine.reason.str.contains("ts_start is empty").all()
    r = L.read_logs(DATA / "anthropic_batch_results.jsonl", defaults={"ts_start": "2026-10-08T12:00:00Z", "project": "clm"})
    assert len(r.valid) == 3 and set(r.valid.project) == {"clm"}
    with pytest.raises(ValueError, match="'dept' is not a RequestLog column"):
        L.read_logs(DATA / "anthropic_batch_results.jsonl", defaults={"dept": "legal"})


# ---------------------------------------------------------------- detection

def test_detection_by_content_and_explicit_format(tmp_path):
    expected = {"openai_chat.jsonl": "openai", "openai_responses.jsonl": "openai", "openai_batch_output.jsonl": "openai_batch",
                "anthropic_messages.jsonl": "anthropic", "anthropic_batch_results.jsonl": "anthropic_batch",
                "gemini_generate_content.jsonl": "gemini", "otlp_genai_traces.json": "otlp", "litellm_spend_logs.json": "litellm",
                "litellm_spend_logs.csv": "litellm", "langfuse_observations.json": "langfuse", "langfuse_observations.csv": "langfuse",
                "native_faults.jsonl": "jsonl", "native.csv": "csv", "native_missing_column.csv": "csv"}
    for name, fmt in expected.items():
        renamed = tmp_path / f"{name}.dat"  # names do not matter
        renamed.write_bytes((DATA / name).read_bytes())
        assert L.detect_format(renamed) == fmt, name
    # a format forced on the wrong file does not invent rows: nothing maps, every record is quarantined with a reason
    r = L.read_logs(DATA / "openai_chat.jsonl", fmt="gemini")
    assert len(r.valid) == 0 and r.ingested == 3
    with pytest.raises(L.LogFormatError, match="unknown format 'xml'"):
        L.read_logs(DATA / "openai_chat.jsonl", fmt="xml")


def test_unknown_format_and_missing_file_give_clear_errors(tmp_path):
    p = tmp_path / "readme.txt"
    p.write_text("hello\nworld\n")
    with pytest.raises(L.LogFormatError) as e:
        L.read_logs(p)
    assert str(e.value).startswith(f"{p}:1: unknown_format:") and "known formats:" in str(e.value)
    with pytest.raises(L.LogReadError, match="not_found: no such file"):
        L.read_logs(tmp_path / "missing.jsonl")
    bad = tmp_path / "broken.json"
    bad.write_text('[{"resourceSpans": []},\n {"oops": }\n]')
    with pytest.raises(L.LogReadError, match=r"broken.json:2: malformed_json: not valid JSON"):
        L.read_logs(bad, fmt="otlp")


def test_register_reader_adds_a_format(tmp_path):
    def read(path, head=None, chunk_bytes=L.CHUNK_BYTES):
        rows = [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
        frame = pd.DataFrame(dict(ts_start=[r["when"] for r in rows], request_id=[r["rid"] for r in rows], provider_name="acme",
                                  request_model=[r["m"] for r in rows], input_tokens=[r["in"] for r in rows],
                                  output_tokens=[r["out"] for r in rows], _line=range(1, len(rows) + 1)))
        yield L.RawBatch(frame, [], Path(path).stat().st_size)
    L.register_reader("acme", read, lambda h: bool(h.first) and "rid" in h.first, "ACME gateway logs", priority=5)
    try:
        p = tmp_path / "acme.log"
        p.write_text('{"when": "2026-10-01T00:00:00Z", "rid": "a1", "m": "acme-1", "in": 10, "out": -2}\n'
                     '{"when": "2026-10-01T00:00:01Z", "rid": "a2", "m": "acme-1", "in": 12, "out": 3}\n')
        r = L.read_logs(p, now=NOW)
        assert r.format == "acme" and r.valid.request_id.tolist() == ["a2"]
        assert r.quarantine.rule.tolist() == ["negative_tokens"]
        assert "acme" in L.formats_table().format.tolist()
    finally:
        L.READERS.pop("acme")


# ---------------------------------------------------------------- quarantine

def test_planted_faults_are_quarantined_with_line_rule_and_raw_text():
    r = L.read_logs(DATA / "native_faults.jsonl", now=NOW)
    assert (r.ingested, len(r.valid), len(r.quarantine)) == (15, 4, 11)
    q = r.quarantine.set_index("source_line")
    assert q.rule.to_dict() == {3: "malformed_json", 4: "negative_tokens", 5: "ts_end_before_start", 6: "duplicate_request_id",
                                7: "required_missing", 8: "bad_type", 9: "cache_exceeds_input", 10: "unknown_status_code",
                                11: "implausible_timestamp", 12: "quality_out_of_range", 14: "undecodable_bytes"}
    lines = (DATA / "native_faults.jsonl").read_bytes().split(b"\n")
    assert q.loc[4, "raw"] == lines[3].decode()  # the raw line, verbatim
    assert q.loc[8, "reason"] == "input_tokens: cannot read 'many' as int"
    assert q.loc[6, "reason"] == "request_id 'req-002' already seen in this load"
    assert (r.quarantine.source_file == str(DATA / "native_faults.jsonl")).all()
    assert r.reasons().sum() == 11


def test_undecodable_bytes_only_lose_their_line(tmp_path):
    df = native_frame(50, seed=3)
    p = write_jsonl(df, tmp_path / "x.jsonl")
    lines = p.read_bytes().split(b"\n")
    lines[9] = lines[9].replace(b'"department":"', b'"department":"\x82\xa0')  # Shift_JIS bytes in line 10
    lines[30] = lines[30][:40] + b"\xff" + lines[30][40:]
    p.write_bytes(b"\n".join(lines))
    r = L.read_logs(p, now=NOW)
    assert len(r.valid) == 48
    assert r.quarantine.source_line.tolist() == [10, 31]
    assert set(r.quarantine.rule) == {"undecodable_bytes"}
    assert r.quarantine.reason.iloc[0].startswith("byte 0x82 at column")


def test_missing_required_column_quarantines_rows_and_names_file_and_column(tmp_path):
    r = L.read_logs(DATA / "native_missing_column.csv")
    assert len(r.valid) == 0 and len(r.quarantine) == 2
    assert (r.quarantine.rule == "missing_column").all()
    assert r.quarantine.reason.iloc[0] == "required column 'request_id' is missing from the file"
    s = L.ingest([DATA / "native_missing_column.csv"], tmp_path, progress=False, gx=False)
    assert any("native_missing_column.csv" in m and "'request_id' is missing" in m for m in s.messages)
    # JSONL lacking the key everywhere behaves the same
    p = write_jsonl(native_frame(5).drop(columns="provider_name"), tmp_path / "nokey.jsonl")
    r = L.read_logs(p, now=NOW)
    assert (r.quarantine.rule == "missing_column").all() and len(r.quarantine) == 5


def test_empty_file_loads_nothing_and_says_so(tmp_path):
    r = L.read_logs(DATA / "empty.jsonl")
    assert (r.ingested, len(r.valid.columns)) == (0, len(COLUMN_NAMES))
    assert r.messages == [f"{DATA / 'empty.jsonl'}: the file is empty; nothing to load"]
    (tmp_path / "blank.csv").write_text("\n\n   \n")
    s = L.ingest([tmp_path / "blank.csv", DATA / "openai_responses.jsonl"], tmp_path, progress=False, gx=False)
    assert (s.ingested, s.written) == (2, 2)
    assert any("blank.csv" in m and "empty" in m for m in s.messages)


def test_quarantine_never_keeps_raw_user_ids(tmp_path):
    p = tmp_path / "wrapped.jsonl"
    rec = json.loads((DATA / "openai_chat.jsonl").read_text().splitlines()[0])
    rec["response"]["usage"]["prompt_tokens"] = -1
    p.write_text(json.dumps(rec, ensure_ascii=False) + "\n" + '{"user": "yamada@example.co.jp", "ts": 1,,}\n')
    s = L.ingest([p, DATA / "native.csv"], tmp_path, progress=False, gx=False)
    assert s.quarantined == 5
    blob = b"".join(f.read_bytes() for f in (tmp_path / "store").rglob("*.parquet"))
    for raw_user in (b"tanaka.hiroshi@example.co.jp", b"yamada@example.co.jp", b"kim.j", b"cust-1001"):
        assert raw_user not in blob
    q = L.load_quarantine(tmp_path)
    assert q.raw.str.contains('"user": "<redacted>"').sum() == 2


# ---------------------------------------------------------------- chunking

@pytest.mark.parametrize("chunk", [2048, 65536])
def test_chunked_reading_equals_unchunked(tmp_path, chunk):
    df = native_frame(150, seed=7)
    df.loc[5, "input_tokens"] = -3
    df.loc[50, "request_id"] = df.loc[49, "request_id"]
    df.loc[140, "request_id"] = df.loc[10, "request_id"]  # repeats across many chunks
    p = write_jsonl(df, tmp_path / "n.jsonl")
    with open(p, "ab") as f: f.write(b'{"broken": \n')
    whole = L.read_logs(p, now=NOW)
    parts = list(L.iter_logs(p, now=NOW, chunk_bytes=chunk))
    assert len(parts) > (20 if chunk < 65536 else 0)
    small = L.read_logs(p, now=NOW, chunk_bytes=chunk)
    pd.testing.assert_frame_equal(small.valid, whole.valid)
    pd.testing.assert_frame_equal(small.quarantine, whole.quarantine)
    assert whole.quarantine.rule.value_counts().to_dict() == {"duplicate_request_id": 2, "negative_tokens": 1, "malformed_json": 1}


def test_chunked_csv_with_multiline_fields_equals_unchunked(tmp_path):
    df = native_frame(120, seed=2).assign(output_text=lambda d: "行1\n行2, \"quoted\" " + d.request_id)
    p = tmp_path / "n.csv"
    df.to_csv(p, index=False)
    whole, small = L.read_logs(p, now=NOW), L.read_logs(p, now=NOW, chunk_bytes=2048)
    assert len(whole.valid) == 120
    pd.testing.assert_frame_equal(small.valid, whole.valid)
    assert whole.valid.output_text.iloc[0] == "行1\n行2, \"quoted\" " + df.request_id.iloc[0]


def test_chunks_stay_bounded(tmp_path):
    p = write_jsonl(native_frame(3000, seed=5), tmp_path / "n.jsonl")
    size = p.stat().st_size
    parts = list(L.iter_logs(p, now=NOW, chunk_bytes=256 * 1024))
    assert len(parts) >= size // (256 * 1024)
    assert max(len(x.valid) for x in parts) <= 3000 * 256 * 1024 / size + 2
    assert sum(x.nbytes for x in parts) == pytest.approx(size, abs=len(parts) + 1)


def test_gzip_crlf_and_bom_are_handled(tmp_path):
    text = (DATA / "native_faults.jsonl").read_bytes()
    plain = L.read_logs(DATA / "native_faults.jsonl", now=NOW)
    gz = tmp_path / "faults.jsonl.gz"
    gz.write_bytes(gzip.compress(text))
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"))
    for p in (gz, crlf):
        r = L.read_logs(p, now=NOW)
        assert r.valid.request_id.tolist() == plain.valid.request_id.tolist()
        assert r.quarantine.rule.tolist() == plain.quarantine.rule.tolist()


# ---------------------------------------------------------------- store

def test_ingest_twice_does_not_double_count(tmp_path):
    p = write_jsonl(native_frame(300, seed=11), tmp_path / "a.jsonl")
    first = L.ingest([p, DATA / "native_faults.jsonl"], tmp_path, progress=False, gx=False, now=NOW)
    assert (first.valid, first.written, first.duplicates, first.quarantined) == (304, 304, 0, 11)
    second = L.ingest([p, DATA / "native_faults.jsonl"], tmp_path, progress=False, gx=False, now=NOW)
    assert (second.ingested, second.written, second.duplicates) == (315, 0, 304)
    assert len(L.load_requests(tmp_path)) == 304
    assert len(L.load_quarantine(tmp_path)) == 11
    # an overlapping export: half old calls, half new
    df = pd.concat([native_frame(300, seed=11).iloc[150:], native_frame(100, seed=12)])
    third = L.ingest([write_jsonl(df, tmp_path / "b.jsonl")], tmp_path, progress=False, gx=False, now=NOW)
    assert (third.valid, third.duplicates, third.written) == (250, 150, 100)
    assert L.load_requests(tmp_path).request_id.is_unique
    log = L.load_ingest_log(tmp_path)
    assert len(log) == 5 and log.written.sum() == 404
    assert log.sha256.iloc[0] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_parquet_partitions_by_month(tmp_path):
    df = native_frame(600, seed=4, start="2026-08-20", days=60)  # Aug 20 – Oct 18
    L.ingest([write_jsonl(df, tmp_path / "raw.jsonl")], tmp_path, progress=False, gx=False)
    root = tmp_path / "store" / "requests"
    months = sorted(p.name for p in root.iterdir())
    assert months == ["month=2026-08", "month=2026-09", "month=2026-10"]
    expected = pd.to_datetime(df.ts_start, utc=True).dt.strftime("%Y-%m").value_counts().to_dict()
    for m in months:
        files = list((root / m).glob("part-*.parquet"))
        got = pd.concat([pq.read_table(f).to_pandas() for f in files])
        assert set(got.ts_start.dt.strftime("%Y-%m")) == {m[6:]}
        assert len(got) == expected[m[6:]]
        assert pq.read_schema(files[0]).field("ts_start").type == pa.timestamp("us", tz="UTC")
    assert len(L.load_requests(tmp_path, period="2026-09")) == expected["2026-09"]
    start, end = pd.Timestamp("2026-09-10", tz="UTC"), pd.Timestamp("2026-09-20", tz="UTC")
    ts = pd.to_datetime(df.ts_start, utc=True)
    assert len(L.load_requests(tmp_path, start="2026-09-10", end="2026-09-20")) == ((ts >= start) & (ts < end)).sum()


def test_load_requests_is_typed_and_round_trips(tmp_path):
    r = L.read_logs(DATA / "openai_chat.jsonl")
    L.ingest([DATA / "openai_chat.jsonl"], tmp_path, progress=False, gx=False)
    back = L.load_requests(tmp_path)
    assert back.dtypes.astype(str).to_dict() == empty_requestlog().dtypes.astype(str).to_dict()
    cols = [c for c in COLUMN_NAMES if c not in ("source_file", "user_id_hash")]  # lineage is relative; salt differs
    pd.testing.assert_frame_equal(back[cols].reset_index(drop=True), r.valid.sort_values(["ts_start", "request_id"])[cols].reset_index(drop=True))
    with pytest.raises(ValueError, match="expected a month as YYYY-MM"):
        L.load_requests(tmp_path, period="Oct-2026")
    with pytest.raises(ValueError, match="unknown RequestLog column"):
        L.load_requests(tmp_path, columns=["tokens"])
    with pytest.raises(FileNotFoundError, match="workspace not found"):
        L.load_requests(tmp_path / "nowhere")


def test_connect_views_and_empty_workspace(tmp_path):
    with L.connect(tmp_path) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert L.load_requests(tmp_path).empty
    L.ingest([DATA / "native_faults.jsonl", DATA / "gemini_generate_content.jsonl"], tmp_path, progress=False, gx=False, now=NOW)
    with L.connect(tmp_path) as con:
        got = con.execute("SELECT month, provider_name, count(*), sum(output_tokens) FROM requests GROUP BY ALL ORDER BY ALL").fetchall()
        q = con.execute("SELECT rule, count(*) FROM quarantine GROUP BY ALL ORDER BY rule").fetchall()
    assert got == [("2026-10", "gcp.gemini", 3, 900 + 256 + 0), ("2026-10", "openai", 4, 151 + 152 + 163 + 166)]
    assert dict(q)["undecodable_bytes"] == 1 and sum(n for _, n in q) == 11


def test_workspace_salt_is_secret_stable_and_per_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMOPS_NB_SALT", raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(); b.mkdir()
    for ws in (a, b, a): L.ingest([DATA / "openai_chat.jsonl"], ws, progress=False, gx=False)
    ha, hb = (L.load_requests(ws).user_id_hash.dropna().tolist() for ws in (a, b))
    salt = (a / "store" / "salt").read_text().strip()
    assert len(salt) == 32 and salt != (b / "store" / "salt").read_text().strip()
    assert sha16(salt, "tanaka.hiroshi@example.co.jp") in ha
    assert set(ha).isdisjoint(hb)


def test_keep_text_false_drops_captured_content(tmp_path):
    L.ingest([DATA / "anthropic_messages.jsonl"], tmp_path, progress=False, gx=False, keep_text=False)
    df = L.load_requests(tmp_path)
    assert len(df) == 3 and df.output_text.isna().all()
    assert "秘密保持" not in b"".join(f.read_bytes() for f in (tmp_path / "store").rglob("*.parquet")).decode("utf-8", "ignore")


def test_ingest_reports_unreadable_files_and_loads_the_rest(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    s = L.ingest([bad, DATA / "openai_responses.jsonl"], tmp_path, progress=False, gx=False)
    assert s.written == 2 and len(s.errors) == 1 and "unknown_format" in s.errors[0]
    assert s.as_dict()["errors"] == s.errors
    from contextlib import redirect_stderr, redirect_stdout

    from llmops_nb.cli import main
    (tmp_path / "settings.ini").write_text("[organisation]\nlocale = en\n")  # the CLI works on a workspace
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err): code = main(["ingest", str(bad), "-w", str(tmp_path), "-q", "--no-gx"])
    assert code == 1 and "unknown_format" in err.getvalue() and "notes.txt" in out.getvalue()


def test_ingest_summary_tables_are_localised(tmp_path):
    s = L.ingest([DATA / "native_faults.jsonl"], tmp_path, progress=False, gx=False, now=NOW)
    en, ja = s.table("en"), s.table("ja")
    assert list(en.columns) == ["File", "Format", "Ingested", "Valid", "Quarantined", "Already stored", "Newly stored"]
    assert list(ja.columns)[:4] == ["ファイル", "形式", "取込件数", "有効"]
    assert en.iloc[-1].tolist()[2:] == [15, 4, 11, 0, 4]
    rj = s.reasons_table("ja")
    assert "トークン数が負" in rj.iloc[:, 1].tolist()
    assert rj.iloc[:, 2].sum() == 11
    d = s.as_dict()
    assert d["ingested"] == d["valid"] + d["quarantined"] and json.dumps(d)


# ---------------------------------------------------------------- validation vs Great Expectations

def planted_batch(n=1500, seed=21):
    "A typed batch with a known number of faults of each kind; returns (typed batch, planted counts)."
    df = native_frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    pick = iter(rng.permutation(n))
    take = lambda k: [next(pick) for _ in range(k)]
    planted = {}
    def plant(check, k, col, value):
        rows = take(k)
        df.loc[rows, col] = value
        planted[check] = k
        return rows
    plant("min:output_tokens", 4, "output_tokens", -5)
    rows = take(3); df.loc[rows, "ts_end"] = "2026-01-01T00:00:00.000Z"; df.loc[rows, "duration_s"] = None; planted["pair_ge:ts_end"] = 3
    rows = take(5); df.loc[rows, "cache_read_input_tokens"] = df.loc[rows, "input_tokens"] + 1; planted["pair_ge:cache"] = 5
    rows = take(2); df.loc[rows, "reasoning_output_tokens"] = df.loc[rows, "output_tokens"] + 7; planted["pair_ge:reasoning"] = 2
    plant("between:status_code", 3, "status_code", 999)
    plant("in_set:finish_reason", 2, "finish_reason", "exploded")
    plant("in_set:service_tier", 2, "service_tier", "platinum")
    plant("between:quality_score", 3, "quality_score", 1.5)
    plant("in_set:feedback", 2, "feedback", 5)
    plant("not_null:request_model", 2, "request_model", None)
    plant("between:ts_start", 1, "ts_start", "2018-05-01T00:00:00.000Z")
    a, b = take(2)
    df.loc[b, "request_id"] = df.loc[a, "request_id"]; planted["unique:request_id"] = 2
    typed, bad = L.coerce(L.finish(df.assign(_line=range(1, n + 1)), "salt"))
    return L.derive(typed), planted


def test_rule_engine_finds_exactly_the_planted_faults():
    typed, planted = planted_batch()
    counts = L.check_masks(typed, now=NOW).sum()
    broken = counts[counts > 0].to_dict()
    # knock-on effects, by construction: an end before the start makes the derived duration negative, and a
    # negative output count is also below its (non-negative) reasoning count
    assert broken == {**planted, "min:duration_s": planted["pair_ge:ts_end"],
                      "pair_ge:reasoning": planted["pair_ge:reasoning"] + planted["min:output_tokens"]}


def test_gx_suite_agrees_with_rule_engine_on_planted_faults():
    from llmops_nb.schema import run_gx
    typed, planted = planted_batch()
    gx = run_gx(typed, now=NOW).set_index("check")
    ours = L.check_masks(typed, now=NOW).sum()
    assert set(gx.index) == set(ours.index) == {c.id for c in requestlog_checks(NOW)}
    assert gx.unexpected_count.astype(int).to_dict() == ours.astype(int).to_dict()
    assert set(gx.index[~gx.success]) == set(ours.index[ours > 0])


def test_ingest_gx_results_are_tidy_and_match_quarantine(tmp_path):
    s = L.ingest([DATA / "native_faults.jsonl"], tmp_path, progress=False, gx=True, now=NOW)
    assert list(s.gx.columns) == ["check", "rule", "expectation", "column", "success", "element_count", "unexpected_count", "unexpected_percent"]
    failed = s.gx[~s.gx.success].set_index("check")
    assert failed.loc["pair_ge:ts_end", "expectation"] == "expect_column_pair_values_a_to_be_greater_than_b"
    assert failed.loc["min:input_tokens", "unexpected_count"] == 1
    assert failed.loc["between:status_code", "unexpected_percent"] == pytest.approx(100 / 13)
    assert s.gx_seconds > 0
    (tmp_path / "x").mkdir()
    assert L.ingest([DATA / "native_faults.jsonl"], tmp_path / "x", progress=False, gx=False).gx is None


def test_validate_requests_in_memory():
    df = native_frame(20, seed=9)
    df.loc[3, "feedback"] = 7
    r = L.validate_requests(df, now=NOW)
    assert (len(r.valid), r.quarantine.rule.tolist()) == (19, ["unknown_feedback"])
    assert r.quarantine.source_line.tolist() == [4]


# ---------------------------------------------------------------- benchmarks

def _gen_big(path: Path, rows: int, seed: int = 1) -> Path:
    "A native JSONL file of `rows` rows written in blocks (demo-like text included)."
    with open(path, "w", encoding="utf-8") as f:
        for i in range(0, rows, 100_000):
            df = native_frame(min(100_000, rows - i), seed=seed + i).assign(
                request_id=lambda d: [f"b-{i + k:08d}" for k in range(len(d))],
                input_text="契約書第12条の損害賠償条項を確認してください。", output_text="上限額が標準より高いため修正を推奨します。")
            f.write(df.to_json(orient="records", lines=True, force_ascii=False))
    return path


@pytest.mark.bench
def test_bench_one_million_rows_ingest_validate_report(tmp_path):
    p = _gen_big(tmp_path / "big.jsonl", 1_000_000)
    t = time.perf_counter(); peer_rows = sum(len(c) for c in pd.read_json(p, lines=True, chunksize=100_000)); t_peer = time.perf_counter() - t
    t = time.perf_counter(); s = L.ingest([p], tmp_path, progress=False, gx=False); t_ingest = time.perf_counter() - t
    t = time.perf_counter(); s.table("ja"); s.reasons_table("ja"); t_report = time.perf_counter() - t
    print(f"\n1M rows, {p.stat().st_size / 1e6:.0f} MB: ingest+validate {t_ingest:.1f} s, summary tables {t_report:.2f} s; "
          f"peer pandas.read_json(lines=True, chunksize=100k), parse only: {t_peer:.1f} s (ratio {t_ingest / t_peer:.2f})")
    assert s.written == 1_000_000 and peer_rows == 1_000_000
    (tmp_path / "gx").mkdir()
    t = time.perf_counter(); s2 = L.ingest([p], tmp_path / "gx", progress=False, gx=True)
    print(f"with the GX suite: {time.perf_counter() - t:.1f} s (GX {s2.gx_seconds:.1f} s)")
    assert t_ingest + t_report < 60


@pytest.mark.bench
def test_bench_200mb_file_streams_with_bounded_memory(tmp_path):
    p = _gen_big(tmp_path / "big.jsonl", 420_000)
    assert p.stat().st_size > 200e6
    # peak RSS from /proc (VmHWM): getrusage's ru_maxrss survives exec and would report the parent's peak
    code = ("import re, time; from llmops_nb import logs as L; t = time.perf_counter(); "
            f"s = L.ingest([{str(p)!r}], {str(tmp_path)!r}, progress=False, gx=False); "
            "hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024; "
            "print(s.written, round(time.perf_counter() - t, 1), hwm)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    written, secs, peak_mb = int(out[0]), float(out[1]), int(out[2])
    print(f"\n{p.stat().st_size / 1e6:.0f} MB file: {written:,} rows in {secs} s, peak RSS {peak_mb} MB")
    assert written == 420_000 and peak_mb < 1000  # 32 MiB chunks: memory does not grow with the file
