"The `llmops-nb` console script: exit codes, one-line errors, report/ingest/validate/demo on real folders."
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

EXE = Path(sys.executable).parent / "llmops-nb"


def cli(*args, cwd=None):
    "Run the installed console script; returns the CompletedProcess (text)."
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


class Result:
    "What an in-process run of `main` printed and returned."
    def __init__(self, code, out, err): self.returncode, self.stdout, self.stderr = code, out, err


def run(capsys, *args) -> Result:
    "Run `llmops_nb.cli.main` in this process (fast), capturing its output."
    from llmops_nb.cli.main import main
    capsys.readouterr()
    code = main(list(map(str, args)))
    o = capsys.readouterr()
    return Result(code, o.out, o.err)


def one_line_error(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("llmops-nb: error: ")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_help_and_unknown_command():
    r = cli("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("demo", "report", "ingest", "validate", "list"))
    msg = one_line_error(cli("frobnicate"))
    assert "unknown command 'frobnicate'" in msg
    r = cli("report", "--help")
    assert r.returncode == 0 and "--period" in r.stdout and "-p KEY=VALUE" in r.stdout


def test_validate(tmp_path, capsys):
    ini = tmp_path / "settings.ini"
    ini.write_text("[organisation]\nlocale = en\n\n[budget]\nmonthly_budget = -5\n")
    msg = one_line_error(run(capsys, "validate", "--settings", ini))
    assert f"{ini}:5: [budget] monthly_budget = '-5': allowed a number ≥ 0" in msg
    ini.write_text("[organisation]\nlocale = en\n")
    (tmp_path / "raw").mkdir()
    r = run(capsys, "validate", "--settings", ini)
    assert r.returncode == 0, r.stderr
    assert re.search(r"✓ settings\s+" + re.escape(str(ini)), r.stdout) and "✓ template operations" in r.stdout
    assert re.search(r"! store\s+.*does not exist yet", r.stdout)


def test_report_errors_are_one_line(tmp_path, demo_raw_workspace, capsys):
    ws = demo_raw_workspace
    assert "no report named 'nope'" in one_line_error(run(capsys, "report", "nope", "-w", ws))
    assert "is not a month" in one_line_error(run(capsys, "report", "operations", "-w", ws, "--period", "2026-9"))
    assert "workspace folder not found" in one_line_error(run(capsys, "report", "operations", "-w", tmp_path / "missing"))
    assert "has no settings.ini" in one_line_error(run(capsys, "report", "operations", "-w", tmp_path))
    assert "unknown parameter(s) colour" in one_line_error(run(capsys, "report", "operations", "-w", ws, "-p", "colour=red"))
    assert "not found" in one_line_error(run(capsys, "ingest", tmp_path / "nothing.jsonl", "-w", ws))


def test_failing_template_exits_non_zero_and_keeps_notebook(tmp_path, demo_workspace):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Broken"),
        nbformat.v4.new_code_cell('workspace = ""\nperiod = ""\nlocale = ""\nout_dir = ""', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise KeyError('department column missing in store')")])
    tpl = tmp_path / "broken_report.ipynb"
    nbformat.write(nb, tpl)
    out = tmp_path / "out"
    msg = one_line_error(cli("report", tpl, "-w", demo_workspace, "--out", out))
    assert "failed in cell" in msg and "department column missing in store" in msg and str(out / "broken.ipynb") in msg
    executed = nbformat.read(out / "broken.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0].output_type == "error"
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"


def test_report_default_folder(demo_workspace, tmp_path, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace, ws)
    r = run(capsys, "report", "operations", "-w", ws, "--locale", "en", "--period", "2026-10")
    assert r.returncode == 0, r.stderr
    html = ws / "reports" / "operations" / "2026-10" / "en" / "operations.html"
    assert html.exists() and str(html) in r.stdout and html.as_uri() in r.stdout
    page = html.read_text()
    import pandas as pd
    req = pd.concat(pd.read_parquet(f) for f in sorted((ws / "store").rglob("*.parquet")) if "month=" in f.as_posix())
    october = req[req.ts_start.dt.strftime("%Y-%m") == "2026-10"]
    results = json.loads((html.parent / "results.json").read_text())
    assert results["summary"]["calls"] == len(october) and results["summary"]["first_day"] == "2026-10-01"
    assert "Oct 2026" in page and f">{len(october):,}<" in page


def test_ingest_prints_accounting(demo_raw_workspace, tmp_path, capsys):
    pytest.importorskip("llmops_nb.logs")
    ws = tmp_path / "ws"
    shutil.copytree(demo_raw_workspace, ws)
    r = run(capsys, "ingest", ws / "raw", "-w", ws)
    assert r.returncode == 1, r.stderr  # the demo plants bad rows: something was rejected (issue 13)
    m = re.search(r"ingested ([\d,]+) rows: ([\d,]+) valid, ([\d,]+) quarantined", r.stdout)
    n, v, q = (int(x.replace(",", "")) for x in m.groups())
    assert n == v + q and q > 0
    r = run(capsys, "ingest", ws / "raw", "-w", ws)  # the same files again: nothing new, still accounted for
    assert re.search(rf"ingested {n:,} rows: {v:,} valid \({v:,} of them already stored\), {q:,} quarantined", r.stdout), r.stdout


def test_demo_end_to_end(tmp_path):
    pytest.importorskip("llmops_nb.logs")
    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--rows", 300, "--locale", "en", "--report", "operations")
    assert r.returncode == 0, r.stderr[-2000:]
    html = out / "reports" / "operations" / "all" / "en" / "operations.html"
    assert html.exists() and html.as_uri() in r.stdout
    m = re.search(r"ingested ([\d,]+) rows: ([\d,]+) valid, ([\d,]+) quarantined", r.stdout)
    assert m and int(m.group(2).replace(",", "")) == 300
    manifest = json.loads((html.parent / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["parameters"]["locale"] == "en"
    assert ">300<" in html.read_text()  # the calls tile
