"""Issue 13, the front door: detection over several records, per-row quarantine of every per-value problem, per-file
errors that never cost the run, gzip and encodings, surrogate escapes, `--default-time`, `--timezone`.
Each test fails on the code before issue 13. Expected values are worked out by hand from the fixtures."""
import codecs
import gzip
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llmops_nb import logs as L
from llmops_nb.cli.main import main

DATA, FRONT = Path(__file__).parent / "data" / "logs", Path(__file__).parent / "data" / "front"
NOW = pd.Timestamp("2026-12-01", tz="UTC")


def native(rid: str, **kw) -> dict:
    "One valid native record (hand-made), with fields replaced by `kw`."
    rec = dict(ts_start="2026-10-01T09:00:00Z", ts_end="2026-10-01T09:00:02Z", request_id=rid, operation_name="chat",
               provider_name="openai", request_model="gpt-4.1-mini", input_tokens=100, output_tokens=20,
               finish_reason="stop", status_code=200, department="legal")
    rec.update(kw)
    return {k: v for k, v in rec.items() if v is not ...}


def jsonl(path: Path, *recs) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in recs))
    return path


def workspace(tmp_path: Path, extra: str = "") -> Path:
    ws = tmp_path / "ws"; ws.mkdir()
    (ws / "settings.ini").write_text("[organisation]\nlocale = en\n" + extra)
    return ws


def cli(*args):
    return main([str(a) for a in args])


# 1. detection over several records -----------------------------------------------------------------------------------
@pytest.mark.parametrize("first", [None, "null", "[1, 2]", "{bad json", '"text"'])
def test_openai_file_is_detected_whatever_its_first_line(tmp_path, first):
    lines = (FRONT / "openai_error_first.jsonl").read_text().splitlines()
    if first is not None: lines[0] = first  # None: the fixture as is, an OpenAI error body first
    p = tmp_path / "o.jsonl"; p.write_text("\n".join(lines) + "\n")
    r = L.read_logs(p, now=NOW)
    assert r.format == "openai"
    assert r.valid.request_id.tolist() == ["chatcmpl-Front0001", "chatcmpl-Front0002"]
    assert r.valid.input_tokens.tolist() == [50, 70] and r.valid.output_tokens.tolist() == [3, 16]
    assert r.quarantine.source_line.tolist() == [1]  # the bad first line is quarantined like any other


def test_unknown_format_names_the_records_it_looked_at(tmp_path):
    p = jsonl(tmp_path / "u.jsonl", {"foo": 1}, {"bar": 2})
    with pytest.raises(L.LogFormatError, match=r"none of the first 2 record\(s\) matches a known format \(record 1: foo; record 2: bar\)"):
        L.read_logs(p)
    p = jsonl(tmp_path / "v.jsonl", "{nope", "null")
    with pytest.raises(L.LogFormatError, match=r"no JSON object found among the first lines \(line 1: not valid JSON"):
        L.read_logs(p)


# 2. per-value problems cost their row, with line, column and rule ------------------------------------------------------
@pytest.mark.parametrize("field, value, rule, words", [
    ("ts_start", "9999-12-31T00:00:00Z", "out_of_range", "ts_start = '9999-12-31T00:00:00Z' is outside the supported range"),
    ("ts_start", "0001-01-01T00:00:00Z", "out_of_range", "ts_start = '0001-01-01T00:00:00Z' is outside the supported range"),
    ("duration_s", 1e308, "out_of_range", "duration_s = '1e+308' is outside the supported range"),
    ("input_tokens", 2**63, "out_of_range", "input_tokens = '9.223372036854776e+18' is outside"),
    ("output_tokens", 2**64 + 1, "out_of_range", "output_tokens = '1.8446744073709552e+19' is outside"),
])
def test_one_bad_value_costs_its_row_not_its_file(tmp_path, field, value, rule, words):
    bad = native("bad", **{field: value}, **({"ts_end": ...} if field in ("ts_start", "duration_s") else {}))
    p = jsonl(tmp_path / "x.jsonl", native("a"), bad, native("b"))
    r = L.read_logs(p, now=NOW)
    assert r.valid.request_id.tolist() == ["a", "b"]
    q = r.quarantine.iloc[0]
    assert (len(r.quarantine), q.source_line, q.rule, q.request_id) == (1, 2, rule, "bad")
    assert q.reason.startswith(words), q.reason


