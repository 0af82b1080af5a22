"""Apache Airflow DAG: render the llmops-nb audit and operations reports every night, in Japanese and English.

Copy this file into Airflow's `dags/` folder and set two Airflow Variables (or environment variables):
`LLMOPS_NB_WORKSPACE` (the workspace folder: settings.ini, raw/, store/, reports/) and `LLMOPS_NB_TEMPLATES`
(the `templates/` folder of llmops-nb). Needs `apache-airflow-providers-papermill` and llmops-nb on the workers.

Per report and language: PapermillOperator executes the template for the month of the data interval (parameters
`workspace`, `period`, `locale`, `out_dir`), then `llmops_nb.reports.publish_executed` renders the offline HTML,
writes the manifest, swaps the report folder in atomically (a failed run keeps the previous good report) and
appends the run to the evidence ledger — exactly what `llmops-nb report` does. A last task verifies the ledger.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.providers.papermill.operators.papermill import PapermillOperator

WORKSPACE = os.environ.get("LLMOPS_NB_WORKSPACE", "/srv/llmops/workspace")
TEMPLATES = os.environ.get("LLMOPS_NB_TEMPLATES", "/srv/llmops/llmops-nb/templates")
REPORTS = {"audit": "audit_report.ipynb", "operations": "operations_overview.ipynb"}
LOCALES = ("ja", "en")
PERIOD = "{{ data_interval_start.strftime('%Y-%m') }}"  # the month the run covers (UTC)
STAGING = WORKSPACE + "/reports/.airflow/{report}/" + PERIOD + "/{locale}"  # where papermill writes


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
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["llmops-nb", "audit"],
) as dag:
    ingest = BashOperator(
        task_id="ingest_logs",
        bash_command=f"llmops-nb ingest {WORKSPACE}/raw --workspace {WORKSPACE}",
    )
    verify = BashOperator(task_id="verify_ledger", bash_command=f"llmops-nb verify --workspace {WORKSPACE}")
    for report, notebook in REPORTS.items():
        for locale in LOCALES:
            staging = STAGING.format(report=report, locale=locale)
            prepare = BashOperator(task_id=f"{report}_{locale}_prepare", bash_command=f"mkdir -p {staging}")
            execute = PapermillOperator(
                task_id=f"{report}_{locale}_execute",
                input_nb=f"{TEMPLATES}/{notebook}",
                output_nb=f"{staging}/{report}.ipynb",
                kernel_name="python3",
                language_name="python",
                parameters={"workspace": WORKSPACE, "period": PERIOD, "locale": locale, "out_dir": staging},
            )
            render = PythonOperator(
                task_id=f"{report}_{locale}_publish",
                python_callable=publish,
                op_kwargs={"report": report, "locale": locale, "period": PERIOD, "executed": f"{staging}/{report}.ipynb"},
            )
            ingest >> prepare >> execute >> render >> verify
