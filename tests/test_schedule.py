"Scheduling: crontab lines (printed, installed, shipped) and the GitHub Actions workflow parse and name real templates; --logs and --since-last (the Airflow DAG: tests/test_airflow.py)."
import json
import os
import shutil
import stat

import pytest
import yaml

from llmops_nb.cli.main import CliError, main
from llmops_nb.cli.schedule import check_cron_line, schedule_lines
from llmops_nb.reports import list_reports, templates_dir

SCHEDULES = templates_dir() / "schedules"


def run(capsys, *args):
    capsys.readouterr()
    code = main(list(map(str, args)))
    o = capsys.readouterr()
    return code, o.out, o.err


def cron_entries(text: str) -> list[str]:
    "The schedule lines of a crontab (no comments, blank lines or VAR=value settings)."
    return [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#") and not l.split()[0].count("=")]


def test_schedule_prints_valid_cron_lines(tmp_path, capsys):
    (tmp_path / "settings.ini").write_text("[organisation]\nlocale = en\n")
    code, out, err = run(capsys, "schedule", "-w", tmp_path, "--reports", "audit", "operations", "--at", "23:45")
    assert code == 0, err
    lines = cron_entries(out)
    assert len(lines) == 2 * 2 * 2  # reports × languages × (daily, monthly)
    for l in lines:
        fields, cmd = check_cron_line(l)
        assert len(fields) == 5 and "report" in cmd and f"--workspace {tmp_path}" in cmd
    daily = [l for l in lines if l.split()[:5] == ["45", "23", "*", "*", "*"]]
    monthly = [l for l in lines if l.split()[:5] == ["45", "0", "1", "*", "*"]]
    assert len(daily) == len(monthly) == 4
    assert all("--since-last" in l and r'date -u +\%Y-\%m' in l for l in daily)
    assert all("--since-last" not in l and "yesterday" in l for l in monthly)
    assert all(f"flock -w 3600 {tmp_path}/reports/.cron.lock" in l for l in lines) and (tmp_path / "reports").is_dir()
    assert out.splitlines()[0] == f"# BEGIN llmops-nb {tmp_path}" and out.splitlines()[-1] == f"# END llmops-nb {tmp_path}"
    code, _, err = run(capsys, "schedule", "-w", tmp_path, "--reports", "nope")
    assert code == 2 and "no report named 'nope'" in err
    code, _, err = run(capsys, "schedule", "-w", tmp_path, "--at", "7pm")
    assert code == 2 and "--at '7pm': expected a time HH:MM" in err


@pytest.mark.parametrize("line, problem", [("60 2 * * * x", "minute '60'"), ("0 24 * * * x", "hour '24'"), ("0 2 0 * * x", "day of month '0'"),
                                           ("0 2 * 13 * x", "month '13'"), ("0 2 * * 8 x", "day of week '8'"), ("0 2 * * x", "5 schedule fields"),
                                           ("*/0 2 * * * x", "bad step"), ("0 2 * * * date +%d", "unescaped %")])
def test_cron_line_checks(line, problem):
    with pytest.raises(CliError, match=problem.replace("*", r"\*")):
        check_cron_line(line)
    assert check_cron_line("*/15 0-6,22 1 1-12 1-5 echo ok")[0] == ["*/15", "0-6,22", "1", "1-12", "1-5"]


def test_install_replaces_only_its_own_block(tmp_path, capsys, monkeypatch):
    store = tmp_path / "crontab.txt"
    store.write_text("MAILTO=ops@example.com\n0 1 * * * backup.sh\n")
    fake = tmp_path / "crontab"
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = -l ]; then cat {store}; else cat > {store}; fi\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("LLMOPS_NB_CRONTAB", str(fake))
    ws = tmp_path / "ws"; ws.mkdir(); (ws / "settings.ini").write_text("")
    for at in ("02:30", "04:10"):  # twice: the second install replaces the first block
        code, out, err = run(capsys, "schedule", "-w", ws, "--reports", "audit", "--locale", "ja", "--at", at, "--install")
        assert code == 0, err
    text = store.read_text()
    assert text.startswith("MAILTO=ops@example.com\n0 1 * * * backup.sh\n")
    assert text.count(f"# BEGIN llmops-nb {ws}") == 1 and "30 2 * * *" not in text
    assert [l.split()[:2] for l in cron_entries(text)[1:]] == [["10", "4"], ["10", "5"]]


def test_shipped_crontab_matches_the_command():
    text = (SCHEDULES / "crontab.txt").read_text()
    lines = cron_entries(text)
    assert lines == [l for l in schedule_lines("/srv/llmops/workspace", ("audit", "operations"), "02:30", ("ja", "en"), "llmops-nb") if not l.startswith("#")]
    for l in lines:
        assert len(check_cron_line(l)[0]) == 5
    assert "SHELL=/bin/bash" in text


def test_github_actions_workflow_structure():
    wf = yaml.safe_load((SCHEDULES / "github_actions.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    crons = [s["cron"] for s in on["schedule"]]
    assert crons and all(len(check_cron_line(c + " x")[0]) == 5 for c in crons)
    assert "period" in on["workflow_dispatch"]["inputs"]
    steps = wf["jobs"]["reports"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "llmops-nb report" in runs and "llmops-nb verify" in runs and "llmops-nb ingest" in runs
    assert all(r in list_reports() for r in ("audit", "operations"))
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)
    assert steps[0]["uses"].startswith("actions/checkout")


def test_logs_and_since_last(demo_raw_workspace, tmp_path, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(demo_raw_workspace, ws)
    raw = sorted((ws / "raw").iterdir())
    late = raw[-1]
    late.rename(tmp_path / late.name)  # October arrives later
    code, out, err = run(capsys, "report", "operations", "-w", ws, "--period", "2026-09", "--locale", "en", "--since-last")
    assert code == 0, err
    assert "ingested" in out and (ws / "reports" / "operations" / "2026-09" / "en" / "operations.html").exists()
    first = json.loads((ws / "reports" / "operations" / "2026-09" / "en" / "results.json").read_text())
    code, out, err = run(capsys, "report", "operations", "-w", ws, "--period", "2026-09", "--locale", "en", "--since-last")
    assert code == 0 and "up to date" in out and "ingested" not in out
    shutil.move(str(tmp_path / late.name), late)
    os.utime(late)  # a new file in raw/
    code, out, err = run(capsys, "report", "operations", "-w", ws, "--period", "2026-10", "--locale", "en", "--since-last")
    assert code == 0, err
    state = json.loads((ws / "reports" / ".llmops_state.json").read_text())
    assert state["operations/2026-10/en"]["logs"] == [str(late)]  # only the new file was processed
    october = json.loads((ws / "reports" / "operations" / "2026-10" / "en" / "results.json").read_text())
    assert october["summary"]["calls"] > 0 and first["summary"]["first_day"] == "2026-09-01"
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(late.read_bytes().split(b"\n")[0] + b"\n")
    code, out, err = run(capsys, "report", "operations", "-w", ws, "--period", "2026-10", "--locale", "en", "--logs", extra)
    assert code == 0 and "ingested 1 rows: 1 valid (1 of them already stored), 0 quarantined" in out
