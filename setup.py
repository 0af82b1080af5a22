"""Build hook: the wheel carries the report templates and the governance catalogue as package data.

`templates/` (reports, dashboards, schedules) and `governance/` (controls, mappings, policies, schemas) stay at the
repository root, where the notebooks, tests, Makefile and schedulers name them. `build_py` copies them into the built
package as `llmops_nb/data/templates/` and `llmops_nb/data/governance/`, which `llmops_nb.reports.templates_dir` and
`llmops_nb.systems.catalogue_dir` read with `importlib.resources`. MANIFEST.in puts both folders in the sdist, so
`python -m build` (sdist, then the wheel from it) ships them too. Everything else is declared in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("templates", "governance")  # repository folders copied to llmops_nb/data/<name>/ in the wheel
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class BuildPyWithData(build_py):
    "build_py that also copies the repository's templates/ and governance/ into the package's data/ folder."

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False): return  # an editable install reads the repository's folders
        root = Path(__file__).resolve().parent
        for name in BUNDLED:
            src, dst = root / name, Path(self.build_lib) / "llmops_nb" / "data" / name
            if not src.is_dir(): raise SystemExit(f"setup.py: {src} is missing; the wheel would render no reports")
            if dst.exists(): shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithData})
