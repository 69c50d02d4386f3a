"""The README's file map and flowchart name only modules that exist, and every package: they are tested against
the real tree so that they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "trm_demo"
PACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
MODULE = re.compile(r"(?<![\w/.])((?:trm_demo/)?(?:[a-z_]+/)*[a-z_]+\.py)\b")


def named_modules(text: str) -> set[str]:
    return set(MODULE.findall(text))


def exists(name: str) -> bool:
    """A module named relative to the repository, to trm_demo/, or (after `a/x.py + y.py`) to a sibling."""
    return (REPO / name).exists() or (PACKAGE / name).exists() or any(
        (PACKAGE / package / name).exists() for package in PACKAGES)


def readme_maps() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    flowchart = text.split("## Architecture", 1)[1].split("```", 2)[1]
    file_map = text.split("## File map", 1)[1].split("\n## ", 1)[0]
    return flowchart + file_map


def test_readme_names_only_modules_that_exist():
    missing = sorted(m for m in named_modules(readme_maps()) if not exists(m))
    assert missing == []


def test_readme_file_map_names_every_package_and_every_module():
    text = readme_maps()
    assert [p for p in PACKAGES if p != "checkpoints" and f"trm_demo/{p}/" not in text] == []
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    unnamed = sorted(m for m in modules if f"trm_demo/{m}" not in text and m not in ("__main__.py",)
                     and not m.startswith("llm/"))   # llm/ is named as a package
    assert unnamed == []


def test_every_trm_demo_path_named_in_the_docs_config_and_code_exists():
    """Module docstrings, the YAML's "see trm_demo/..." notes and the docs moved with the packages once already;
    a path that no longer exists is a pointer to nowhere (the default YAML is what `trm-demo config` prints)."""
    texts = [REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md"),
             *(REPO / "config").rglob("*.yaml"), *PACKAGE.rglob("*.py"), *(REPO / "test").glob("*.py"),
             *(REPO / "bench").glob("*.py")]
    named = {(path.relative_to(REPO), name) for path in texts
             for name in re.findall(r"trm_demo/[\w/]+\.(?:py|txt|npz|yaml)", path.read_text(encoding="utf-8"))}
    assert sorted((str(path), name) for path, name in named if not (REPO / name).exists()) == []
