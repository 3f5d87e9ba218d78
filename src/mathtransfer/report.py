"""The HTML report: each executed notebook as a static page, and reports/index.html linking them.

render_notebooks(): reports/*.ipynb and reports/train/*.ipynb -> reports/html/<same name>.html with
nbconvert's lab template, code folded into <details>, image outputs embedded as data URIs, the CSS
in one shared html/notebook.css, and no <script> loads (no requirejs, MathJax, mermaid: pages open offline, LaTeX shows as raw TeX).
Deterministic bytes, atomic writes; pages whose notebook is gone are removed.
build_index(): reports/index.html, the paper's sections in order (SECTIONS), each with its page, a
line on what it shows and its numbers from reports/metrics/<name>.json; unknown notebooks under
"other"; the saved reports/figures/*.png at the end. broken_links(): a page's dangling relative links.
Left out: sanitising notebook HTML (our own pipeline's output; nbconvert's sanitiser escapes the
<mark>/<style> markup the notebooks use), widgets, the unexecuted notebooks/ folder.
Usage: python -m mathtransfer.report [reports_dir]
"""
from __future__ import annotations

import html
import json
import os
import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

TITLE = ("mathtransfer: a small-scale reproduction of Huan et al., Does Math Reasoning Improve "
         "General LLM Capabilities?, arXiv 2507.00432")
TRAIN_DIR = "train"  # per-run notebooks: notebooks/02_train.ipynb executed once per arm and seed


class Section(NamedTuple):
    title: str
    paper: str  # where the paper reports it
    metrics: str | None  # reports/metrics/<metrics>.json
    shows: str


# Notebook stem -> its section, in the paper's order; "02_train" stands for reports/train/*.ipynb.
SECTIONS = {
    "00_data": Section("The mini-world and its data", "§2 setup", None, "The synthetic tasks and splits."),
    "01_base": Section("The base model", "§2 setup", None, "Tokenizer, tiny Qwen3, pretraining loss."),
    "01_base_eval": Section("The base model's headroom", "§2 setup", "base",
                            "Accuracy per task before any training, pass@k on math, tasks above chance."),
    "01_world_check": Section("The world's own checks", "§2 setup", "world_check",
                              "Headroom on a second base seed; GRPO on a non-math shared-step task (the channel check)."),
    "02_train": Section("Training runs", "§2.2", None, "Each arm and seed's losses, rewards, checkpoints."),
    "03_training": Section("Training dynamics", "§2.2, Table 7", "training", "Change per group over seeds."),
    "04_evaluate": Section("Evaluation", "Table 1, Figure 1", "evaluate", "Every model on all twelve tasks."),
    "05_transfer": Section("Transferability Index", "Figure 2", "transfer",
                           "TI of the paper's model zoo and of our arms, with bootstrap intervals."),
    "06_latent": Section("Hidden-state PCA shift", "§4.1, Table 2, Figure 3", "latent",
                         "How far each arm moves the hidden representations from the base, per layer."),
    "07_tokens": Section("Token-distribution shift", "§4.2, Figures 4-5, Table 8", "tokens",
                         "KL, rank shift, and which tokens shift between each arm and the base."),
    "08_forgetting": Section("What predicts forgetting", "§5 and beyond", "forgetting",
                             "The arms' recipes side by side, forgetting against three distances from the "
                             "base, update sparsity and rank, items forgotten and gained."),
}

