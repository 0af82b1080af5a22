"""The Great Expectations suite as a data team uses it: the shipped suite JSON loaded into a GX context of their own
(a file context in a temporary folder, GX's own API only), validating demo RequestLog rows; and GX's native validation
results kept as JSON next to the flattened table in the store."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from llmops_nb import schema
from llmops_nb.log_store import load_gx_results, load_requests, store_dir

SUITE_FILE = Path(schema.__file__).parent / "data" / "schemas" / "requestlog.gx_suite.json"


def _gx():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
    return gx


def test_requestlog_suite_builds_without_a_context():
    # a fresh interpreter: no GX context exists (in this process other tests may have made one)
    r = subprocess.run([sys.executable, "-c", "from llmops_nb.schema import requestlog_suite; s = requestlog_suite(); "
                        "print(len(s.expectations))"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) == len(schema.requestlog_checks())


def test_shipped_suite_file_is_the_code():
    assert SUITE_FILE.is_file() and schema.requestlog_suite_path() == SUITE_FILE
    shipped = json.loads(SUITE_FILE.read_text(encoding="utf-8"))
    assert shipped["expectations"] == schema.requestlog_suite_dict()["expectations"]
    assert [e["meta"]["check"] for e in shipped["expectations"]] == [c.id for c in schema.requestlog_checks()]


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    "A GX file context in a temporary folder with the shipped suite (read with GX's own API) and a dataframe batch."
    gx = _gx()
    ctx = gx.get_context(mode="file", project_root_dir=str(tmp_path_factory.mktemp("gx_project")))
    suite = ctx.suites.add(gx.ExpectationSuite(**json.loads(SUITE_FILE.read_text(encoding="utf-8"))))
    batch = ctx.data_sources.add_pandas("llm_calls").add_dataframe_asset("requestlog").add_batch_definition_whole_dataframe("all")
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="requestlog", data=batch, suite=suite))

    def run(df):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vd.run(batch_parameters={"dataframe": schema.add_check_columns(df)},
                          expectation_parameters=schema.suite_parameters(), result_format="SUMMARY")
    return run


def test_shipped_suite_passes_the_demo_rows(validation, demo_workspace):
    rows = load_requests(demo_workspace).drop(columns=["input_text", "output_text"])
    assert len(rows) > 2000
    res = validation(rows)
    failed = [r.expectation_config.meta["check"] for r in res.results if not r.success]
    assert res.success and failed == [] and len(res.results) == len(schema.requestlog_checks())


def test_shipped_suite_fails_a_broken_frame_on_the_expected_expectations(validation, demo_workspace):
    bad = load_requests(demo_workspace).drop(columns=["input_text", "output_text"]).head(200).copy()
    bad.loc[bad.index[1], "request_id"] = bad.loc[bad.index[0], "request_id"]  # a duplicate id
    bad.loc[bad.index[5], ["output_tokens", "reasoning_output_tokens"]] = [-3, pd.NA]  # negative tokens (no reasoning count)
    bad.loc[bad.index[7], "finish_reason"] = "exploded"                       # not a known finish reason
    res = validation(bad)
    failed = {r.expectation_config.meta["check"]: r.result["unexpected_count"] for r in res.results if not r.success}
    assert not res.success
    assert failed == {"unique:request_id": 2, "min:output_tokens": 1, "in_set:finish_reason": 1}


def test_ingest_keeps_gx_native_results_next_to_the_flat_table(demo_workspace, demo_ingest_summary):
    store = store_dir(demo_workspace)
    flat = load_gx_results(demo_workspace)
    flat = flat[flat.load_id == demo_ingest_summary.load_id]
    native_file = store / "gx_validations" / f"{demo_ingest_summary.load_id}.json"
    assert (store / "gx_results.jsonl").is_file() and native_file.is_file()
    native = json.loads(native_file.read_text(encoding="utf-8"))
    assert isinstance(native, list) and native and all({"success", "results", "statistics"} <= set(v) for v in native)
    # the native results say what the flat table says: per check, the unexpected rows summed over the batches
    counts = pd.Series([r["result"].get("unexpected_count", 0) for v in native for r in v["results"]],
                       index=[r["expectation_config"]["meta"]["check"] for v in native for r in v["results"]]).groupby(level=0).sum()
    assert sorted(counts.index) == sorted(flat.check)
    assert counts.loc[flat.check].tolist() == flat.unexpected_count.astype(int).tolist()
    ok = pd.Series([r["success"] for v in native for r in v["results"]],
                   index=[r["expectation_config"]["meta"]["check"] for v in native for r in v["results"]]).groupby(level=0).all()
    assert ok.loc[flat.check].tolist() == flat.success.astype(bool).tolist()
