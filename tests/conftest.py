"Shared fixtures: a small demo workspace built once per test session."
import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import shutil

import pytest

DEMO_ROWS = 3_000  # small enough for every test run; the planted rows (llmops_nb.demo.PLANTED) are part of it


@pytest.fixture(scope="session")
def demo_raw_workspace(tmp_path_factory):
    "A demo workspace (settings.ini + raw/ JSONL logs, 3,000 rows, seed 42), NOT ingested. Treat it as read-only."
    from llmops_nb.demo import make_demo_workspace
    return make_demo_workspace(tmp_path_factory.mktemp("demo_raw"), rows=DEMO_ROWS, seed=42, progress=False)


@pytest.fixture(scope="session")
def _demo_ingested(demo_raw_workspace, tmp_path_factory):
    "(workspace, IngestSummary): a copy of the raw demo workspace ingested into its Parquet store."
    logs = pytest.importorskip("llmops_nb.logs")
    if not hasattr(logs, "ingest"): pytest.skip("llmops_nb.logs.ingest is not available yet")
    ws = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(demo_raw_workspace, ws)
    return ws, logs.ingest(sorted((ws / "raw").iterdir()), ws, progress=False)


@pytest.fixture(scope="session")
def demo_workspace(_demo_ingested):
    "The demo workspace (3,000 rows, seed 42) ingested: store/ holds the valid rows and the quarantine. Read-only."
    return _demo_ingested[0]


@pytest.fixture(scope="session")
def demo_ingest_summary(_demo_ingested):
    "The `IngestSummary` of the `demo_workspace` ingestion."
    return _demo_ingested[1]
