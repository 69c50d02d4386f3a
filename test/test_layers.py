"""The layers of docs/ARCHITECTURE.md, enforced by reading every module's imports and calls with `ast`.

trm/ knows arrays, not business; the market knows no model; only the command-line layer prints; reports read
plain results. A violation names the module, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "trm_demo"

# Modules allowed to write to the terminal: the command-line layer and the two developer entry points.
PRINTERS = {"cli.py", "commands.py", "ui.py", "stop.py", "sudoku/cli.py", "report/docs.py", "report/screenshots.py"}

# Developer entry points inside report/: they run the command (`python -m trm_demo.report.docs`).
ENTRY_POINTS = {"report/docs.py", "report/screenshots.py"}

# (modules the rule covers, imported module prefixes they must not use, why)
FORBIDDEN_IMPORTS = [
    ("trm/", ("trm_demo.funnel", "trm_demo.report", "trm_demo.sudoku", "trm_demo.llm", "trm_demo.config",
              "trm_demo.cli", "trm_demo.commands", "trm_demo.ui", "trm_demo.stop"),
     "the TRM package knows arrays, not the funnel, the config or the command line"),
    ("funnel/market.py", ("trm_demo.trm", "trm_demo.llm", "trm_demo.funnel.reading", "trm_demo.funnel.simulation"),
     "the market knows no model"),
    ("funnel/messages.py", ("trm_demo.trm", "trm_demo.llm", "trm_demo.funnel.reading", "trm_demo.funnel.simulation"),
     "the market knows no model"),
    ("funnel/", ("trm_demo.report", "trm_demo.sudoku", "trm_demo.cli", "trm_demo.commands"),
     "the funnel hands plain results up; it does not build reports or parse flags"),
    ("report/", ("trm_demo.trm", "trm_demo.funnel.simulation", "trm_demo.funnel.pipeline", "trm_demo.config",
                 "trm_demo.sudoku.cli"),
     "reports read plain results (dicts), not models, simulations or config objects"),
    ("report/", ("trm_demo.cli",), "only the developer entry points (docs.py, screenshots.py) run the command"),
    ("sudoku/", ("trm_demo.funnel", "trm_demo.cli"), "the Sudoku proof shares the TRM, not the funnel"),
    ("llm/", ("trm_demo.trm", "trm_demo.funnel", "trm_demo.report", "trm_demo.cli", "trm_demo.ui"),
     "the LLM client knows HTTP and prompts only"),
]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def name_of(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def imported(path: Path, tree: ast.AST) -> list[tuple[int, str]]:
    """Every module the file imports (absolute or relative, at any depth), as a dotted name."""
    package = ["trm_demo", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]   # `from pkg import mod`
    return found


def import_violations(path: Path, tree: ast.AST) -> list[str]:
    name, problems = name_of(path), []
    for scope, banned, why in FORBIDDEN_IMPORTS:
        if not (name == scope or (scope.endswith("/") and name.startswith(scope))):
            continue
        if name in ENTRY_POINTS and banned == ("trm_demo.cli",):
            continue
        for line, module in imported(path, tree):
            if any(module == b or module.startswith(b + ".") for b in banned):
                problems.append(f"{name}:{line} imports {module}: {why}")
    return problems


def output_violations(path: Path, tree: ast.AST) -> list[str]:
    """print(), sys.stdout/stderr writes and rich consoles outside the printing layer."""
    name = name_of(path)
    if name in PRINTERS:
        return []
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            problems.append(f"{name}:{node.lineno} calls print()")
        elif (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
              and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            problems.append(f"{name}:{node.lineno} writes to sys.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rich"):
            problems.append(f"{name}:{node.lineno} imports {node.module} (terminal output)")
        elif isinstance(node, ast.Import) and any(a.name.startswith("rich") for a in node.names):
            problems.append(f"{name}:{node.lineno} imports rich (terminal output)")
        elif isinstance(node, ast.Name) and node.id == "Console":
            problems.append(f"{name}:{node.lineno} uses a rich Console")
    return problems


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return import_violations(path, tree) + output_violations(path, tree)


@pytest.mark.parametrize("path", modules(), ids=name_of)
def test_module_respects_its_layer(path):
    assert violations(path) == []


def test_every_package_is_covered_by_a_rule():
    """A new subpackage must be placed in the layers on purpose, not slip past them."""
    packages = {p.parent.relative_to(PACKAGE).as_posix() + "/" for p in PACKAGE.glob("*/__init__.py")}
    ruled = {scope for scope, _, _ in FORBIDDEN_IMPORTS if scope.endswith("/")}
    assert packages - {"checkpoints/"} <= ruled


def test_the_checker_catches_a_planted_violation(tmp_path, monkeypatch):
    """The rules are live: a TRM module importing the config, and a funnel module printing, are both caught."""
    fake = tmp_path / "trm_demo"
    (fake / "trm").mkdir(parents=True)
    (fake / "funnel").mkdir()
    (fake / "trm" / "leak.py").write_text("from trm_demo.config import TrainingConfig\nfrom ..ui import UI\n")
    (fake / "funnel" / "chatty.py").write_text("import sys\n\ndef f():\n    print('hi')\n    sys.stdout.write('x')\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert [v.split(" imports ")[1].split(":")[0] for v in violations(fake / "trm" / "leak.py")] == [
        "trm_demo.config", "trm_demo.config.TrainingConfig", "trm_demo.ui", "trm_demo.ui.UI"]
    assert len(violations(fake / "funnel" / "chatty.py")) == 2
