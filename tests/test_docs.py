"nbdev docs: nbs/index.ipynb is the README's source, and nbdev-proc-nbs (the part of nbdev-docs before Quarto) processes every notebook."
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_cells(text: str) -> list[str]:
    "README.md as index.ipynb's markdown cells: one per `## ` section (the title and lead paragraphs first)."
    cells, cur, fence = [], [], False
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("```"): fence = not fence
        if line.startswith("## ") and not fence and cur:
            cells.append("\n".join(cur).rstrip("\n")); cur = []
        cur.append(line)
    return cells + ["\n".join(cur)]


def index_markdown() -> str:
    "What index.ipynb says, as README.md: its markdown cells, a blank line apart."
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    assert {c["cell_type"] for c in nb["cells"]} == {"markdown"}
    return "\n\n".join("".join(c["source"]) for c in nb["cells"]) + "\n"


def test_readme_is_index():
    "README.md is what nbs/index.ipynb says (edit the notebook; rebuild: see readme_cells)."
    readme = (ROOT / "README.md").read_text()
    assert "\n\n".join(readme_cells(readme)) + "\n" == readme  # the split loses nothing
    assert index_markdown() == readme


@pytest.mark.slow
def test_nbdev_proc_nbs(tmp_path):
    "`nbdev-proc-nbs` on a copy of the project exits 0 and writes every notebook for Quarto."
    proj = tmp_path / "proj"
    shutil.copytree(ROOT / "nbs", proj / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_proc"))
    shutil.copy(ROOT / "pyproject.toml", proj)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([str(Path(sys.executable).parent / "nbdev-proc-nbs"), "--path", str(proj / "nbs")], cwd=proj, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    want = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))
    assert sorted(p.name for p in (proj / "_proc").glob("*.ipynb")) == want and "index.ipynb" in want
