"run_report end to end on small templates: offline HTML, escaping, results, manifest hashes, failures."
import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from llmops_nb.reports import ReportError, list_reports, run_report, verify_manifest

KERNEL = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
PARAMS = 'workspace = ""\nperiod = ""\nlocale = ""\nout_dir = ""\nn = 3'


def template(folder: Path, *cells, name="tiny_report.ipynb") -> Path:
    "A template notebook: title, parameters cell, then `cells` (code, or ('md', text))."
    body = [nbformat.v4.new_markdown_cell(c[1]) if isinstance(c, tuple) else nbformat.v4.new_code_cell(c) for c in cells]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Tiny report"),
                                         nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}), *body],
                                  metadata=KERNEL)
    p = folder / name
    nbformat.write(nb, p)
    return p


class Refs(HTMLParser):
    "Collects every URL-bearing attribute and every script element."
    def __init__(self):
        super().__init__(); self.urls, self.scripts = [], 0
    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "action", "xlink:href") and v]


def refs(page: str) -> Refs:
    r = Refs(); r.feed(page); return r


HOSTILE = "<script>alert('x')</script><img src=https://evil.example/x.png>"

BODY = f"""
import pandas as pd
from llmops_nb.reports import show_table, show_kpis, kpi_tile, heading, note, save_results, show_chart
from llmops_nb.charts import bar_chart
heading({HOSTILE!r})
note({HOSTILE!r}, 'fail')
show_kpis([kpi_tile('Calls', f'{{n * 1000:,}}'), kpi_tile({HOSTILE!r}, '1', passed=False)], 'en')
df = pd.DataFrame({{'team': [{HOSTILE!r}, 'R&D'], 'calls': [n * 1_000_000, 7]}})
show_table(df, 'en')
show_chart(bar_chart(df, 'team', 'calls', title='Calls by team'), 'en')
data_file = Path(out_dir).parent / 'data.csv'
save_results(out_dir, {{'calls': n * 1000, 'share': float('nan')}}, inputs=[data_file])
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    (d / "data.csv").write_text("a,b\n1,2\n")
    tpl = template(d, "from pathlib import Path", BODY, ("md", "See [the guideline](https://www.meti.go.jp/x) and [here](#top)."))
    return run_report(tpl, d / "out", n=3), d


def test_html_is_offline_and_escaped(tiny_run):
    run, _ = tiny_run
    page = run.html.read_text(encoding="utf-8")
    r = refs(page)
    assert r.scripts == 0
    external = [u for u in r.urls if u.startswith(("http:", "https:", "//"))]
    assert external == [], external
    assert "evil.example" in page  # shown as inert text ...
    assert "<img src=https://evil.example" not in page and "&lt;img src=https://evil.example/x.png&gt;" in page
    assert "&lt;script&gt;alert(" in page and "<script>alert" not in page
    assert 'the guideline <span class="url">(https://www.meti.go.jp/x)</span>' in page  # inert link
    assert 'href="#top"' in page  # internal links stay
    assert "<svg" in page and "Calls by team" in page  # chart inlined as SVG
    assert '<td class="num">3,000,000</td>' in page and ">3,000<" in page
    assert "save_results" not in page and "import pandas" not in page  # inputs hidden
    assert "Content-Security-Policy" in page


def test_results_and_manifest(tiny_run):
    run, d = tiny_run
    assert run.status == "ok" and run.results == {"calls": 3000, "share": None}
    m = json.loads((run.out_dir / "manifest.json").read_text())
    assert m["report"] == "tiny" and m["status"] == "ok" and m["error"] is None
    assert m["parameters"]["n"] == 3 and m["parameters"]["out_dir"] == str(run.out_dir)
    assert m["started_utc"] <= m["finished_utc"]
    assert {"python", "pandas", "papermill", "nbconvert", "altair"} <= set(m["versions"])
    assert m["settings"]["locale"] in ("ja", "en")
    outs = {o["path"]: o for o in m["outputs"]}
    assert set(outs) == {"tiny.ipynb", "tiny.html", "results.json"}
    for name, o in outs.items():
        data = (run.out_dir / name).read_bytes()
        assert o["sha256"] == hashlib.sha256(data).hexdigest() and o["bytes"] == len(data)
    ins = {Path(i["path"]).name: i for i in m["inputs"]}
    assert ins["data.csv"]["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert ins["tiny_report.ipynb"]["sha256"] == hashlib.sha256((d / "tiny_report.ipynb").read_bytes()).hexdigest()
    assert not (run.out_dir / ".inputs.json").exists()
    assert verify_manifest(run.out_dir) == []


def test_failing_template_keeps_notebook_and_manifest(tmp_path):
    tpl = template(tmp_path, "x = n * 2", "raise RuntimeError('store is empty for 2026-10')", "print('never')")
    with pytest.raises(ReportError) as e:
        run_report(tpl, tmp_path / "out")
    msg = str(e.value)
    assert "failed in cell" in msg and "RuntimeError: store is empty for 2026-10" in msg and "tiny.ipynb" in msg
    nb = nbformat.read(tmp_path / "out" / "tiny.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].evalue == "store is empty for 2026-10"
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["status"] == "failed" and "store is empty" in m["error"]
    assert {o["path"] for o in m["outputs"]} == {"tiny.ipynb"}
    assert not (tmp_path / "out" / "tiny.html").exists()


def test_stale_outputs_removed_and_params_checked(tmp_path):
    out = tmp_path / "out"; out.mkdir()
    (out / "results.json").write_text('{"calls": 999}')
    (out / "tiny.html").write_text("old")
    tpl = template(tmp_path, "x = 1")
    with pytest.raises(ReportError, match=r"unknown parameter\(s\) nn; the template takes: workspace, period, locale, out_dir, n"):
        run_report(tpl, out, nn=1)
    run = run_report(tpl, out)
    assert run.results == {}  # the template saved nothing this time: the stale file is gone
    assert run.html.read_text() != "old"


def test_external_resource_in_output_fails(tmp_path):
    tpl = template(tmp_path, "from IPython.display import HTML, display\n"
                             "display(HTML('<script src=\"https://cdn.jsdelivr.net/npm/vega@5\"></script>'))")
    with pytest.raises(ReportError, match="would load from the network or run a script"):
        run_report(tpl, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"


def test_every_template_is_listed_with_its_parameters():
    from llmops_nb.reports import template_parameters
    reports = list_reports()
    assert "operations" in reports
    for name, tpl in reports.items():
        params = template_parameters(tpl)
        assert {"workspace", "period", "locale", "out_dir"} <= set(params), (name, params)
        assert all(params[k] == "" for k in ("workspace", "period", "locale", "out_dir"))


def test_progress_bars_in_a_template_do_not_put_scripts_in_the_page(tmp_path):
    "A long library call that shows a tqdm bar must not leave a widget (and its <script>) in the report."
    tpl = template(tmp_path, "from tqdm.auto import tqdm\nfor _ in tqdm(range(n), mininterval=0): pass\nprint('done', n)")
    run = run_report(tpl, tmp_path / "out", progress=False)
    page = run.html.read_text(encoding="utf-8")
    assert refs(page).scripts == 0 and "done 3" in page
