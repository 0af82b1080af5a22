"The core install is lean and sufficient: every core dependency is used, and every module imports without the extras."
import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# core dependencies llmops_nb never names in an import statement, and why they are core all the same
USED_WITHOUT_IMPORT = {
    "ipykernel": "the python3 kernel papermill runs the report templates in",
    "openpyxl": 'pandas.read_excel(engine="openpyxl") reads maturity question banks from Excel',
}


def _dist(req: str) -> str:
    "The normalised distribution name of a requirement string."
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", req).group(0)).lower()


def _imports() -> dict[str, set[str]]:
    "Top-level package name → the llmops_nb modules importing it, for third-party packages (any nesting level)."
    out = {}
    for f in (ROOT / "llmops_nb").rglob("*.py"):
        for n in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module] if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module else []
            for name in names:
                top = name.split(".")[0]
                if top != "llmops_nb" and top not in sys.stdlib_module_names: out.setdefault(top, set()).add(f.stem)
    return out


def test_core_dependencies_are_used():
    core = {_dist(r) for r in PROJECT["dependencies"]}
    assert "bpe-openai" not in core and "jupyterlab" not in core
    pkgs = md.packages_distributions()
    imported = {_dist(d) for top in _imports() for d in pkgs.get(top, [top])}
    unused = core - imported - set(USED_WITHOUT_IMPORT)
    assert not unused, f"core dependencies imported nowhere: {sorted(unused)}"
    assert {"jupyterlab", "voila"} <= {_dist(r) for r in PROJECT["optional-dependencies"]["lab"]}
    assert set(PROJECT["optional-dependencies"]) >= {"lab", "spark", "bench", "dev"}


_BLOCK = """
import importlib, importlib.abc, pkgutil, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED: raise ImportError(f"{name} is an extra, not installed")
sys.meta_path.insert(0, Block())
import llmops_nb
mods = sorted(m.name for m in pkgutil.walk_packages(llmops_nb.__path__, "llmops_nb."))
for m in mods: importlib.import_module(m)
from llmops_nb.cli.main import main
print(len(mods), "modules")
sys.argv = ["llmops-nb", "--help"]
raise SystemExit(main(["--help"]))
"""


def test_every_module_imports_without_the_extras():
    "With the extras' packages made unimportable, every llmops_nb module imports and `llmops-nb --help` runs."
    pkgs = md.packages_distributions()
    extras = {_dist(r) for k, v in PROJECT["optional-dependencies"].items() for r in v} - {_dist(r) for r in PROJECT["dependencies"]}
    blocked = sorted({top for top, dists in pkgs.items() if {_dist(d) for d in dists} & extras} & set(_imports()))
    assert "pyspark" in blocked, blocked  # the check blocks what the code does import (engine.local_spark)
    r = subprocess.run([sys.executable, "-c", _BLOCK, ",".join(blocked)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "modules" in r.stdout and "usage" in r.stdout.lower()


def test_make_lab_starts_jupyterlab(tmp_path):
    "The README's analyst command, `make lab`, starts JupyterLab, also as root (JupyterLab refuses root without --allow-root)."
    import os
    import signal
    import socket
    import time
    bin_ = Path(sys.executable).parent
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.token=t --ServerApp.root_dir={tmp_path}"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    p = subprocess.Popen(["make", "-s", "-C", str(ROOT), "-o", str(bin_ / "llmops-nb"), "lab", f"BIN={bin_}", f"LAB_ARGS={args}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    out, t0 = [], time.time()
    try:
        while time.time() - t0 < 120:
            line = p.stdout.readline()
            if not line: break  # it exited
            out.append(line)
            if f"127.0.0.1:{port}/lab" in line: break
    finally:
        os.killpg(p.pid, signal.SIGTERM); p.wait(30)
    assert any(f"127.0.0.1:{port}/lab" in l for l in out), "".join(out)[-3000:]
