"""The Airflow DAG (templates/schedules/airflow_dag.py), run by Airflow itself.

The slow test installs apache-airflow and the papermill provider (pinned, with the constraints in
tests/data/airflow/) and llmops-nb into a virtual environment of their own, cached under build/, then does what an
operator does: `airflow db migrate` (sqlite), copy the DAG into the dags folder, `airflow dags test` it against a demo
workspace, and check that every task succeeded and that the month that just closed got its reports.
"""
import ast
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmops_nb.reports import list_reports, template_parameters, templates_dir

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = ROOT / "templates" / "schedules" / "airflow_dag.py"
AIRFLOW, PAPERMILL_PROVIDER = "3.1.8", "3.13.3"
CONSTRAINTS = ROOT / "tests" / "data" / "airflow" / f"constraints-{AIRFLOW}.txt"


def _dag_constants() -> dict:
    "The DAG file's module-level string/tuple/dict constants, read without importing Airflow."
    out = {}
    for n in ast.parse(DAG_FILE.read_text()).body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            try: out[n.targets[0].id] = ast.literal_eval(n.value)
            except ValueError: pass
    return out


def test_dag_uses_airflow3_imports():
    "Airflow 3 names: the task SDK's DAG and the standard provider's operators, not the deprecated `airflow.operators.*`."
    tree = ast.parse(DAG_FILE.read_text())
    mods = {n.module: {a.name for a in n.names} for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert mods["airflow.sdk"] >= {"DAG"}
    assert mods["airflow.providers.standard.operators.bash"] == {"BashOperator"}
    assert mods["airflow.providers.standard.operators.python"] == {"PythonOperator"}
    assert mods["airflow.providers.papermill.operators.papermill"] == {"PapermillOperator"}
    assert not [m for m in mods if m in ("airflow", "airflow.models") or m.startswith("airflow.operators")]
    assert ".format(" not in DAG_FILE.read_text()  # str.format eats the Jinja braces


@pytest.mark.parametrize("run, expected", [
    (datetime(2026, 11, 1, 2, 30, tzinfo=timezone.utc), "2026-10"),   # the 1st: the month that just closed, final
    (datetime(2026, 11, 2, 2, 30, tzinfo=timezone.utc), "2026-11"),   # other days: this month to date
    (datetime(2026, 12, 31, 2, 30, tzinfo=timezone.utc), "2026-12"),
    (datetime(2027, 1, 1, 2, 30, tzinfo=timezone.utc), "2026-12"),    # across the year
])
def test_period_rule(run, expected):
    "The DAG's PERIOD template, rendered by Jinja as Airflow renders it, names the month of the day before the run."
    jinja2 = pytest.importorskip("jinja2")
    tpl = jinja2.Environment(undefined=jinja2.Undefined).from_string(_dag_constants()["PERIOD"])
    macros = type("macros", (), {"timedelta": timedelta})
    iv = dict(data_interval_start=run, data_interval_end=run)  # Airflow 3's cron trigger: the interval is the run's instant
    assert tpl.render(**iv, logical_date=run, dag_run={"run_after": run}, macros=macros, params={"period": ""}) == expected
    assert tpl.render(**iv, logical_date=None, dag_run={"run_after": run}, macros=macros, params={"period": ""}) == expected  # manual run
    assert tpl.render(**iv, logical_date=run, dag_run={"run_after": run}, macros=macros, params={"period": "2026-09"}) == "2026-09"


def test_dag_names_real_templates_and_parameters():
    c = _dag_constants()
    reports = list_reports()
    assert set(c["REPORTS"]) <= set(reports) and c["LOCALES"] == ("ja", "en")
    for report, nb in c["REPORTS"].items():
        assert (templates_dir() / nb).resolve() == reports[report].resolve()
        assert {"workspace", "period", "locale", "out_dir"} <= set(template_parameters(templates_dir() / nb))


def _key() -> str:
    "Cache key of the Airflow venv: pinned versions, constraints, llmops-nb's declared dependencies, Python version."
    deps = re.search(r"(?ms)^dependencies = \[.*?^\]", (ROOT / "pyproject.toml").read_text()).group(0)
    h = hashlib.sha256((CONSTRAINTS.read_text() + deps + sys.version).encode()).hexdigest()[:10]
    return f"airflow-{AIRFLOW}-papermill-{PAPERMILL_PROVIDER}-py{sys.version_info.major}{sys.version_info.minor}-{h}"


def _airflow_venv() -> Path:
    "build/<key>/: a venv with Airflow, the papermill provider and llmops-nb's dependencies; llmops-nb itself re-linked to this checkout."
    venv = ROOT / "build" / _key()
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(pip + ["-c", str(CONSTRAINTS), f"apache-airflow=={AIRFLOW}", f"apache-airflow-providers-papermill=={PAPERMILL_PROVIDER}", "-e", str(ROOT)],
                       check=True, timeout=1800)
        (venv / ".complete").write_text(f"{AIRFLOW} {PAPERMILL_PROVIDER}\n")
    subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True, timeout=600)  # this checkout, whichever one built the cache
    return venv


