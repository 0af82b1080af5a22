"Prompt registry: semantic-version ordering, validation errors with file/line/rule, diffs, rendering, usage links."
import difflib
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from llmops_nb import prompts as P
from llmops_nb.schema import conform

FRONT = """\
---
version: {v}
author: Aiko
created: 2026-09-01
model: gpt-4o-mini
parameters: {{text: the text}}
change_note: note {v}
approval: {{status: {status}, approver: Ken, date: 2026-09-02}}
---
Version {v} says:
{{{{text}}}}
"""


def write(root: Path, name: str, v: str, status: str = "approved", text: str | None = None) -> Path:
    p = root / name / f"{v}.md"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text if text is not None else FRONT.format(v=v, status=status), encoding="utf-8")
    return p


def test_latest_orders_by_semantic_version_not_text(tmp_path):
    versions = [f"v1.{i}" for i in range(13)] + ["v0.9", "v1.10.1", "v2.0rc1"]
    random.Random(0).shuffle(versions)
    for v in versions: write(tmp_path, "summ", v)
    assert max(v for v in versions if v != "v2.0rc1") == "v1.9"  # what a string max() would ship
    assert P.get_prompt("summ", registry=tmp_path).version == "v1.12"  # newest release; the rc is a pre-release
    order = P.load_registry(tmp_path).versions("summ")
    assert order[:2] == ["v0.9", "v1.0"] and order[-4:] == ["v1.10.1", "v1.11", "v1.12", "v2.0rc1"]
    assert order.index("v1.9") < order.index("v1.10") < order.index("v1.10.1")
    assert P.get_prompt("summ", "1.10", registry=tmp_path).version == "v1.10"  # '1.10' finds v1.10.md


def test_latest_approved_skips_pending(tmp_path):
    write(tmp_path, "mail", "v1.9"); write(tmp_path, "mail", "v1.10", status="pending")
    assert P.get_prompt("mail", registry=tmp_path).version == "v1.10"
    assert P.get_prompt("mail", registry=tmp_path, approved_only=True).version == "v1.9"
    with pytest.raises(KeyError, match="no approved version 'v1.10'"):
        P.get_prompt("mail", "v1.10", registry=tmp_path, approved_only=True)


@pytest.mark.parametrize("text, line, rule", [
    (FRONT.format(v="v1.0", status="approved").replace("author: Aiko\n", ""), 1, "field.missing"),
    (FRONT.format(v="v1.0", status="approved").replace("version: v1.0", "version: one"), 2, "version.bad"),
    (FRONT.format(v="v1.0", status="approved").replace("model: gpt-4o-mini", "model: [gpt"), 5, "front_matter.yaml"),
    ("no front matter\n", 1, "front_matter.missing"),
    (FRONT.format(v="v1.0", status="maybe"), 8, "approval.status"),
    (FRONT.format(v="v1.0", status="approved").replace("{{text}}", "{{text}} {{tone}}"), 11, "parameter.undeclared"),
    (FRONT.format(v="v1.0", status="approved").replace("created: 2026-09-01", "created: soon"), 4, "field.type"),
])
def test_validation_names_file_line_and_rule(tmp_path, text, line, rule):
    f = write(tmp_path, "p", "v1.0", text=text)
    problems = P.validate_registry(tmp_path)
    hit = problems[problems.rule == rule]
    assert len(hit) == 1, problems
    assert hit.file.iloc[0] == str(f) and hit.line.iloc[0] == line
    with pytest.raises(P.PromptRegistryError, match=f"v1.0.md:{line}: {rule}"):
        P.load_registry(tmp_path)


def test_duplicate_and_mismatched_versions(tmp_path):
    write(tmp_path, "p", "v1.2")
    write(tmp_path, "p", "v1.2.0")  # the same version as v1.2
    write(tmp_path, "p", "v1.3", text=FRONT.format(v="v1.4", status="approved"))
    rules = P.validate_registry(tmp_path).rule.tolist()
    assert sorted(rules) == ["version.duplicate", "version.duplicate", "version.mismatch"]
    with pytest.raises(KeyError):  # a lenient load keeps neither of two files claiming one version
        P.load_registry(tmp_path, strict=False).versions("p")


