"""The architecture of issue 12, checked: layers read from the notebook numbers, no upward import, no import circle,
nothing imports the demo, every module has its notebook; and the size limits (modules, exported cells).

The layer of a module is the tens digit of the notebook that exports it (`nbs/NN*_*.ipynb` with `#| default_exp`):
0x L0 ground, 1x L1 data, 2x L2 shared, 3x L3 analysis, 4x L4 views, 5x–7x L5 faces, 9x L5 demo family.
A module may import from its own layer or below. Only the demo family (9x) may import `llmops_nb.demo`.
Every import counts: top-level and inside functions, absolute and relative.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG, NBS = ROOT / "llmops_nb", ROOT / "nbs"
DEMO = "llmops_nb.demo"
MAX_MODULE_LINES, MAX_CELL_LINES = 700, 60
LAYER_OF_TENS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 5, 7: 5, 9: 5}


# ---------------------------------------------------------------- the checker (pure functions, tested below)

def notebook_number(path: Path) -> int | None:
    "34 for `34a_eval_data.ipynb`; None for a name without a leading number."
    m = re.match(r"(\d+)", path.name)
    return int(m.group(1)) if m else None


def layer_of_number(n: int) -> int | None:
    "The layer of notebook number `n` (its tens digit), or None when that digit names no layer (8x)."
    return LAYER_OF_TENS.get(n // 10)


def default_exp(nb: dict) -> str | None:
    "The `#| default_exp` of a notebook (as a dotted module name under llmops_nb), or None."
    for c in nb.get("cells", []):
        if c.get("cell_type") != "code": continue
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if m := re.search(r"^#\|\s*default_exp\s+(\S+)", src, re.M): return m.group(1)
    return None


def module_name(path: Path, pkg: Path) -> str:
    "`llmops_nb.cli.report` for llmops_nb/cli/report.py; `llmops_nb.cli` for llmops_nb/cli/__init__.py."
    parts = list(path.relative_to(pkg.parent).with_suffix("").parts)
    if parts[-1] == "__init__": parts.pop()
    return ".".join(parts)


def imports_of(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    "The known modules that module `name` imports anywhere in `source` (top level, functions, classes; relative too)."
    pkg_parts = name.split(".") if is_package else name.split(".")[:-1]
    found = set()

    def resolve(dotted: str):  # the longest known module that `dotted` names or lies inside
        parts = dotted.split(".")
        while parts:
            if ".".join(parts) in known: return ".".join(parts)
            parts.pop()
        return None

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[:len(pkg_parts) - (node.level - 1)] if node.level > 1 else pkg_parts
                base = ".".join(base + ([node.module] if node.module else []))
            else: base = node.module or ""
            targets = [f"{base}.{a.name}" for a in node.names]  # `from pkg import module` names a module…
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]  # importlib.import_module("llmops_nb.x")
        else: continue
        for t in targets:
            if (m := resolve(t)) and m != name: found.add(m)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    "Tarjan's strongly connected components of `graph` (node → the nodes it imports)."
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index: visit(v)
    return out


def graph_problems(layers: dict[str, int | None],  # module → layer (None: a package __init__ without a layer)
                   imports: dict[str, set[str]],  # module → the modules it imports
                   demo_family: set[str] = frozenset(),  # modules that may import the demo (9x notebooks)
                   demo: str = DEMO) -> list[str]:
    "Every broken rule of an import graph, one sentence each (empty: the graph is fine)."
    problems = []
    for src in sorted(imports):
        for dst in sorted(imports[src]):
            ls, ld = layers.get(src), layers.get(dst)
            if ls is not None and ld is not None and ld > ls:
                problems.append(f"upward import: {src} (L{ls}) imports {dst} (L{ld})")
            if dst == demo and src not in demo_family:
                problems.append(f"{src} imports {demo}: nothing outside the demo family may")
    for comp in strongly_connected(imports):
        if len(comp) > 1 or comp[0] in imports.get(comp[0], ()):
            problems.append(f"import circle: {' → '.join(comp)}")
    return problems


# ---------------------------------------------------------------- reading the project

def project():
    "(layers, imports, demo family, modules without a notebook, module → notebook) of llmops_nb/ and nbs/."
    exported = {}  # module → notebook path
    for nb in sorted(NBS.glob("*.ipynb")):
        if (exp := default_exp(json.loads(nb.read_text(encoding="utf-8")))): exported[f"llmops_nb.{exp}"] = nb
    files = {module_name(p, PKG): p for p in sorted(PKG.rglob("*.py")) if p.name != "_modidx.py" and "__pycache__" not in p.parts}
    known = set(files)
    layers, imports, orphans, family = {}, {}, [], set()
    for mod, path in files.items():
        nb = exported.get(mod)
        if nb is None:
            if path.name != "__init__.py": orphans.append(mod)
            layers[mod] = None
        else:
            n = notebook_number(nb)
            layers[mod] = None if n is None else layer_of_number(n)
            if n is None or layers[mod] is None: orphans.append(f"{mod} ({nb.name}: no layer in its number)")
            if n is not None and n // 10 == 9: family.add(mod)
        imports[mod] = imports_of(path.read_text(encoding="utf-8"), mod, path.name == "__init__.py", known)
    return layers, imports, family, orphans, exported


# ---------------------------------------------------------------- the project's own graph

def test_no_upward_import_no_circle_no_demo_import():
    layers, imports, family, _, _ = project()
    assert graph_problems(layers, imports, family) == []


def test_every_module_has_a_notebook_with_a_layer():
    _, _, _, orphans, _ = project()
    assert orphans == [], f"modules without a notebook (or in a notebook whose number has no layer): {orphans}"


def test_package_inits_only_reexport():
    "A hand-written package __init__ (nbdev creates them empty) may hold a docstring, imports and `__all__`/`__version__`."
    for p in PKG.rglob("__init__.py"):
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            ok = isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            ok = ok or (isinstance(node, ast.Assign) and all(getattr(t, "id", "") in ("__all__", "__version__") for t in node.targets))
            assert ok, f"{p}: line {node.lineno}: a package __init__ holds only imports, a docstring and __all__/__version__"


def test_no_module_over_limit():
    big = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if p.name != "_modidx.py"
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert big == {}, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_no_exported_cell_over_limit():
    long = []
    for nb in sorted(NBS.glob("*.ipynb")):
        for i, c in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]):
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            if c["cell_type"] == "code" and re.search(r"^#\|\s*export", src, re.M) and (n := len(src.splitlines())) > MAX_CELL_LINES:
                long.append(f"{nb.name} cell {i}: {n} lines")
    assert long == [], f"exported cells over {MAX_CELL_LINES} lines: {long}"


# ---------------------------------------------------------------- the checker fails where it should

def test_checker_finds_a_planted_circle():
    layers = {"p.a": 3, "p.b": 3, "p.c": 3, "p.d": 0}
    imports = {"p.a": {"p.b", "p.d"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": set()}
    assert graph_problems(layers, imports) == ["import circle: p.a → p.b → p.c"]
    assert graph_problems(layers, {**imports, "p.c": set()}) == []


def test_checker_finds_a_self_import_and_two_circles():
    imports = {"a": {"a"}, "b": {"c"}, "c": {"b"}, "d": set()}
    assert sorted(graph_problems(dict.fromkeys(imports, 1), imports)) == ["import circle: a", "import circle: b → c"]


def test_checker_finds_a_planted_upward_import():
    layers = {"p.config": 0, "p.cost": 3, "p.views.cost": 4, "p.reports": 5}
    imports = {"p.config": set(), "p.cost": {"p.config", "p.views.cost"}, "p.views.cost": {"p.cost"}, "p.reports": {"p.views.cost", "p.config"}}
    probs = graph_problems(layers, imports)
    assert "upward import: p.cost (L3) imports p.views.cost (L4)" in probs
    assert "import circle: p.cost → p.views.cost" in probs and len(probs) == 2
    assert graph_problems(layers, {**imports, "p.cost": {"p.config"}}) == []  # same layer and downward are fine


def test_checker_finds_a_demo_import():
    layers = {"p.governance": 3, "p.demo": 5, "p.cli.demo": 5}
    imports = {"p.governance": {"p.demo"}, "p.cli.demo": {"p.demo"}, "p.demo": set()}
    assert graph_problems(layers, imports, demo_family={"p.cli.demo", "p.demo"}, demo="p.demo") == [
        "upward import: p.governance (L3) imports p.demo (L5)", "p.governance imports p.demo: nothing outside the demo family may"]


def test_imports_are_read_everywhere():
    "Top-level, inside functions and methods, relative (one and two dots), `from pkg import module`, import_module."
    known = {"p", "p.errors", "p.cost", "p.monitor", "p.cli", "p.cli.main", "p.cli.report", "p.demo", "p.views", "p.views.cost"}
    src = ("from __future__ import annotations\nimport os\nfrom .main import err\n"
           "def f():\n    from ..cost import spend\n    import p.monitor as m\n"
           "class C:\n    def g(self):\n        from p import demo\n        from ..views import cost\n"
           "        import importlib; importlib.import_module('p.errors')\n")
    assert imports_of(src, "p.cli.report", False, known) == {"p.cli.main", "p.cost", "p.monitor", "p.demo", "p.views.cost", "p.errors"}
    assert imports_of("from .main import main\n", "p.cli", True, known) == {"p.cli.main"}
    assert imports_of("from . import cost\n", "p.views.eval", False, known) == {"p.views.cost"}


def test_layers_from_notebook_numbers():
    assert [layer_of_number(notebook_number(Path(f))) for f in
            ("00_errors.ipynb", "13a_x.ipynb", "21_systems.ipynb", "34d_eval_demo.ipynb", "46_views_compliance.ipynb",
             "50_reports.ipynb", "64_cli_schedule.ipynb", "72_cli_dashboard.ipynb", "90_demo.ipynb")] == [0, 1, 2, 3, 4, 5, 5, 5, 5]
    assert layer_of_number(85) is None and notebook_number(Path("index.ipynb")) is None
    assert default_exp({"cells": [{"cell_type": "code", "source": ["#| default_exp cli.main\n"]}]}) == "cli.main"


def test_version_in_one_place():
    "pyproject.toml's `[project] version` is the one source; nbdev writes it into llmops_nb/__init__.py; no other copy."
    import tomllib
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert (PKG / "__init__.py").read_text(encoding="utf-8").strip() == f'__version__ = "{version}"'
    assert not (ROOT / "settings.ini").read_text(encoding="utf-8").count("version")
    copies = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py") if p.name not in ("__init__.py", "_modidx.py")
              and re.search(r"__version__\s*=", p.read_text(encoding="utf-8"))]
    assert copies == []
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")  # pyproject: Apache-2.0
