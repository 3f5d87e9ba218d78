"""The HTML report builder (mathtransfer.report) on a tiny made-up reports/ folder, and its index on
a copy of the committed metrics."""
import json
import os
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mathtransfer import report

REPO = Path(__file__).resolve().parents[1]
# a real 1x1 PNG
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _executed_notebook():
    code = new_code_cell("print('hello')\nshow_figure()", execution_count=1, outputs=[
        new_output("stream", name="stdout", text="hello from the code cell\n"),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ])
    hostile = new_code_cell("x = 1", execution_count=2, outputs=[
        new_output("execute_result", execution_count=2, data={"text/plain": "<script>alert(1)</script>"})])
    return new_notebook(cells=[new_markdown_cell("# Title\nSome text <script>alert(1)</script> & more."),
                               code, hostile])


def _tiny_reports(root: Path) -> Path:
    (root / "train").mkdir(parents=True)
    (root / "metrics").mkdir()
    nbformat.write(_executed_notebook(), root / "01_base.ipynb")
    nbformat.write(_executed_notebook(), root / "08_future.ipynb")
    nbformat.write(_executed_notebook(), root / "train" / "x.ipynb")
    metrics = {"greedy": {"math": 0.35512, "other": 0.7733}, "k": 8, "parameters": 689536}
    (root / "metrics" / "base.json").write_text(json.dumps(metrics))
    return root


def test_render_and_index(tmp_path):
    root = _tiny_reports(tmp_path / "reports")
    stale = root / "html" / "train" / "gone.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("<html></html>")

    written = report.render_notebooks(root)
    pages = [root / "html" / name for name in ("01_base.html", "08_future.html", "train/x.html")]
    style = root / "html" / report.STYLESHEET
    assert sorted(written) == sorted(map(str, pages + [style]))
    assert not stale.exists()
    first = {page: page.read_bytes() for page in pages + [style]}
    report.render_notebooks(root)
    assert {page: page.read_bytes() for page in pages + [style]} == first  # deterministic
    # the lab CSS is written once and linked from every page (relative to its folder)
    assert ".jp-Cell" in style.read_text() and "details.mt-code" in style.read_text()
    assert '<link rel="stylesheet" href="notebook.css">' in pages[0].read_text()
    assert '<link rel="stylesheet" href="../notebook.css">' in pages[2].read_text()
    assert all("<style" not in page.read_text().split("</head>")[0] for page in pages)

    text = pages[0].read_text()
    assert "data:image/png;base64," + PNG in text
    assert "<details" in text and "hello from the code cell" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # text/plain output is escaped
    assert "<script src=" not in text  # no CDN loads
    for page in pages:
        assert report.broken_links(page) == []

    index = Path(report.build_index(root))
    assert index == root / "index.html"
    html = index.read_text()
    for href in ("html/01_base.html", "html/08_future.html", "html/train/x.html"):
        assert f'href="{href}"' in html
    assert report.broken_links(index) == []
    assert "0.355" in html and "0.773" in html and "689536" in html and "greedy" in html
    assert "evaluate.json: not run yet" in html
    assert 'id="other"' in html  # 08_future is not in SECTIONS, still listed
    report.build_index(root)
    assert index.read_text() == html
    assert not list(root.rglob(".tmp-*"))  # atomic writes leave no temp files


def test_broken_links_reports_missing_files(tmp_path):
    (tmp_path / "there.html").write_text("x")
    page = tmp_path / "page.html"
    page.write_text('<a href="there.html">ok</a> <a href="missing.html#a">no</a> <img src="img/none.png">'
                    '<a href="#top">a</a> <a href="https://example.org/x">w</a> <a href="mailto:a@b.c">m</a>'
                    '<img src="data:image/png;base64,AAAA">')
    assert report.broken_links(page) == ["missing.html#a", "img/none.png"]


def test_index_on_committed_metrics(tmp_path):
    """Every section whose metrics file is committed shows its numbers."""
    root = tmp_path / "reports"
    shutil.copytree(REPO / "reports" / "metrics", root / "metrics")
    for notebook in [*(REPO / "reports").glob("*.ipynb"), *(REPO / "reports" / "train").glob("*.ipynb")]:
        target = root / notebook.relative_to(REPO / "reports")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(), target)  # empty but valid: the index reads names only
    html = Path(report.build_index(root)).read_text()
    assert report.broken_links(root / "index.html") == []
    for stem, section in report.SECTIONS.items():
        block = html.split(f'<section id="{stem}">')[1].split("</section>")[0]
        metrics = root / "metrics" / f"{section.metrics}.json"
        if section.metrics and metrics.exists():
            _, first = next(report._leaves(json.loads(metrics.read_text())))
            assert f"<td>{report._format(first)}</td>" in block and "not run yet" not in block, stem


def test_no_committed_notebook_shows_a_progress_speed():
    # a progress bar's speed ("237301.50 examples/s") changes from run to run: a rerun that computes
    # the same numbers would change the report
    import glob
    import re

    from conftest import ROOT

    speed = re.compile(r"\d+(?:\.\d+)? ?(?:examples|it|ba)/s")
    shown = [path for path in glob.glob(os.path.join(ROOT, "reports", "**", "*.ipynb"), recursive=True)
             if speed.search(open(path, encoding="utf-8").read())]
    assert shown == []