def test_deep_nesting_is_a_malformed_row(tmp_path):
    deep = '{"request_id": "deep", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    p = jsonl(tmp_path / "d.jsonl", native("a"), deep, native("b"))
    r = L.read_logs(p, now=NOW)
    assert r.valid.request_id.tolist() == ["a", "b"]
    assert r.quarantine.source_line.tolist() == [2]  # Arrow skips the unknown key: the row lacks its required values
    lines = (FRONT / "openai_error_first.jsonl").read_text().splitlines()
    p = jsonl(tmp_path / "o.jsonl", lines[1], '{"id": "x", "choices": ' + "[" * 50_000 + "]" * 50_000 + "}", lines[2])
    r = L.read_logs(p, now=NOW)
    assert r.format == "openai" and r.valid.request_id.tolist() == ["chatcmpl-Front0001", "chatcmpl-Front0002"]
    assert r.quarantine[["source_line", "rule"]].values.tolist() == [[2, "malformed_json"]]
    assert r.quarantine.reason[0] == "nested 50001 levels deep; at most 64 are read"
    # a whole JSON document nested too deeply is a file problem, not a traceback
    doc = tmp_path / "d.json"; doc.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(L.LogReadError, match="nested|malformed|unknown"): L.read_logs(doc)


# 3. per-file problems: named, logged, the run goes on; exit codes ------------------------------------------------------
def test_bad_files_are_logged_and_the_rest_of_the_run_loads(tmp_path, capsys):
    ws = workspace(tmp_path)
    raw = tmp_path / "raw"; raw.mkdir()
    jsonl(raw / "a_good.jsonl", native("g1"), native("g2"))
    (raw / "b_stray.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (raw / "c_trunc.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(native(f"t{i}")) + "\n" for i in range(2000)).encode())[:400])
    (raw / "d_otlp.json").write_text(json.dumps({"resourceSpans": {"not": "a list"}}))
    jsonl(raw / "e_good.jsonl", native("g3"))
    code = cli("ingest", raw, "-w", ws, "-q", "--no-gx")
    out, err = capsys.readouterr()
    assert code == 1
    log = L.load_ingest_log(ws).set_index("file")
    names = {Path(f).name: f for f in log.index}
    assert set(names) == {"a_good.jsonl", "b_stray.png", "c_trunc.jsonl.gz", "d_otlp.json", "e_good.jsonl"}
    errors = {n: log.loc[f, "error"] for n, f in names.items()}
    assert errors["a_good.jsonl"] in ("", "nan", None) or pd.isna(errors["a_good.jsonl"])
    assert "not_a_log" in errors["b_stray.png"] and "corrupt_gzip" in errors["c_trunc.jsonl.gz"]
    assert pd.isna(errors["d_otlp.json"]) or errors["d_otlp.json"] in ("", "nan")  # read; its one document is quarantined
    q = L.load_quarantine(ws)
    assert q[q.source_file.str.endswith("d_otlp.json")][["source_line", "rule"]].values.tolist() == [[1, "bad_type"]]
    assert log.loc[names["a_good.jsonl"], "written"] == 2 and log.loc[names["e_good.jsonl"], "written"] == 1
    assert set(L.load_requests(ws).request_id) >= {"g1", "g2", "g3"}
    for n in ("b_stray.png", "c_trunc.jsonl.gz"): assert n in err and n in out
    assert "Traceback" not in err


def test_exit_code_zero_when_clean_one_when_a_row_is_rejected_two_for_usage(tmp_path, capsys):
    ws = workspace(tmp_path)
    good = jsonl(tmp_path / "good.jsonl", native("c1"))
    assert cli("ingest", good, "-w", ws, "-q", "--no-gx") == 0
    bad = jsonl(tmp_path / "bad.jsonl", native("c2", input_tokens=-5))
    assert cli("ingest", bad, "-w", ws, "-q", "--no-gx") == 1
    assert cli("ingest", good, "-w", ws, "--bogus") == 2
    assert cli("ingest", good, "-w", ws, "--encoding", "no-such-codec", "-q") == 1  # the file is rejected, named
    capsys.readouterr()


# 4. gzip and encodings -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["native.csv", "litellm_spend_logs.csv", "langfuse_observations.csv", "openai_chat.jsonl",
                                  "otlp_genai_traces.json", "anthropic_batch_results.jsonl"])
