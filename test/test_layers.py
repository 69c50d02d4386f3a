"""The layers of docs/ARCHITECTURE.md, enforced: this test reads the table there ("Modules: what each may import")
and checks every module of trm_demo/ against its row: every import, at the top of the file or late inside a
function, absolute or relative, and `importlib.import_module("...")` / `__import__("...")`; and that only the
rows marked as printers write to the terminal (print, sys.stdout/stderr, logging, traceback.print_*, pprint,
rich). It also fails on an import circle, naming it.

The checker, `layer_violations(root, rows)`, takes a package root, so that the breaches an audit planted
(issue 20) are planted again in a copy of trm_demo/ and shown to fail it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "trm_demo"
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"

STDLIB = "stdlib"   # the table's word for Python's standard library
# What writes to the terminal: these modules, these names, and traceback.print_* (print_exc, print_stack, ...).
OUTPUT_MODULES = ("logging", "pprint", "rich")
OUTPUT_NAMES = ("print", "builtins.print", "Console", "sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__")


@dataclass(frozen=True)
class Row:
    """One row of the table. Modules are named relative to trm_demo/: "trm/" is a package, "ui.py" a module."""
    scopes: tuple[str, ...]     # the modules the row is for
    allowed: frozenset[str]     # what they may import: modules, packages, "stdlib" or a distribution ("numpy")
    prints: bool                # may write to the terminal


def read_table(text: str) -> list[Row]:
    """The rows of the table whose header starts `| Modules |`: every `back-quoted` name in a cell counts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Modules |"))
    rows = []
    for line in lines[start + 2:]:   # past the header and its |---| line
        if not line.startswith("|"):
            break
        modules, _job, may_import, prints = (cell.strip() for cell in line.strip().strip("|").split("|"))
        if prints not in ("yes", "no"):
            raise ValueError(f"docs/ARCHITECTURE.md: the Prints cell of {modules} must be yes or no, not {prints!r}")
        rows.append(Row(tuple(re.findall(r"`([^`]+)`", modules)), frozenset(re.findall(r"`([^`]+)`", may_import)),
                        prints == "yes"))
    return rows


TABLE = read_table(ARCHITECTURE.read_text(encoding="utf-8"))


# --- reading a module ---

