"Evidence ledger: the hash chain and the files it names; any one-byte change is found and named."
import hashlib
import json
from pathlib import Path

import pytest

from llmops_nb import ledger as L
from llmops_nb.cli.verify import cli_verify


def _run(folder: Path, name: str, text: str) -> Path:
    "A report run folder with one output and a manifest listing it (relative) and one input (absolute)."
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.html").write_text(text, encoding="utf-8")
    (folder / "results.json").write_text(json.dumps({"fails": 3}), encoding="utf-8")
    inp = folder.parent / "settings.ini"
    if not inp.exists(): inp.write_text("[organisation]\nlocale = en\n")
    m = dict(report=name, inputs=[L_entry(inp)], outputs=[L_entry(folder / f"{name}.html", folder), L_entry(folder / "results.json", folder)])
    (folder / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    return folder


def L_entry(p: Path, root: Path|None = None) -> dict:
    return dict(path=str(p.relative_to(root)) if root else str(p), sha256=hashlib.sha256(p.read_bytes()).hexdigest())


@pytest.fixture()
def ledger(tmp_path):
    path = tmp_path / "evidence_ledger.jsonl"
    for i, n in enumerate(("compliance", "operations", "cost")):
        L.append_manifest(path, _run(tmp_path / f"run{i}", n, f"<h1>{n}</h1>"))
    return path


def _flip(p: Path, at: int):
    "Change one byte of file `p` at offset `at`."
    b = bytearray(p.read_bytes()); b[at] ^= 0x01; p.write_bytes(bytes(b))


def test_clean_ledger_verifies(ledger):
    v = L.verify(ledger)
    assert (v.ok, v.entries, v.files) == (True, 3, 3 * 4)  # each entry: manifest + 1 input + 2 outputs
    lines = ledger.read_bytes().splitlines()
    assert json.loads(lines[0])["prev"] == L.GENESIS
    assert json.loads(lines[2])["prev"] == hashlib.sha256(lines[1]).hexdigest()


def test_one_byte_in_a_reported_file_is_named(ledger, tmp_path):
    html = tmp_path / "run1" / "operations.html"
    _flip(html, 5)
    v = L.verify(ledger)
    assert not v.ok and v.first.startswith(f"entry 2: file changed: {html}")
    assert len(v.problems) == 1


def test_one_byte_in_a_manifest_or_input(ledger, tmp_path):
    _flip(tmp_path / "run0" / "manifest.json", 3)
    assert L.verify(ledger).first == f"entry 1: manifest changed: {(tmp_path / 'run0' / 'manifest.json').resolve()}"
    _flip(tmp_path / "run0" / "manifest.json", 3)
    _flip(tmp_path / "settings.ini", 0)  # an input shared by all three runs
    v = L.verify(ledger)
    assert [p.split(":")[0] for p in v.problems] == ["entry 1", "entry 2", "entry 3"]


@pytest.mark.parametrize("line", [0, 1, 2])
def test_one_byte_in_a_ledger_line_is_named(ledger, line):
    lines = ledger.read_bytes().split(b"\n")
    i = lines[line].index(b'"report":"') + 11  # inside the report name
    b = bytearray(lines[line]); b[i] ^= 0x01; lines[line] = bytes(b)
    ledger.write_bytes(b"\n".join(lines))
    v = L.verify(ledger)
    assert v.first == f"entry {line + 1} (line {line + 1}): content changed (its hash does not match)"
    if line < 2: assert f"entry {line + 2} (line {line + 2}): chain broken" in v.problems[1]


def test_removed_reordered_or_rehashed_lines(ledger):
    raw = ledger.read_bytes()
    lines = raw.split(b"\n")[:3]
    ledger.write_bytes(b"\n".join([lines[0], lines[2]]) + b"\n")
    assert L.verify(ledger).first == "entry 2 (line 2): chain broken (prev does not match the hash of line 1)"
    ledger.write_bytes(b"\n".join([lines[1], lines[0], lines[2]]) + b"\n")
    assert L.verify(ledger).first.startswith("entry 1 (line 1): chain broken")
    # an entry edited and its own hash recomputed still breaks the chain after it
    e = json.loads(lines[0]); e["manifest"]["report"] = "forged"; e["hash"] = L.entry_hash(e)
    ledger.write_bytes(b"\n".join([L.canonical(e), lines[1], lines[2]]) + b"\n")
    v = L.verify(ledger)
    assert v.first == "entry 2 (line 2): chain broken (prev does not match the hash of line 1)"
    ledger.write_bytes(raw)
    assert L.verify(ledger).ok


def test_rerun_supersedes_not_tampering(ledger, tmp_path):
    _run(tmp_path / "run0", "compliance", "<h1>compliance, rerun</h1>")
    L.append_manifest(ledger, tmp_path / "run0")
    v = L.verify(ledger)
    assert v.ok and len(v.superseded) == 2  # the page and the manifest of entry 1 were replaced by entry 4
    _flip(tmp_path / "run0" / "compliance.html", 4)
    assert L.verify(ledger).problems[0].startswith("entry 1: file changed")


def test_cli_verify(ledger, tmp_path, capsys):
    assert cli_verify([str(ledger)]) == 0
    assert capsys.readouterr().out.startswith(f"✓ {ledger}: 3 entries, 12 files re-hashed: all match")
    _flip(tmp_path / "run2" / "results.json", 2)
    assert cli_verify([str(ledger)]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s); first: entry 3: file changed" in err and "results.json" in err
    assert cli_verify([str(tmp_path / "missing.jsonl")]) == 2
    ws = tmp_path / "ws"; (ws / "reports").mkdir(parents=True); (ws / "settings.ini").write_text("[organisation]\nlocale = en\n")
    L.append_manifest(L.ledger_path(ws), dict(report="x", outputs=[]))
    assert cli_verify(["--workspace", str(ws)]) == 0
