"Browser test of the maturity assessment app: Voilà serves the dashboard, Chromium answers, the page's score is checked."
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "templates" / "dashboards" / "maturity_assessment.ipynb"
BANK = ROOT / "llmops_nb" / "data" / "maturity" / "mlops.yaml"

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    "Voilà serving the dashboard on localhost, with a fresh workspace in English."
    ws = tmp_path_factory.mktemp("ws")
    port = _free_port()
    env = dict(os.environ, LLMOPS_NB_WORKSPACE=str(ws), LLMOPS_NB_LOCALE="en")
    log = open(ws / "voila.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "voila"), str(DASHBOARD), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1", "--show_tracebacks=True"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=ws)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):  # up once it answers HTTP at all
        try: urllib.request.urlopen(url + "api", timeout=2); break
        except urllib.error.HTTPError: break
        except OSError: time.sleep(0.25)
    yield url, ws
    proc.terminate()
    try: proc.wait(10)
    except subprocess.TimeoutExpired: proc.kill()
    log.close()

def _expected_people(answers: dict) -> float:
    "Independent weighted average of the People answers, straight from the bank YAML (N/A left out)."
    items = {it["id"]: it for it in yaml.safe_load(BANK.read_text(encoding="utf-8"))["items"]}
    num = sum(items[i]["weight"] * v / 4 for i, v in answers.items() if v != "na")
    return num / sum(items[i]["weight"] for i, v in answers.items() if v != "na")

@pytest.mark.browser
def test_answers_update_score_save_and_language(voila):
    url, ws = voila
    answers = {"mlops.people.01": 4, "mlops.people.02": 2, "mlops.people.03": "na", "mlops.people.04": 4}  # 75 % after two clicks, 83.3 % at the end
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        t0 = time.time()
        page.goto(url, timeout=180_000)
        print(f"page loaded after {time.time() - t0:.1f} s")
        page.wait_for_selector(".mat-app", timeout=180_000)
        print(f"app shown after {time.time() - t0:.1f} s")
        row = lambda: page.locator('.mat-summary-out tr[data-dimension="mlops.people"]')
        for item, v in answers.items():
            label = "N/A" if v == "na" else str(v)
            page.locator(f".mat-ans-{item.replace('.', '-')} button", has_text=label).first.click()
        ev = page.locator(".mat-ev-mlops-people-04 input")
        ev.fill("runbooks/oncall.md"); ev.press("Enter")
        expected = _expected_people(answers)
        page.wait_for_function(
            "([sel, want]) => { const r = document.querySelector(sel); return r && Math.abs(parseFloat(r.dataset.score) - want) < 1e-6 }",
            arg=['.mat-summary-out tr[data-dimension="mlops.people"]', expected], timeout=60_000)
        page.wait_for_function(
            "(sel) => document.querySelector(sel)?.innerText.includes('2 claimed')",
            arg='.mat-summary-out tr[data-dimension="mlops.people"]', timeout=30_000)
        text = row().inner_text()
        assert f"{expected * 100:.1f}%" in text  # the score a person reads, 83.3%
        assert row().get_attribute("data-level") == "1"  # people.02 (level 2) answered 2: level 2 not reached
        assert "2 claimed" in text and "80.0%" in text  # .01 and .02 lack evidence, .04 has it (3 claimed before); 4 of 5 responded
        page.wait_for_function("() => document.querySelector('.mat-progress span')?.dataset.done === '4'", timeout=30_000)
        assert "4 of 75 answered" in page.locator(".mat-progress").inner_text()
        # save the draft and check the file holds what was clicked
        page.locator(".mat-save").click()
        page.wait_for_function("() => document.querySelector('.mat-status')?.innerText.includes('Saved')", timeout=30_000)
        print(f"answered and saved after {time.time() - t0:.1f} s")
        drafts = list((ws / "assessments" / "drafts").glob("*.json"))
        assert len(drafts) == 1
        doc = json.loads(drafts[0].read_text(encoding="utf-8"))
        got = {a["item"]: a["value"] for a in doc["answers"]}
        assert got == answers
        assert [a.get("evidence", {}).get("ref") for a in doc["answers"] if a["item"] == "mlops.people.04"] == ["runbooks/oncall.md"]
        # submit to the append-only history of the workspace
        page.locator(".mat-store").click()
        page.wait_for_function("() => document.querySelector('.mat-status')?.innerText.includes('Stored')", timeout=30_000)
        from llmops_nb.maturity import assessment_index
        idx = assessment_index(ws)
        assert list(idx.intact) == [True] and idx.answers.iloc[0] == 4
        # switch to Japanese: labels change, answers and score stay
        page.locator(".mat-lang button", has_text="日本語").click()
        page.wait_for_function("() => document.querySelector('.mat-summary-out')?.innerText.includes('人と体制')", timeout=60_000)
        assert f"{expected * 100:.1f}%" in row().inner_text()
