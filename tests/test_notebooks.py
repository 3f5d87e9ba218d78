"""Source notebooks are real notebooks paired with reviewable text (jupytext), carry no outputs,
and narrate: no function or class definitions and no computing loops (logic lives in src). A for
loop may show things (display, print, plot, save a figure per pooling); one that accumulates
(`+=`, append/extend/update, item assignment, a nested loop) computes, and belongs in src."""
import ast
import glob
import os

import jupytext
import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def test_every_notebook_has_its_text_pair_and_every_pair_its_notebook():
    texts = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.py")))
    assert [p[:-6] for p in NOTEBOOKS] == [p[:-3] for p in texts] and len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_the_pair_is_in_sync_and_the_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    text = jupytext.read(path[:-6] + ".py")
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in text.cells], \
        f"{path} and its .py differ: run `jupytext --sync {os.path.relpath(path, ROOT)}`"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "source notebooks carry no outputs"
    assert sum("parameters" in c.metadata.get("tags", []) for c in notebook.cells) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_a_notebook_narrates_and_calls_src(path):
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    tree = ast.parse(code)
    defined = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef,
                                                                             ast.While, ast.AsyncFunctionDef))]
    for loop in (n for n in ast.walk(tree) if isinstance(n, ast.For)):
        inner = [n for body in loop.body for n in ast.walk(body)]
        if any(isinstance(n, (ast.AugAssign, ast.For)) for n in inner) \
                or any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Subscript) for t in n.targets) for n in inner) \
                or any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                       and n.func.attr in ("append", "extend", "update", "setdefault") for n in inner):
            defined.append(f"computing loop at line {loop.lineno}")
    assert defined == [], f"{os.path.basename(path)}: move these into src: {defined}"
    assert "from mathtransfer" in code