def test_gzip_reads_like_the_plain_file(tmp_path, name):
    plain = L.read_logs(DATA / name, now=NOW, timezone="UTC")
    gz = tmp_path / (name + ".gz"); gz.write_bytes(gzip.compress((DATA / name).read_bytes()))
    r = L.read_logs(gz, now=NOW, timezone="UTC")
    assert (r.format, len(r.valid), len(r.quarantine)) == (plain.format, len(plain.valid), len(plain.quarantine))
    assert r.valid.request_id.tolist() == plain.valid.request_id.tolist()


JA_CSV = ("ts_start,request_id,provider_name,request_model,input_tokens,output_tokens,department\n"
          "2026-10-01T00:00:00Z,j1,openai,gpt-4.1-mini,100,20,法務部\n"
          "2026-10-01T00:01:00Z,j2,openai,gpt-4.1-mini,110,21,営業部\n"
          "2026-10-01T00:02:00Z,j3,openai,gpt-4.1-mini,120,22,人事部\n")


@pytest.mark.parametrize("codec, prefix", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b"")])
def test_utf8_bom_and_utf16_are_read(tmp_path, codec, prefix):
    p = tmp_path / "ja.csv"; p.write_bytes(prefix + JA_CSV.encode(codec))
    r = L.read_logs(p, now=NOW)
    assert r.valid.department.astype(str).tolist() == ["法務部", "営業部", "人事部"] and len(r.quarantine) == 0
    assert r.valid.input_tokens.tolist() == [100, 110, 120]


def test_shift_jis_is_named_and_converted_when_asked(tmp_path, capsys):
    p = tmp_path / "sj.csv"; p.write_bytes(JA_CSV.encode("cp932"))
    with pytest.raises(L.LogReadError, match=r"looks like Shift_JIS.*rerun with --encoding shift_jis") as e:
        L.read_logs(p)
    assert e.value.rule == "wrong_encoding" and "\x00" not in str(e.value) and len(str(e.value)) < 300
    r = L.read_logs(p, encoding="shift_jis", now=NOW)
    assert r.valid.department.astype(str).tolist() == ["法務部", "営業部", "人事部"]
    ws = workspace(tmp_path)
    assert cli("ingest", p, "-w", ws, "-q", "--no-gx") == 1
    assert "--encoding shift_jis" in capsys.readouterr().err
    assert cli("ingest", p, "-w", ws, "-q", "--no-gx", "--encoding", "shift_jis") == 0
    assert sorted(L.load_requests(ws).department.astype(str)) == sorted(["法務部", "営業部", "人事部"])


# 5. surrogate escapes ---------------------------------------------------------------------------------------------------
def test_escaped_surrogate_pair_in_an_otlp_document_reads_fine():
    r = L.read_logs(FRONT / "otlp_emoji.json", now=NOW)
    assert (r.format, len(r.valid), len(r.quarantine)) == ("otlp", 1, 0)
    row = r.valid.iloc[0]
    assert (row.request_id, row.input_tokens, row.output_tokens) == ("chatcmpl-Emoji0001", 21, 5)
    assert "Hi 👋" in row.output_text
    assert row.ts_start == pd.Timestamp(1791162000, unit="s", tz="UTC") and row.duration_s == 1.5


def test_lone_escaped_surrogate_is_replaced_and_the_row_kept(tmp_path):
    line = json.dumps(native("s1", output_text="half \ud83d here"))  # json.dumps writes the lone half as \ud83d
    assert "\\ud83d" in line
    for p in (jsonl(tmp_path / "s.jsonl", line), tmp_path / "s.json"):
        if p.suffix == ".json": p.write_text("[" + line + "]")
        r = L.read_logs(p, now=NOW)
        assert len(r.valid) == 1 and r.valid.output_text[0] == "half \ufffd here", p