def test_yaml_number_versions_are_read_as_text(tmp_path):
    write(tmp_path, "p", "v1.10", text=FRONT.format(v="1.10", status="approved"))  # YAML alone would read 1.1
    assert P.get_prompt("p", registry=tmp_path).version == "1.10"


def test_diff_matches_difflib_and_render(tmp_path):
    a, b = write(tmp_path, "p", "v1.9"), write(tmp_path, "p", "v1.10")
    want = "".join(difflib.unified_diff(a.read_text().splitlines(True), b.read_text().splitlines(True), "p/v1.9", "p/v1.10"))
    assert P.diff_prompts("p", "v1.9", "v1.10", registry=tmp_path) == want
    assert "-Version v1.9 says:" in want and "+Version v1.10 says:" in want
    p = P.get_prompt("p", registry=tmp_path)
    assert p.render(text="契約書 <b>") == "Version v1.10 says:\n契約書 <b>\n"
    with pytest.raises(ValueError, match="missing value"): p.render()


def test_prompt_usage_flags_unknown_and_unapproved(tmp_path):
    write(tmp_path, "bot", "v1.9"); write(tmp_path, "bot", "v1.10", status="pending")
    calls = conform(pd.DataFrame(dict(
        ts_start=pd.to_datetime(["2026-10-01"] * 7, utc=True), request_id=list("abcdefg"), provider_name="openai",
        request_model="m", input_tokens=1, output_tokens=1,
        prompt_name=["bot", "bot", "bot", "bot", "bot", "other", None], prompt_version=["1.9", "v1.9", "1.10", "1.10", "2.0", "1", None])))
    u = P.prompt_usage(calls, tmp_path).set_index(["prompt_name", "prompt_version"], drop=False)
    assert u.loc[("bot", "v1.9")][["status", "calls", "flagged"]].tolist() == ["approved", 2, False]
    assert u.loc[("bot", "v1.10")][["status", "calls", "flagged"]].tolist() == ["pending", 2, True]
    assert u.loc[("bot", "2.0")][["status", "calls"]].tolist() == ["unknown_version", 1]
    assert u.loc[("other", "1")]["status"] == "unknown_prompt"
    assert u[u.status == "no_prompt"].calls.tolist() == [1]
    assert u.calls.sum() == len(calls)


def test_demo_registry_covers_every_version_the_demo_logs_use(demo_raw_workspace, tmp_path):
    ws = tmp_path / "ws"; ws.mkdir()
    (ws / "settings.ini").write_text((demo_raw_workspace / "settings.ini").read_text(encoding="utf-8"), encoding="utf-8")
    root = P.write_demo_prompts(ws)
    assert P.validate_registry(root).empty
    recs = []
    for f in sorted((demo_raw_workspace / "raw").glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            try: r = json.loads(line)
            except ValueError: continue  # the demo plants malformed lines; the logs loader quarantines them
            if isinstance(r, dict) and "prompt_version" in r: recs.append({k: r.get(k) for k in ("request_id", "prompt_name", "prompt_version")})
    logs = pd.DataFrame(recs)
    from llmops_nb.evals import list_runs, write_demo_evals
    write_demo_evals(ws)
    u = P.prompt_usage(logs, ws, runs=list_runs(ws))
    used = u[u.calls > 0]
    assert set(used.status) <= {"approved", "pending", "no_prompt"}  # every logged version is registered
    pend = used[used.status == "pending"]
    assert pend[["prompt_name", "prompt_version"]].values.tolist() == [["sales_email", "v1.3"]]
    assert used.calls.sum() == len(logs)
    runs = u.set_index(["prompt_name", "prompt_version"]).eval_runs
    assert runs[("support_chatbot", "v1.9")] == runs[("support_chatbot", "v1.10")] == 1  # eval runs link to versions too
    assert runs[("knowledge_search_rag", "v3.0")] == runs[("knowledge_search_rag", "v3.1")] == 1
    assert P.get_prompt("support_chatbot", registry=root).version == "v1.10"
    ja = P.get_prompt("knowledge_search_rag", registry=root)
    assert "社内" in ja.body and set(ja.parameters) == {"query", "passages"}


def test_demo_prompt_versions_match_demo():
    "prompts keeps its own copy of the demo company's versions (nothing may import demo); it must match demo.PROMPTS."
    from llmops_nb.demo import PROMPTS
    assert P.demo_prompt_versions() == P.demo_prompt_versions(PROMPTS)