def module_names(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*.py")}


def read(root: Path, name: str) -> tuple[tuple, tuple]:
    """What the module imports and where it writes to the terminal (see imports and terminal_writes)."""
    return _read(name, (root / name).read_text(encoding="utf-8"))


@cache
def _read(name: str, text: str) -> tuple[tuple, tuple]:
    # Keyed by the text: a copy of the package with one breach planted walks only that module's tree again
    # (each planted breach walked all ~90 modules' trees: ~0.6 s of CPU a breach, 19 breaches).
    tree = ast.parse(text, filename=name)
    imported = imports(tree, name)
    return tuple(imported), tuple(terminal_writes(tree, imported))


def imports(tree: ast.Module, name: str) -> list[tuple[int, str | None]]:
    """(line, dotted name) of everything the module imports, anywhere in it. `from a import b` counts as a.b
    (b may be a module); relative imports are resolved; a dynamic import of a name computed at run time is
    (line, None): the table cannot check it."""
    package = ["trm_demo", *Path(name).parent.parts]
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            arg = node.args[0] if node.args else None
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith(".")
            found.append((node.lineno, arg.value if literal else None))
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module")


def target(dotted: str, modules: set[str]) -> str:
    """An imported name in the table's words: the trm_demo module it lives in ("funnel/simulation.py"),
    "stdlib", or the distribution's import name ("numpy")."""
    parts = dotted.split(".")
    if parts[0] != "trm_demo":
        return STDLIB if parts[0] in sys.stdlib_module_names else parts[0]
    for n in range(len(parts), 0, -1):   # the longest prefix that is a module: trm_demo.config.Config -> config.py
        path = "/".join(parts[1:n])
        for candidate in (f"{path}.py", f"{path}/__init__.py" if path else "__init__.py"):
            if candidate in modules:
                return candidate
    return dotted   # no such module: no row allows it


def terminal_writes(tree: ast.Module, imported: list[tuple[int, str | None]]) -> list[tuple[int, str]]:
    """(line, what) for every import and every use of something that writes to the terminal."""
    aliases = {alias.asname: alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.asname}   # `import sys as s`: s.stderr is sys.stderr
    found = [(line, dotted) for line, dotted in imported if dotted and _writes(dotted)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = _dotted(node, aliases)
            if name and (name in OUTPUT_NAMES or name.startswith("traceback.print_")):
                found.append((node.lineno, name))
    return found


def _writes(dotted: str) -> bool:
    return dotted.split(".")[0] in OUTPUT_MODULES or dotted in OUTPUT_NAMES or dotted.startswith("traceback.print_")


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`sys.stderr` for the expression sys.stderr; None unless it is names joined by dots."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return base and f"{base}.{node.attr}"
    return None


# --- the rules ---

def covers(scope: str, module: str) -> bool:
    return module == scope or (scope.endswith("/") and module.startswith(scope))


def row_for(module: str, rows: list[Row]) -> tuple[str, Row] | None:
    """The most specific row naming the module: its own row, else its innermost package's."""
    matches = [(scope, row) for row in rows for scope in row.scopes if covers(scope, module)]
    return max(matches, key=lambda match: (not match[0].endswith("/"), len(match[0])), default=None)


def allows(row: Row, what: str) -> bool:
    return any(what == token or covers(token, what) for token in row.allowed)


def module_violations(root: Path, name: str, rows: list[Row], modules: set[str]) -> list[str]:
    ruled = row_for(name, rows)
    if ruled is None:
        return [f"{name}: no row of the table in docs/ARCHITECTURE.md covers it; place it in the layers"]
    scope, row = ruled
    imported, writes = read(root, name)
    problems = []
    for line, dotted in imported:
        if dotted is None:
            problems.append(f"{name}:{line}: imports a module named at run time, which the table cannot check")
        elif not allows(row, target(dotted, modules)):
            problems.append(f"{name}:{line}: imports {dotted} ({target(dotted, modules)}), "
                            f"which the row for `{scope}` does not allow")
    if not row.prints:
        problems += [f"{name}:{line}: writes to the terminal ({what}), but the row for `{scope}` is not a printer"
                     for line, what in writes]
    return problems


def layer_violations(root: Path, rows: list[Row] = TABLE) -> list[str]:
    """Every breach of the table by the package at `root`, as "module:line: what"."""
    modules = module_names(root)
    return [problem for name in sorted(modules) for problem in module_violations(root, name, rows, modules)]


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the trm_demo modules it imports (every import, late ones included)."""
    modules = module_names(root)
    return {name: ({target(dotted, modules) for _, dotted in read(root, name)[0] if dotted} & modules)
            - {name} for name in modules}


def circles(graph: dict[str, set[str]]) -> list[str]:
    """One line per group of modules that import each other: the shortest circle through the group's first
    module ("a.py -> b.py -> a.py"), then every module of the group (all of them are in some circle)."""
    reach = {name: _reachable(graph, name) for name in graph}
    groups = {frozenset(m for m in reach[name] if name in reach[m]) for name in graph if name in reach[name]}
    return sorted(f"{' -> '.join(_shortest_circle(graph, min(group), group))} (the group: {', '.join(sorted(group))})"
                  for group in groups)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), list(graph[start])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack += graph[name]
    return seen


def _shortest_circle(graph: dict[str, set[str]], start: str, group: frozenset[str]) -> list[str]:
    paths, seen = [[start]], {start}
    while paths:   # breadth first, inside the group: the first path back to start is the shortest
        path = paths.pop(0)
        for name in sorted(graph[path[-1]] & group):
            if name == start:
                return [*path, start]
            if name not in seen:
                seen.add(name)
                paths.append([*path, name])
    raise AssertionError(f"{start} is in no circle")


# --- the package as it is ---

@pytest.mark.parametrize("name", sorted(module_names(PACKAGE)))
def test_module_follows_its_row_of_the_architecture_table(name):
    assert module_violations(PACKAGE, name, TABLE, module_names(PACKAGE)) == []


def test_the_table_names_only_modules_packages_and_distributions_that_exist():
    modules = module_names(PACKAGE)
    names = [name for row in TABLE for name in (*row.scopes, *row.allowed)]
    missing = [name for name in names
               if not (name in modules or f"{name}__init__.py" in modules or name == STDLIB
                       or ("/" not in name and not name.endswith(".py") and importlib.util.find_spec(name)))]
    assert missing == []


def test_each_module_or_package_has_one_row():
    scopes = [scope for row in TABLE for scope in row.scopes]
    assert sorted({s for s in scopes if scopes.count(s) > 1}) == []


def test_every_allowance_in_the_table_is_used():
    """The table says what the code does: an allowance no module of its row uses is stale (remove it)."""
    modules = module_names(PACKAGE)
    used = {scope: set() for row in TABLE for scope in row.scopes}
    for name in modules:
        scope, row = row_for(name, TABLE)
        used[scope] |= {target(dotted, modules) for _, dotted in read(PACKAGE, name)[0] if dotted}
    stale = [(row.scopes, token) for row in TABLE for token in sorted(row.allowed)
             if not any(token == what or covers(token, what) for scope in row.scopes for what in used[scope])]
    assert stale == []


def test_no_import_circle():
    assert circles(import_graph(PACKAGE)) == []


# --- planted breaches (issue 20): each must fail the check ---

# (module, code appended to it, a word the violation must contain)
BREACHES = {
    "trm imports outputs": ("trm/weights.py", "from trm_demo.outputs import show_path\n", "outputs.py"),
    "llm imports config": ("llm/cache.py", "from trm_demo.config import LLMConfig\n", "config.py"),
    "llm imports numpy": ("llm/parse.py", "import numpy as np\n", "numpy"),
    "report imports funnel.ledger": ("report/charts.py", "from trm_demo.funnel.ledger import Ledger\n",
                                     "funnel/ledger.py"),
    "report imports ui, relatively": ("report/dossier.py", "from ..ui import UI\n", "ui.py"),
    "funnel/simulation imports ui at the top": ("funnel/simulation.py", "from trm_demo.ui import UI\n", "ui.py"),
    "the funnel imports ui late": ("funnel/pipeline.py", "def ui():\n    from trm_demo.ui import UI\n    return UI()\n",
                                   "ui.py"),
    "market imports config": ("funnel/market.py", "from trm_demo.config import MarketConfig\n", "config.py"),
    "market imports the cascade": ("funnel/market.py", "from .cascade import combine\n", "funnel/cascade.py"),
    "sudoku imports config": ("sudoku/puzzles.py", "from trm_demo.config import Config\n", "config.py"),
    "importlib.import_module": ("trm/engine.py",
                                "import importlib\n\n\ndef ui():\n    return importlib.import_module('trm_demo.ui')\n",
                                "ui.py"),
    "__import__": ("funnel/market.py", "def load():\n    return __import__('trm_demo.funnel.simulation')\n",
                   "funnel/simulation.py"),
    "a module named at run time": ("trm/engine.py",
                                   "import importlib\n\n\ndef load(name):\n    return importlib.import_module(name)\n",
                                   "named at run time"),
    "from sys import stderr": ("funnel/ledger.py", "from sys import stderr\n", "sys.stderr"),
    "logging": ("funnel/sentinel.py", "import logging\n\nlogging.warning('breaker open')\n", "logging"),
    "traceback.print_exc": ("funnel/reading.py", "import traceback\n\n\ndef show():\n    traceback.print_exc()\n",
                            "traceback.print_exc"),
    "print": ("trm/training.py", "def say():\n    print('epoch done')\n", "print"),
    "sys.stderr through an alias": ("report/formats.py", "import sys as system\n\nsystem.stderr.write('x')\n",
                                    "sys.stderr"),
    "a rich Console": ("report/html.py", "from rich.console import Console\n", "rich"),
}


def copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "trm_demo"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    return root


def plant(root: Path, module: str, code: str) -> int:
    """Append the code to the module; returns the last line that was there before."""
    path = root / module
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n\n" + code, encoding="utf-8")
    return len(text.splitlines())


@pytest.mark.parametrize("breach", BREACHES)
def test_a_planted_breach_fails_the_layer_check(breach, tmp_path):
    module, code, word = BREACHES[breach]
    root = copy_package(tmp_path)
    before = plant(root, module, code)
    found = layer_violations(root)
    # every violation is the planted code's (the copy is otherwise clean), and one names what was planted
    assert all(v.startswith(f"{module}:") and int(v.split(":")[1]) > before for v in found), found
    assert any(word in v for v in found), found


def test_a_module_outside_every_row_fails_the_layer_check(tmp_path):
    root = copy_package(tmp_path)
    (root / "stray.py").write_text("import numpy\n", encoding="utf-8")
    assert layer_violations(root) == [
        "stray.py: no row of the table in docs/ARCHITECTURE.md covers it; place it in the layers"]


def test_a_planted_circle_is_named(tmp_path):
    """The circle issue 20 found: config's memory estimate imported the simulation, which imports config."""
    root = copy_package(tmp_path)
    plant(root, "config.py", "def block():\n    from trm_demo.funnel.simulation import FUNNEL_BLOCK\n"
                             "    return FUNNEL_BLOCK\n")
    assert any(c.startswith("config.py -> funnel/simulation.py -> config.py (") for c in circles(import_graph(root)))
