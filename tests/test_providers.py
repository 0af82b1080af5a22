"Provider and instrumentation formats as the SDKs record them: fixtures in tests/data/providers/, values worked by hand."
from pathlib import Path

import pandas as pd
import pytest

from llmops_nb import logs, safety
from llmops_nb.logs import read_logs
from llmops_nb.pricing import PriceBook, price_requests
from llmops_nb.schema import normalize_provider

D = Path(__file__).parent / "data" / "providers"
T0 = pd.Timestamp(1791328800, unit="s", tz="UTC")  # the fixtures' span clock origin
col = lambda r, c: [None if pd.isna(v) else v for v in r.valid[c]]


def test_anthropic_one_hour_cache_writes_are_kept_and_priced():
    r = read_logs(D / "anthropic_cache_ttl.jsonl")
    assert col(r, "cache_creation_1h_input_tokens") == [4000, 1000, 1500]
    assert col(r, "cache_creation_input_tokens") == [4000, 3000, 2000]  # the split alone: 500 + 1,500
    assert col(r, "input_tokens") == [2000 + 4000, 100 + 3000 + 5000, 10 + 2000]
    assert col(r, "provider_name")[0] == "anthropic"  # the wrapper's "Anthropic", normalised
    p = price_requests(r.valid, PriceBook())
    # claude-sonnet-4-5 $3 input, $6 1-hour write, $15 output: 2,000×3 + 4,000×6 + 300×15 = 34,500 → $0.0345
    assert p.cost_usd.iloc[0] == pytest.approx(0.0345, abs=1e-12)
    # claude-haiku-4-5 $1 input, $0.10 read, $1.25 5-minute, $2 1-hour, $5 output:
    # 100×1 + 5,000×0.10 + 2,000×1.25 + 1,000×2 + 64×5 = 100 + 500 + 2,500 + 2,000 + 320 = 5,420 → $0.00542
    assert p.cost_usd.iloc[1] == pytest.approx(0.00542, abs=1e-12)


def test_openai_batch_custom_id_and_all_finish_reasons():
    r = read_logs(D / "openai_batch_custom_id.jsonl")
    assert col(r, "custom_id") == ["invoice-2026-10-0001", "invoice-2026-10-0002"]
    assert col(r, "finish_reason")[0] == "stop" and col(r, "finish_reasons")[0] == "stop,length"
    assert col(r, "status_code") == [200, 400]


def test_anthropic_batch_custom_id_and_cache_split():
    r = read_logs(D / "anthropic_batch_custom_id.jsonl", defaults=dict(ts_start="2026-10-08T12:00:00Z"))
    assert col(r, "custom_id") == ["contract-review-17", "contract-review-18"]
    assert col(r, "cache_creation_1h_input_tokens")[0] == 2000 and col(r, "input_tokens")[0] == 500 + 2500
    assert col(r, "error_type") == [None, "invalid_request_error"]


def test_vertex_sdk_integer_finish_reasons_are_named():
    r = read_logs(D / "vertex_sdk_enum.jsonl")
    assert (len(r.valid), len(r.quarantine)) == (3, 0)
    assert col(r, "finish_reason") == ["stop", "safety", "spii"]  # 1, 3, 8 in google.cloud.aiplatform.v1 FinishReason
    assert col(r, "finish_reasons")[0] == "stop,max_tokens"
    assert col(r, "input_tokens") == [40, 18, 22] and col(r, "output_tokens") == [12, 0, 3]
    assert col(r, "ts_start")[0] == pd.Timestamp("2026-10-07T03:00:00.123456Z")


def test_otlp_current_semconv():
    r = read_logs(D / "otlp_genai_current.json")
    assert col(r, "provider_name") == ["azure.ai.openai", "azure.ai.openai", "gcp.vertex_ai", "openai", "openai"]
    assert col(r, "ttft_s")[0] == 0.42
    assert col(r, "finish_reason")[0] == "stop" and col(r, "finish_reasons")[0] == "stop,length,content_filter"
    assert "sk-proj-AbCdEf0123456789" in col(r, "system_instructions")[0]
    assert col(r, "system_instructions")[3] == "Answer in English."  # from the operation-details span event
    assert "こんにちは" in col(r, "input_text")[3]
    assert (col(r, "input_text")[4], col(r, "output_text")[4]) == ("What is 2+2?", "4")  # older content events
    assert col(r, "finish_reasons")[4] == "stop,length"  # gen_ai.choice events
    assert col(r, "ts_start")[0] == T0 and col(r, "ts_end")[0] == T0 + pd.Timedelta(seconds=2.5)


