"Shared fixtures: a small demo workspace built once per test session."
import os
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import shutil
import pytest

DEMO_ROWS = 3_000  # small enough for every test run; PLANTED rows are part of it


@pytest.fixture(scope="session")
def demo_raw_workspace(tmp_path_factory):
    "A demo workspace (settings.ini + raw/ JSONL logs, 3,000 rows, seed 42), NOT ingested. Treat it as read-only."
    from llmops_nb.demo import make_demo_workspace
    return make_demo_workspace(tmp_path_factory.mktemp("demo_raw"), rows=DEMO_ROWS, seed=42, progress=False)


@pytest.fixture(scope="session")
def demo_workspace(demo_raw_workspace, tmp_path_factory):
    "The same demo workspace, ingested into its Parquet store (needs llmops_nb.logs.ingest). Treat it as read-only."
    logs = pytest.importorskip("llmops_nb.logs")
    if not hasattr(logs, "ingest"): pytest.skip("llmops_nb.logs.ingest is not available yet")
    ws = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(demo_raw_workspace, ws)
    logs.ingest(sorted((ws / "raw").iterdir()), ws)
    return ws