# 6. records without a time ------------------------------------------------------------------------------------------------
def test_anthropic_and_gemini_responses_need_a_default_time(tmp_path, capsys):
    r = L.read_logs(FRONT / "anthropic_no_time.jsonl", now=NOW)
    assert len(r.valid) == 0 and set(r.quarantine.rule) == {"required_missing"}
    assert "--default-time" in r.quarantine.reason[0]
    r = L.read_logs(FRONT / "anthropic_no_time.jsonl", now=NOW, defaults={"ts_start": "2026-10-05T12:00:00+09:00"})
    assert r.format == "anthropic" and len(r.valid) == 2 and len(r.quarantine) == 0
    assert (r.valid.ts_start == pd.Timestamp("2026-10-05T03:00:00Z")).all()
    assert r.valid.input_tokens.tolist() == [120, 300] and r.valid.output_tokens.tolist() == [9, 64]
    if "ts_source" in r.valid: assert r.valid.ts_source.astype(str).tolist() == ["default", "default"]
    p = tmp_path / "g.jsonl"; shutil.copy(FRONT / "gemini_no_time.jsonl", p)
    os.utime(p, (1791000000, 1791000000))
    r = L.read_logs(p, now=NOW, defaults={"ts_start": "mtime"})
    assert r.format == "gemini" and len(r.valid) == 1
    assert r.valid.ts_start[0] == pd.Timestamp(1791000000, unit="s", tz="UTC")
    assert (r.valid.input_tokens[0], r.valid.output_tokens[0]) == (40, 7)
    if "ts_source" in r.valid: assert r.valid.ts_source.astype(str).tolist() == ["mtime"]
    ws = workspace(tmp_path)
    assert cli("ingest", FRONT / "anthropic_no_time.jsonl", "-w", ws, "-q", "--no-gx", "--default-time", "2026-10-05T03:00:00Z") == 0
    assert cli("ingest", p, "-w", ws, "-q", "--no-gx", "--default-time", "mtime") == 0
    assert cli("ingest", p, "-w", ws, "-q", "--default-time", "yesterday") == 2
    capsys.readouterr()
    assert len(L.load_requests(ws)) == 3


def test_record_time_wins_over_the_default(tmp_path):
    p = jsonl(tmp_path / "m.jsonl", native("r1"), native("r2", ts_start=..., ts_end=...))
    r = L.read_logs(p, now=NOW, defaults={"ts_start": "2026-10-02T00:00:00Z"})
    assert r.valid.ts_start.tolist() == [pd.Timestamp("2026-10-01T09:00:00Z"), pd.Timestamp("2026-10-02T00:00:00Z")]
    if "ts_source" in r.valid: assert r.valid.ts_source.astype(str).tolist() == ["record", "default"]


# 7. naive timestamps --------------------------------------------------------------------------------------------------------
def test_naive_timestamps_are_flagged_unless_a_timezone_is_given(tmp_path, capsys):
    p = jsonl(tmp_path / "n.jsonl", native("n1", ts_start="2026-10-01 09:00:00", ts_end="2026-10-01T09:00:02"), native("n2"))
    r = L.read_logs(p, now=NOW)
    assert r.valid.request_id.tolist() == ["n2"]
    q = r.quarantine.iloc[0]
    assert (q.source_line, q.rule) == (1, "naive_timestamp") and "--timezone" in q.reason
    r = L.read_logs(p, now=NOW, timezone="Asia/Tokyo")
    assert r.valid.ts_start.tolist() == [pd.Timestamp("2026-10-01T00:00:00Z"), pd.Timestamp("2026-10-01T09:00:00Z")]
    assert r.valid.duration_s.tolist() == [2.0, 2.0]
    ws = workspace(tmp_path, "\n[logs]\ntimezone = Asia/Tokyo\n")
    from llmops_nb.config import load_settings
    assert load_settings(ws).timezone == "Asia/Tokyo"
    assert cli("ingest", p, "-w", ws, "-q", "--no-gx") == 0  # the settings key applies
    st = L.load_requests(ws).set_index("request_id").ts_start
    assert st["n1"] == pd.Timestamp("2026-10-01T00:00:00Z")
    ws2 = tmp_path / "w2"; ws2.mkdir(); (ws2 / "settings.ini").write_text("[organisation]\nlocale = en\n")
    assert cli("ingest", p, "-w", ws2, "-q", "--no-gx", "--timezone", "UTC") == 0
    assert L.load_requests(ws2).set_index("request_id").ts_start["n1"] == pd.Timestamp("2026-10-01T09:00:00Z")
    capsys.readouterr()


