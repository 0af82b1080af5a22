"""Apache Airflow 3 DAG: render the llmops-nb audit and operations reports every night, in Japanese and English.

Needs Airflow ≥ 3.1 with `apache-airflow-providers-papermill` (and the standard provider Airflow ships), and
llmops-nb installed where the DAG is parsed and on the workers (its `llmops-nb` command on their PATH, the `python3`
Jupyter kernel able to import `llmops_nb`). Copy this file into Airflow's `dags/` folder and set, in the environment
of the DAG processor and the workers:

- `LLMOPS_NB_WORKSPACE`: the workspace folder (settings.ini, raw/, store/, reports/);
- `LLMOPS_NB_TEMPLATES` (optional): a folder of report templates; default: the templates llmops-nb ships;
- `LLMOPS_NB_RETRIES` (optional): retries of a failed task, 10 minutes apart; default 1.

Which month a run renders (the same rule as the crontab `llmops-nb schedule` prints): the month of the day before
the run. So the 02:30 run on the 2nd…31st renders the current month to date, and the run on the 1st renders the
month that just closed, complete: the run of 2026-11-01 renders the final October report (2026-10). A manual run can
name a month: `airflow dags trigger llmops_nb_reports -c '{"period": "2026-09"}'`.

Per report and language: PapermillOperator executes the template for that month (parameters `workspace`, `period`,
`locale`, `out_dir`), then `llmops_nb.reports.publish_executed` renders the offline HTML, writes the manifest, swaps
the report folder in atomically (a failed run keeps the previous good report) and appends the run to the evidence
ledger — exactly what `llmops-nb report` does. The report lands in `<workspace>/reports/<report>/<period>/<locale>/`.
A last task verifies the ledger.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param


def _templates() -> str:
    "The report templates folder: $LLMOPS_NB_TEMPLATES, else the one installed with llmops-nb."
    if os.environ.get("LLMOPS_NB_TEMPLATES"): return os.environ["LLMOPS_NB_TEMPLATES"]
    from llmops_nb.reports import templates_dir
    return str(templates_dir())


WORKSPACE = os.environ.get("LLMOPS_NB_WORKSPACE", "/srv/llmops/workspace")
TEMPLATES = _templates()
REPORTS = {"audit": "audit_report.ipynb", "operations": "operations_overview.ipynb"}
LOCALES = ("ja", "en")
RETRIES = int(os.environ.get("LLMOPS_NB_RETRIES", "1"))
# The month of the day before the run (UTC): the closed month on the 1st, the current month to date otherwise.
# `logical_date` is empty for some manual runs in Airflow 3, `dag_run.run_after` never is.
PERIOD = ("{{ params.period or ((logical_date or dag_run.run_after) - macros.timedelta(days=1)).strftime('%Y-%m') }}")


def staging(report: str, locale: str) -> str:
    "Where papermill writes the executed notebook and its results.json (a Jinja template: the period is the run's)."
    return f"{WORKSPACE}/reports/.airflow/{report}/{PERIOD}/{locale}"  # plain concatenation: the Jinja braces stay intact


def publish(report: str, locale: str, period: str, executed: str) -> str:
    "Render, record and swap in the notebook PapermillOperator executed; returns the report's HTML path."
    from llmops_nb.config import load_settings
    from llmops_nb.reports import publish_executed
    out = load_settings(WORKSPACE).path("reports") / report / period / locale
    run = publish_executed(executed, report, out, workspace=WORKSPACE, period=period, locale=locale)
    return str(run.html)


with DAG(
    dag_id="llmops_nb_reports",
    description="llmops-nb: nightly audit and operations reports (offline HTML, manifest, evidence ledger)",
    schedule="30 2 * * *",  # Airflow 3: a cron trigger, the run's logical date is its own time (02:30 UTC)
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={"period": Param("", type="string", description="YYYY-MM to render instead of the month of the day before the run")},
    default_args={"retries": RETRIES, "retry_delay": timedelta(minutes=10)},
    tags=["llmops-nb", "audit"],
) as dag:
    ingest = BashOperator(
        task_id="ingest_logs",
        # exit 1 = loaded, but some rows were quarantined or some files rejected: the good rows are stored and the audit
        # report names the rest, so the reports still run; exit 2 (usage) or worse fails the task
        bash_command=(f"llmops-nb ingest {WORKSPACE}/raw --workspace {WORKSPACE} --quiet || "
                      "{ rc=$?; [ $rc -eq 1 ] && echo 'llmops-nb ingest: rows quarantined or files rejected' >&2; [ $rc -eq 1 ]; }"),
    )
    verify = BashOperator(task_id="verify_ledger", bash_command=f"llmops-nb verify --workspace {WORKSPACE}")
    for report, notebook in REPORTS.items():
        for locale in LOCALES:
            folder = staging(report, locale)
            prepare = BashOperator(task_id=f"{report}_{locale}_prepare", bash_command=f"mkdir -p '{folder}'")
            execute = PapermillOperator(
                task_id=f"{report}_{locale}_execute",
                input_nb=f"{TEMPLATES}/{notebook}",
                output_nb=f"{folder}/{report}.ipynb",
                kernel_name="python3",
                language_name="python",
                parameters={"workspace": WORKSPACE, "period": PERIOD, "locale": locale, "out_dir": folder},
            )
            render = PythonOperator(
                task_id=f"{report}_{locale}_publish",
                python_callable=publish,
                op_kwargs={"report": report, "locale": locale, "period": PERIOD, "executed": f"{folder}/{report}.ipynb"},
            )
            ingest >> prepare >> execute >> render >> verify
