"""Every report template and dashboard notebook runs under plain papermill: kernelspec and language metadata, the
papermill CLI's `--help-notebook`, and one real `papermill … -k python3 -p …` run published as the offline HTML."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*(ROOT / "templates").glob("*.ipynb"), *(ROOT / "templates" / "dashboards").glob("*.ipynb")])
PAPERMILL = Path(sys.executable).parent / "papermill"
IDS = [str(p.relative_to(ROOT / "templates")) for p in NOTEBOOKS]


def test_the_folders_hold_the_templates():
    assert len([p for p in NOTEBOOKS if p.parent.name == "templates"]) >= 7
    assert len([p for p in NOTEBOOKS if p.parent.name == "dashboards"]) >= 4


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_kernelspec_and_language_info(nb):
    md = json.loads(nb.read_text(encoding="utf-8"))["metadata"]
    ks, li = md.get("kernelspec", {}), md.get("language_info", {})
    assert (ks.get("name"), ks.get("language"), bool(ks.get("display_name"))) == ("python3", "python", True), nb
    assert (li.get("name"), li.get("file_extension")) == ("python", ".py"), nb
    # a jupytext round trip must not drop them again (notebook_metadata_filter "-all" did)
    flt = md.get("jupytext", {}).get("notebook_metadata_filter", "kernelspec,language_info")
    assert "kernelspec" in flt and "language_info" in flt, (nb, flt)


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_papermill_help_notebook(nb):
    """`papermill --help-notebook` answers without a traceback (it crashed without a kernelspec): a report template
    lists its parameters; a dashboard (Voilà reads its settings from the environment) has none to list."""
    r = subprocess.run([str(PAPERMILL), "--help-notebook", str(nb)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"Parameters inferred for notebook '{nb}'" in r.stdout, (r.stdout, r.stderr[-2000:])
    if nb.parent.name == "templates":
        assert r.returncode == 0 and "workspace:" in r.stdout and "locale:" in r.stdout and "out_dir:" in r.stdout, r.stdout
    else:
        assert r.returncode == 0 or "No cell tagged 'parameters'" in r.stdout, r.stdout


@pytest.mark.slow
def test_plain_papermill_run_then_publish(demo_workspace, tmp_path):
    """The README's commands: `papermill <template> <out>/operations.ipynb -k python3 -p …`, then `publish_executed`
    turns it into the offline report; its results.json equals what `llmops-nb report` writes for the same inputs."""
    ws = tmp_path / "ws"; shutil.copytree(demo_workspace, ws)
    stage = tmp_path / "stage"; stage.mkdir()
    executed = stage / "operations.ipynb"
    cmd = [str(PAPERMILL), str(ROOT / "templates" / "operations_overview.ipynb"), str(executed), "-k", "python3",
           "-p", "workspace", str(ws), "-p", "period", "2026-10", "-p", "locale", "en", "-p", "out_dir", str(stage)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (stage / "results.json").exists()
    out = ws / "reports" / "operations" / "2026-10" / "en"
    code = ("import sys; from llmops_nb.reports import publish_executed; "
            "run = publish_executed(sys.argv[1], 'operations', sys.argv[2], workspace=sys.argv[3], period='2026-10', locale='en'); "
            "print(run.html)")
    r = subprocess.run([sys.executable, "-c", code, str(executed), str(out), str(ws)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    html = Path(r.stdout.strip().splitlines()[-1])
    assert html == out / "operations.html" and html.exists()
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page  # charts inline, no script: the offline report
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["parameters"]["period"] == "2026-10", manifest
    # the same report through the CLI, into another folder: the figures agree byte for byte
    other = tmp_path / "cli"
    r = subprocess.run([str(Path(sys.executable).parent / "llmops-nb"), "report", "operations", "-w", str(ws), "--period", "2026-10",
                        "--locale", "en", "--out", str(other)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (other / "results.json").read_bytes() == (out / "results.json").read_bytes()