# 9. done means: one folder of every format, a stray binary, a corrupt gzip and a Shift_JIS file, in one run ------------
def test_a_mixed_folder_loads_in_one_run(tmp_path, capsys):
    ws = workspace(tmp_path, "\n[logs]\ntimezone = UTC\n")  # LiteLLM's CSV export writes UTC without an offset
    raw = tmp_path / "raw"; raw.mkdir()
    for f in DATA.iterdir(): shutil.copy(f, raw / f.name)
    for f in ("openai_error_first.jsonl", "otlp_emoji.json"): shutil.copy(FRONT / f, raw / f)
    jsonl(raw / "native_naive.jsonl", native("naive1", ts_start="2026-10-01 09:00:00", ts_end=...), native("ok-naive"))
    (raw / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (raw / "broken.jsonl.gz").write_bytes(gzip.compress((DATA / "openai_chat.jsonl").read_bytes() * 50)[:300])
    (raw / "sjis.csv").write_bytes(JA_CSV.encode("cp932"))
    (raw / "native.csv.gz").write_bytes(gzip.compress(JA_CSV.replace(",j", ",gz-j").encode()))
    expect = {}  # file → (valid, quarantined) read one by one, each file alone
    for f in sorted(raw.iterdir()):
        try: r = L.read_logs(f, now=None, timezone="UTC"); expect[f.name] = (len(r.valid), len(r.quarantine))
        except L.LogReadError: expect[f.name] = None
    assert {n for n, v in expect.items() if v is None} == {"logo.png", "broken.jsonl.gz", "sjis.csv"}
    code = cli("ingest", raw, "-w", ws, "-q", "--no-gx")
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    log = L.load_ingest_log(ws)
    log["name"] = log.file.map(lambda f: Path(f).name)
    log = log.set_index("name")
    assert set(log.index) == set(expect)
    for name in ("logo.png", "broken.jsonl.gz", "sjis.csv"):
        assert log.loc[name, "error"] and name in err and name in out
    assert "not_a_log" in log.loc["logo.png", "error"] and "corrupt_gzip" in log.loc["broken.jsonl.gz", "error"]
    assert "--encoding shift_jis" in log.loc["sjis.csv", "error"]
    for name, v in expect.items():
        if v is not None: assert (log.loc[name, "valid"], log.loc[name, "quarantined"]) == v, name
    # every good row stored once (ids repeated across fixtures are the run's duplicates), every bad row quarantined with line and rule
    req, q = L.load_requests(ws), L.load_quarantine(ws)
    assert req.request_id.is_unique and len(req) == int(log.written.sum())
    assert len(q) == int(log.quarantined.sum()) and q.source_line.notna().all() and q.rule.notna().all()
    assert {"gz-j1", "gz-j2", "gz-j3", "chatcmpl-Front0001", "chatcmpl-Emoji0001", "ok-naive"} <= set(req.request_id)
    assert req.set_index("request_id").ts_start["naive1"] == pd.Timestamp("2026-10-01T09:00:00Z")  # [logs] timezone = UTC


@pytest.mark.parametrize("eol,packed", [("\n", False), ("\r\n", False), ("\n", True)])
def test_csv_line_numbers_count_blank_lines_and_line_breaks_in_values(tmp_path, eol, packed):
    rows = ["request_id,ts_start,provider_name,request_model,input_tokens,output_tokens,input_text",
            "a,2026-10-01T00:00:00Z,openai,gpt-4o,10,5,hi",  # line 2
            "",  # line 3: blank
            'b,2026-10-01T00:00:01Z,openai,gpt-4o,-3,5,"a prompt' + eol + 'on two lines"',  # lines 4-5
            "x,1,2",  # line 6: too few fields
            "c,2026-10-01T00:00:02Z,openai,gpt-4o,10,5,",  # line 7
            ",,,,,,", ""]  # an empty record and a trailing blank line: not records
    body = eol.join(rows).encode()
    p = tmp_path / ("calls.csv.gz" if packed else "calls.csv")
    p.write_bytes(gzip.compress(body) if packed else body)
    r = L.read_logs(p)
    assert r.valid[["request_id", "source_line"]].values.tolist() == [["a", 2], ["c", 7]]
    assert r.quarantine[["source_line", "rule"]].values.tolist() == [[4, "negative_tokens"], [6, "invalid_csv_row"]]
    lines = body.decode().split(eol) if eol == "\r\n" else body.decode().split("\n")
    assert lines[6 - 1].startswith("x,1,2") and lines[4 - 1].startswith("b,")  # the numbers point at the lines themselves
