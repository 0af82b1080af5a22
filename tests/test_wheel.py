"""The wheel renders reports: build sdist + wheel with `python -m build`, install the wheel into a virtual environment
outside the checkout, and run `llmops-nb demo`, `report` and `compliance evaluate` from it, with no PYTHONPATH and the
working directory outside the repository, as an operator would.

The environment's third-party packages are cached under build/ (keyed on the wheel's Requires-Dist and the Python
version: a changed dependency list gets a new environment, built with the wheel's own resolution); llmops-nb itself
is reinstalled from the freshly built wheel every run, then `pip check` confirms every declared dependency is met.
Delete build/wheel-venv-* for an entirely fresh run (cold: see the README)."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
ROWS = 2000
BUNDLED = ("templates", "governance")  # repository folders the wheel carries as llmops_nb/data/<name>/
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def run(cmd, cwd, env, timeout=900):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return r


def clean_env(venv: Path) -> dict:
    "The operator's environment: the venv's bin first on PATH, no PYTHONPATH, no other virtual environment."
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("LLMOPS_NB_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def repo_files(name: str) -> set[str]:
    return {str(p.relative_to(ROOT)) for p in (ROOT / name).rglob("*") if p.is_file() and not SKIP_PARTS & set(p.parts)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    r = run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    wheels = sorted(out.glob("llmops_nb-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


def requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return sorted(line for line in z.read(meta).decode().splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    "A virtual environment (cached third-party packages) with llmops-nb installed from `wheel`."
    key = hashlib.sha256("\n".join([sys.version, *requires_dist(wheel)]).encode()).hexdigest()[:12]
    v = BUILD / f"wheel-venv-{key}"
    cwd = tmp_path_factory.mktemp("pip")
    env = clean_env(v)
    if not (v / ".complete").exists():
        BUILD.mkdir(exist_ok=True)
        r = run([sys.executable, "-m", "venv", "--clear", v], cwd=cwd, env=env)
        assert r.returncode == 0, r.stderr
        r = run([v / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=cwd, env=env, timeout=1800)
        assert r.returncode == 0, r.stderr[-3000:]
        (v / ".complete").write_text("\n".join(requires_dist(wheel)) + "\n")
    else:
        r = run([v / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel], cwd=cwd, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
    r = run([v / "bin" / "python", "-m", "pip", "check"], cwd=cwd, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return v


@pytest.mark.slow
def test_wheel_carries_templates_and_governance(wheel):
    with zipfile.ZipFile(wheel) as z: names = set(z.namelist())
    for folder in BUNDLED:
        expected = {f"llmops_nb/data/{f}" for f in repo_files(folder)}
        assert expected and expected <= names, sorted(expected - names)[:20]
    for must in ("llmops_nb/data/templates/cost_report.ipynb", "llmops_nb/data/templates/dashboards/operations_dashboard.ipynb",
                 "llmops_nb/data/templates/schedules/github_actions.yml", "llmops_nb/data/governance/controls/AUP-01.yaml",
                 "llmops_nb/data/governance/schemas/control.schema.json", "llmops_nb/data/governance/policies/en/acceptable-use.md"):
        assert must in names, must


@pytest.mark.slow
def test_installed_wheel_renders_reports(venv, tmp_path):
    env, bin_ = clean_env(venv), venv / "bin"
    cwd = tmp_path / "elsewhere"; cwd.mkdir()
    # imported from the venv, not from the checkout; the templates and catalogue from the package
    code = ("import json, llmops_nb; from llmops_nb.reports import templates_dir; from llmops_nb.systems import catalogue_dir; "
            "print(json.dumps([llmops_nb.__file__, str(templates_dir()), str(catalogue_dir())]))")
    r = run([bin_ / "python", "-c", code], cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    mod, tpl, cat = map(Path, json.loads(r.stdout))
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert mod == site / "llmops_nb" / "__init__.py", mod
    assert (tpl, cat) == (site / "llmops_nb" / "data" / "templates", site / "llmops_nb" / "data" / "governance")
    assert mod.parent != ROOT / "llmops_nb"  # not the checkout's package

    ws = tmp_path / "ws"
    r = run([bin_ / "llmops-nb", "demo", "--rows", ROWS, "--out", ws, "--locale", "en"], cwd=cwd, env=env, timeout=1200)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    names = sorted({Path(f).stem.split("_")[0] for f in repo_files("templates") if f.count("/") == 1 and f.endswith(".ipynb")})
    assert len(names) >= 7
    for name in names:
        out = ws / "reports" / name / "all" / "en"
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["status"] == "ok", name
        assert "<table" in page or "<svg" in page, name
        assert f"{name} [en]: file://" in r.stdout, (name, r.stdout)
    ops = json.loads((ws / "reports" / "operations" / "all" / "en" / "results.json").read_text(encoding="utf-8"))
    assert ops["summary"]["calls"] == ROWS  # the demo's valid calls, shown on the page
    assert f"{ROWS:,}" in (ws / "reports" / "operations" / "all" / "en" / "operations.html").read_text(encoding="utf-8")
    for name in ("cost", "operations"):
        assert "<svg" in (ws / "reports" / name / "all" / "en" / f"{name}.html").read_text(encoding="utf-8"), name

    out = tmp_path / "cost-ja"
    r = run([bin_ / "llmops-nb", "report", "cost", "-w", ws, "--period", "2026-10", "--locale", "ja", "--out", out], cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "<svg" in (out / "cost.html").read_text(encoding="utf-8")
    res = tmp_path / "compliance.json"
    r = run([bin_ / "llmops-nb", "compliance", "evaluate", "-w", ws, "--period", "2026-10", "--locale", "en", "--out", res], cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("2026-10: Pass "), r.stdout[:500]
    rows = json.loads(res.read_text(encoding="utf-8"))
    rows = rows if isinstance(rows, list) else rows.get("results", rows)
    controls = {Path(f).stem for f in repo_files("governance") if f.startswith("governance/controls/")}
    assert {row["control"] for row in rows} == controls  # every control of the packaged catalogue evaluated
