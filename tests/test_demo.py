"Tests of the demo workspace generator (llmops_nb.demo)."
import hashlib, json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmops_nb.demo import (PLANTED, N_PLANTED_ROWS, MODELS, USE_CASES, make_demo_workspace, planted_table)
from llmops_nb.schema import COLUMN_NAMES
from conftest import DEMO_ROWS


def raw_lines(ws: Path) -> list[bytes]:
    "Every raw JSONL line of a workspace, in file order."
    return [l for f in sorted((ws / "raw").glob("*.jsonl")) for l in f.read_bytes().split(b"\n")[:-1]]


def parse(ws: Path) -> tuple[pd.DataFrame, list[bytes]]:
    "The parseable records (as a frame) and the lines that are not valid UTF-8 JSON."
    recs, bad = [], []
    for l in raw_lines(ws):
        try: recs.append(json.loads(l.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError): bad.append(l)
    return pd.DataFrame(recs), bad


@pytest.fixture(scope="module")
def raw(demo_raw_workspace):
    return parse(demo_raw_workspace)


def test_line_counts(demo_raw_workspace, raw):
    df, bad = raw
    assert len(raw_lines(demo_raw_workspace)) == DEMO_ROWS + len(PLANTED["malformed"])
    # broken JSON, plain text and Shift_JIS lines do not parse; the other three malformed lines do
    assert len(bad) == 3
    assert len(df) == DEMO_ROWS + 3