def test_otlp_log_records():
    r = read_logs(D / "otlp_logs_operation_details.json")
    assert r.format == "otlp_logs" and len(r.valid) == 2 and len(r.quarantine) == 0
    assert col(r, "request_id") == ["log-resp-1", "msg_log_2"]
    assert col(r, "input_tokens") == [1200, 80] and col(r, "output_tokens") == [300, 20]
    assert col(r, "provider_name") == ["gcp.vertex_ai", "anthropic"]
    assert col(r, "system_instructions")[0] == "You review contracts."
    assert col(r, "ts_start") == [T0 + pd.Timedelta(seconds=100), T0 + pd.Timedelta(seconds=110)]
    assert col(r, "service_name") == ["contract-review"] * 2


def test_openinference_llm_spans_become_rows():
    r = read_logs(D / "openinference_spans.json")
    assert len(r.valid) == 2  # the CHAIN span is not a model call
    assert col(r, "request_model") == ["gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022"]
    assert col(r, "input_tokens") == [1500, 3000] and col(r, "output_tokens") == [220, 100]
    assert col(r, "cache_read_input_tokens")[0] == 1024 and col(r, "cache_creation_input_tokens")[1] == 2000
    assert col(r, "provider_name") == ["openai", "aws.bedrock"]
    assert col(r, "operation_name") == ["chat", "chat"]
    assert (col(r, "system_instructions")[0], col(r, "input_text")[0]) == ("You are a search assistant.", "経費精算の締め日は?")
    assert col(r, "output_text")[0] == "毎月25日です。" and col(r, "conversation_id")[0] == "sess-42"
    assert col(r, "finish_reason")[1] == "end_turn"


def test_openllmetry_spans_keep_operation_and_finish_reason():
    r = read_logs(D / "openllmetry_spans.json")
    assert col(r, "operation_name") == ["chat", "embeddings", "text_completion"]
    assert col(r, "provider_name") == ["anthropic", "openai", "openai"]
    assert col(r, "finish_reason") == ["end_turn", None, "length"]
    assert col(r, "input_tokens") == [640, 33, 12] and col(r, "output_tokens") == [48, 0, 30]
    assert col(r, "cache_read_input_tokens")[0] == 512
    assert (col(r, "system_instructions")[0], col(r, "input_text")[0]) == ("Reply as a lawyer.", "Is clause 9 enforceable?")


@pytest.mark.parametrize("given,expected", [
    ("az.ai.openai", "azure.ai.openai"), ("az.ai.inference", "azure.ai.inference"), ("vertex_ai", "gcp.vertex_ai"),
    ("OpenAI", "openai"), ("Anthropic", "anthropic"), ("gemini", "gcp.gemini"), ("bedrock", "aws.bedrock"),
    ("xai", "x_ai"), ("mistralai", "mistral_ai"), ("gcp.vertex_ai", "gcp.vertex_ai"), ("acme-gateway", "acme-gateway")])
def test_provider_names_normalised(given, expected):
    assert normalize_provider(pd.Series([given])).iloc[0] == expected


def _stored_bytes(ws: Path) -> bytes:
    return b"".join(f.read_bytes() for f in (ws / "store").rglob("*.parquet"))


def test_system_instructions_dropped_with_the_text_when_text_is_not_kept(tmp_path):
    logs.ingest([D / "otlp_genai_current.json"], tmp_path, progress=False, gx=False, keep_text=False)
    df = logs.load_requests(tmp_path)
    assert len(df) == 5 and df[["input_text", "output_text", "system_instructions"]].isna().all().all()
    assert b"sk-proj-AbCdEf0123456789" not in _stored_bytes(tmp_path) and b"Answer in English" not in _stored_bytes(tmp_path)


def test_secrets_in_system_instructions_are_found_by_the_safety_scan(tmp_path):
    logs.ingest([D / "otlp_genai_current.json"], tmp_path, progress=False, gx=False)
    f = safety.scan_store(tmp_path)
    sys_hits = f[f.column == "system_instructions"]
    assert {"secret"} <= set(sys_hits.family)  # the API key pasted into a system prompt
    assert "AbCdEf0123456789" not in " ".join(f.preview.astype(str))  # previews stay masked
    first = logs.load_requests(tmp_path).request_id.iloc[0]
    assert first in set(sys_hits.request_id)
