"""The house: floors with data flowing down, no import circle, and each DVC stage depending on
exactly the code it runs (its notebook's import closure plus the stage runner's)."""
import ast
import glob
import os
import re

import pytest
import yaml

from conftest import ROOT

SRC = os.path.join(ROOT, "src", "mathtransfer")
# design.md's floors; a module may import from its own floor or below, never above
FLOORS = {
    1: {"schema", "storage", "sandbox", "ti", "tasks", "tasks.scoring", "tasks.math_worker", "tasks.math_tasks", "tasks.traces", "tasks.reasoning",
        "tasks.nonreasoning"},
    2: {"registry", "config", "scorers"},
    3: {"data", "hub", "models", "generation", "trainer_args", "memory"},
    4: {"pretrain", "rewards", "checkpoints"},
    5: {"sft", "grpo", "offpolicy"},
    6: {"arms", "worldcheck"},
    7: {"stage", "report", "sweep", "repro"},  # the runners: a stage's notebook, the HTML report, the lr sweep, the pipeline
}
APART = {"evaluate", "transfer", "zoo", "forgetting", "latent", "tokens", "dynamics", "plots"}  # analyses: floors 1-3 only
FLOOR = {module: floor for floor, modules in FLOORS.items() for module in modules}


def module_name(path):
    rel = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def package_imports(path):
    """The mathtransfer modules a source file imports, anywhere in it (lazy imports included)."""
    tree = ast.parse(open(path).read())
    here = module_name(path) if path.startswith(SRC) else None
    package = here.split(".")[:-1] if here and not path.endswith("__init__.py") else (here or "").split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name[len("mathtransfer."):] for a in node.names if a.name.startswith("mathtransfer.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] if node.level > 1 else package
                prefix = ".".join([p for p in base if p] + ([node.module] if node.module else []))
            elif node.module and (node.module == "mathtransfer" or node.module.startswith("mathtransfer.")):
                prefix = node.module[len("mathtransfer."):] if "." in node.module else ""
            else:
                continue
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}" if prefix else alias.name
                found.add(candidate if candidate in MODULES else prefix)
    return {m for m in found if m}


MODULES = {module_name(p) for p in glob.glob(os.path.join(SRC, "**", "*.py"), recursive=True)}


def module_path(module):
    path = os.path.join(SRC, *module.split("."))
    return os.path.relpath(path + "/__init__.py" if os.path.isdir(path) else path + ".py", ROOT)


def closure(modules):
    """Every package module that importing `modules` runs (a package's __init__ included)."""
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES]
        todo += sorted(package_imports(os.path.join(ROOT, module_path(module))))
    return seen


GRAPH = {m: package_imports(os.path.join(ROOT, module_path(m))) for m in MODULES}


def test_every_module_has_a_floor():
    assert MODULES == set(FLOOR) | APART, MODULES ^ (set(FLOOR) | APART)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_floors(module):
    for target in GRAPH[module] - {module}:
        if module in APART:
            assert FLOOR.get(target, 99) <= 3, f"{module} (an analysis) imports {target}"
        else:
            assert target not in APART, f"{module} (floor {FLOOR[module]}) imports the analysis {target}"
            assert FLOOR[target] <= FLOOR[module], f"{module} (floor {FLOOR[module]}) imports {target} (floor {FLOOR[target]})"


def test_no_import_circle():
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(GRAPH[module] - {module}):
            assert state.get(target) != "open", "import circle: " + " -> ".join(path + [target])
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])


def test_training_never_imports_evaluation():
    for module in ("pretrain", "sft", "grpo", "arms", "rewards", "checkpoints"):
        assert "evaluate" not in closure([module]), module


def notebook_imports(notebook):
    text = open(os.path.join(ROOT, notebook[:-len(".ipynb")] + ".py")).read()  # its jupytext pair
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mathtransfer"):
            prefix = node.module[len("mathtransfer."):] if "." in node.module else ""
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}" if prefix else alias.name
                found.add(candidate if candidate in MODULES else prefix)
        elif isinstance(node, ast.Import):
            found |= {a.name[len("mathtransfer."):] for a in node.names if a.name.startswith("mathtransfer.")}
    return found


def stages():
    spec = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    return {name: stage.get("do", stage) for name, stage in spec.items()}


@pytest.mark.parametrize("name", sorted(stages()))
def test_a_stage_depends_on_exactly_the_code_it_runs(name):
    stage = stages()[name]
    runner = re.search(r"python -m mathtransfer\.(\w+)", stage["cmd"]).group(1)
    notebooks = re.findall(r"notebooks/\S+\.ipynb", stage["cmd"])
    expected = closure([runner] + [m for nb in notebooks for m in notebook_imports(nb)])
    declared = {d for d in stage["deps"] if d.startswith("src/")}
    assert declared == {module_path(m) for m in expected}
    assert set(notebooks) <= set(stage["deps"])


def test_a_figure_or_an_analysis_never_retrains_a_model():
    train_deps = {d for name in ("sft", "rft", "grpo", "base") for d in stages()[name]["deps"]}
    for module in APART:
        assert module_path(module) not in train_deps, module


def test_pretraining_does_not_depend_on_scoring_or_the_hub():
    # the base is pretrained on the data: editing a scorer, the code sandbox or the hub loaders
    # must not retrain it (and with it every arm)
    for module in ("scorers", "sandbox", "tasks.scoring", "hub", "data", "generation"):
        assert module_path(module) not in stages()["base"]["deps"], module