# The lab template without its <script> loads, each code cell's input folded.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style>details.mt-code > summary { cursor: pointer; color: #777; }</style>
{%- endblock extra_css -%}
{% block input_group -%}
<details class="mt-code"><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
"""

STYLESHEET = "notebook.css"  # the pages' shared style (nbconvert's lab CSS), written once
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>\s*", re.S)

_CSS = """body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }
section { border-top: 1px solid #ddd; } .paper, .missing { color: #777; } img { max-width: 22rem; }
table { border-collapse: collapse; font-size: 85%; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .1rem .4rem; text-align: right; }
tr > th:first-child { text-align: left; }"""


def _notebooks(reports_dir: Path) -> list[Path]:
    """The executed notebooks, relative to reports_dir, in a stable order."""
    found = sorted(reports_dir.glob("*.ipynb")) + sorted((reports_dir / TRAIN_DIR).glob("*.ipynb"))
    return [path.relative_to(reports_dir) for path in found]


def _write_atomic(path: Path, text: str) -> None:
    # a reader (or a crash) never sees a half-written file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")  # .tmp-* is gitignored
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _shared_style(page: str, href: str) -> tuple[str, str]:
    """(page, css): the <style> blocks of a page's <head> moved out into one stylesheet, linked
    at href; every page carries the same 250 KB of lab CSS, so it is written once."""
    head, body = page.split("</head>", 1)
    css = "\n".join(_STYLE.findall(head))
    link = f'<link rel="stylesheet" href="{html.escape(href)}">\n'
    return _STYLE.sub("", head) + link + "</head>" + body, css


def render_notebooks(reports_dir: str | Path = "reports", out_dir: str | Path | None = None) -> list[str]:
    """Render each executed notebook to <out_dir>/<same relative name>.html (out_dir: default
    <reports_dir>/html), remove pages whose notebook is gone; return the paths written."""
    import nbformat  # slow imports, only needed here
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    reports_dir = Path(reports_dir)
    out_dir = Path(out_dir) if out_dir is not None else reports_dir / "html"
    exporter = HTMLExporter(extra_loaders=[DictLoader({"mathtransfer.html.j2": _TEMPLATE})],
                            template_file="mathtransfer.html.j2", embed_images=True)
    written, kept, styles = [], set(), {}
    for rel in _notebooks(reports_dir):
        source = reports_dir / rel
        # name: the page's <title>; path: markdown images are embedded from the notebook's folder
        resources = {"metadata": {"name": rel.stem, "path": str(source.parent)}}
        body, _ = exporter.from_notebook_node(nbformat.read(source, as_version=4), resources=resources)
        target = out_dir / rel.with_suffix(".html")
        body, css = _shared_style(body, os.path.relpath(out_dir / STYLESHEET, target.parent))
        if styles.setdefault(css, len(styles)):  # one template, one style: anything else is a bug
            raise ValueError(f"{source}: its page's style differs from the other pages'")
        _write_atomic(target, body)
        written.append(str(target))
        kept.add(target.resolve())
    if styles:
        _write_atomic(out_dir / STYLESHEET, next(iter(styles)))
        written.append(str(out_dir / STYLESHEET))
    # only the two levels written above: nothing else in out_dir is touched
    for page in sorted(out_dir.glob("*.html")) + sorted((out_dir / TRAIN_DIR).glob("*.html")):
        if page.resolve() not in kept:
            page.unlink()
    return written


def _format(value) -> str:
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")  # 3 decimals, no trailing zeros
        return "0" if text == "-0" else text
    return str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else json.dumps(value)


def _leaves(data, path=()):
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, path + (str(key),))
    else:
        yield path, data


def metrics_table(metrics) -> str:
    """Nested metrics as tables, one per nesting depth: a row per parent path ("a / b"), a column
    per leaf key (so top-level scalars and {"greedy": {"math": ..}} do not share columns)."""
    tables: dict[int, dict[str, dict[str, str]]] = {}
    for path, value in _leaves(metrics):
        parent, leaf = " / ".join(path[:-1]), (path[-1] if path else "value")
        tables.setdefault(len(path), {}).setdefault(parent, {})[leaf] = _format(value)
    esc, out = html.escape, []
    for rows in tables.values():
        columns = list(dict.fromkeys(key for cells in rows.values() for key in cells))
        out.append("<table><tr><th></th>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>")
        out += [f"<tr><th>{esc(parent)}</th>" + "".join(f"<td>{esc(cells.get(c, ''))}</td>" for c in columns)
                + "</tr>" for parent, cells in rows.items()]
        out.append("</table>")
    return "\n".join(out)


def _metrics_block(reports_dir: Path, name: str | None) -> str:
    if name is None:
        return ""
    path = reports_dir / "metrics" / f"{name}.json"
    if not path.exists():
        return f'<p class="missing">{html.escape(path.name)}: not run yet</p>'
    try:
        return metrics_table(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:  # one bad file must not take the whole index down
        return f'<p class="missing">{html.escape(path.name)}: unreadable ({html.escape(str(error))})</p>'


def _href(target: Path, start: Path) -> str:
    return html.escape(quote(Path(os.path.relpath(target, start)).as_posix()))


def _link(reports_dir: Path, html_dir: Path, rel: Path, label: str) -> str:
    page = html_dir / rel.with_suffix(".html")
    if not page.exists():  # a link to a page never rendered would be a broken link
        return f"{html.escape(label)} <em>(not rendered)</em>"
    return f'<a href="{_href(page, reports_dir)}">{html.escape(label)}</a>'


def build_index(reports_dir: str | Path = "reports", html_dir: str | Path | None = None) -> str:
    """Write <reports_dir>/index.html (html_dir: default <reports_dir>/html); return its path."""
    reports_dir = Path(reports_dir)
    html_dir = Path(html_dir) if html_dir is not None else reports_dir / "html"
    notebooks = _notebooks(reports_dir)
    top = {rel.stem: rel for rel in notebooks if rel.parent == Path(".")}
    runs = [rel for rel in notebooks if rel.parent != Path(".")]
    esc = html.escape
    parts = [f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(TITLE)}</title>'
             f"\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<h1>{esc(TITLE)}</h1>"]
    for stem, section in SECTIONS.items():
        parts.append(f'<section id="{esc(stem)}">\n<h2>{esc(section.title)} '
                     f'<span class="paper">(paper {esc(section.paper)})</span></h2>')
        if stem in top:
            link = _link(reports_dir, html_dir, top[stem], top[stem].name)
            parts.append(f"<p>{link}: {esc(section.shows)}</p>")
        elif stem == "02_train" and runs:
            items = "".join(f"<li>{_link(reports_dir, html_dir, rel, rel.stem)}</li>" for rel in runs)
            parts.append(f"<p>{esc(section.shows)}</p>\n<ul>{items}</ul>")
        else:
            parts.append(f'<p>{esc(section.shows)} <span class="missing">Notebook: not run yet.</span></p>')
        parts.append(_metrics_block(reports_dir, section.metrics) + "\n</section>")
    others = [rel for stem, rel in top.items() if stem not in SECTIONS]
    if others:  # a new notebook shows up without editing SECTIONS
        items = "".join(f"<li>{_link(reports_dir, html_dir, rel, rel.name)}</li>" for rel in others)
        parts.append(f'<section id="other">\n<h2>Other notebooks</h2>\n<ul>{items}</ul>\n</section>')
    figures = sorted((reports_dir / "figures").glob("*.png"))
    if figures:  # the notebooks save their figures to files rather than display them
        items = "".join(f'<a href="{_href(f, reports_dir)}"><img src="{_href(f, reports_dir)}" '
                        f'alt="{esc(f.name)}" title="{esc(f.name)}"></a>\n' for f in figures)
        parts.append(f'<section id="figures">\n<h2>Figures</h2>\n{items}</section>')
    index = reports_dir / "index.html"
    _write_atomic(index, "\n".join(parts + ["</body>\n</html>\n"]))
    return str(index)


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def broken_links(html_path: str | Path) -> list[str]:
    """Every relative href/src in the page that resolves to no existing file."""
    html_path = Path(html_path)
    parser = _LinkParser()
    parser.feed(html_path.read_text(encoding="utf-8"))
    broken = []
    for link in parser.links:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:  # data:, http(s):, mailto:, //host, #anchor
            continue
        if not (html_path.parent / unquote(parts.path)).exists():
            broken.append(link)
    return broken


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    reports_dir = args[0] if args else "reports"
    for path in render_notebooks(reports_dir) + [build_index(reports_dir)]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