def _airflow(venv, env, *args, timeout=900):
    r = subprocess.run([str(venv / "bin" / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"airflow {' '.join(args)} exited {r.returncode}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.mark.slow
def test_airflow_dags_test_renders_the_closed_month(demo_raw_workspace, tmp_path):
    "`airflow dags test llmops_nb_reports 2026-11-01`: every task succeeds; October (the month that closed) gets its reports."
    t0 = time.time()
    venv = _airflow_venv()
    t_venv = time.time() - t0
    ws = tmp_path / "ws"
    shutil.copytree(demo_raw_workspace, ws)  # raw logs only: the DAG's first task ingests them
    dags = tmp_path / "dags"; dags.mkdir()
    shutil.copy(DAG_FILE, dags / "llmops_nb_reports.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("AIRFLOW", "LLMOPS_NB"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", AIRFLOW_HOME=str(tmp_path / "airflow"),
               AIRFLOW__CORE__DAGS_FOLDER=str(dags), AIRFLOW__CORE__LOAD_EXAMPLES="False", LLMOPS_NB_WORKSPACE=str(ws), LLMOPS_NB_RETRIES="0")  # fail fast, no 10-minute retry
    _airflow(venv, env, "db", "migrate")
    _airflow(venv, env, "dags", "reserialize")  # parse the dags folder as the DAG processor does
    listed = _airflow(venv, env, "dags", "list", "--output", "json")
    assert "llmops_nb_reports" in {d["dag_id"] for d in json.loads(listed.stdout[listed.stdout.index("["):])}, listed.stdout[-3000:]
    run = _airflow(venv, env, "dags", "test", "llmops_nb_reports", "2026-11-01")
    log = (run.stdout + run.stderr).splitlines()
    assert not [l for l in log if "llmops_nb_reports.py" in l and "Deprecat" in l], "the DAG uses deprecated Airflow names"

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as db:
        states = dict(db.execute("select task_id, state from task_instance where dag_id = 'llmops_nb_reports'").fetchall())
    c = _dag_constants()
    expected = {"ingest_logs", "verify_ledger"} | {f"{r}_{l}_{s}" for r in c["REPORTS"] for l in c["LOCALES"] for s in ("prepare", "execute", "publish")}
    assert states == dict.fromkeys(expected, "success")

    for report in c["REPORTS"]:
        for locale in c["LOCALES"]:
            out = ws / "reports" / report / "2026-10" / locale
            html = (out / f"{report}.html").read_text()
            assert "<html" in html.lower() and "Traceback" not in html
            manifest = json.loads((out / "manifest.json").read_text())
            assert manifest["parameters"]["period"] == "2026-10" and manifest["parameters"]["locale"] == locale, manifest["parameters"]
        assert not (ws / "reports" / report / "2026-11").exists()
    print(f"\nairflow venv {t_venv:.0f} s, whole test {time.time() - t0:.0f} s")
