"""Run the Node Mermaid validator (test/mermaid/validate.mjs) from Python.

Plain functions, no pytest fixtures: import this from any test that needs to
check Mermaid blocks in generated Markdown. Paths are computed from this
file's location so it works from any clone / working directory.

Node tooling is installed with ``npm ci`` at the repo root.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from served import Served

REPO_ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = REPO_ROOT / "test" / "mermaid" / "validate.mjs"
NODE_MODULES = REPO_ROOT / "node_modules"


def node_tooling_available() -> bool:
    """True if `node` is on PATH and `npm ci` has installed mermaid + jsdom."""
    return (
        shutil.which("node") is not None
        and (NODE_MODULES / "mermaid" / "package.json").is_file()
        and (NODE_MODULES / "jsdom" / "package.json").is_file()
    )


def running_in_ci() -> bool:
    """CI systems (GitHub Actions, GitLab, ...) export CI=true."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_node_tooling() -> None:
    """Skip the calling test if the tooling is missing -- but fail in CI.

    CI installs the tooling with `npm ci`, so a missing install there is a
    broken pipeline, not a reason to silently skip the Mermaid checks.
    """
    import pytest  # local import: keep this module importable without pytest

    if node_tooling_available():
        return
    missing = "`node` not on PATH" if shutil.which("node") is None else (
        f"no node_modules/mermaid or node_modules/jsdom in {REPO_ROOT}"
    )
    reason = f"Mermaid validator unavailable: {missing} (install node, run `npm ci`)"
    if running_in_ci():
        pytest.fail(f"CI is set but tooling is missing: {reason}")
    pytest.skip(reason)


def validate_markdown(path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Validate every ```mermaid block of the Markdown file at `path`.

    Returns what `node test/mermaid/validate.mjs FILE` returns, as a CompletedProcess (text mode).
    returncode: 0 all blocks parse, 1 a block failed (stdout has a `FAIL file#N line: message` line),
    2 usage error / unreadable file / no mermaid block in the file. One validator process (`--serve`)
    answers every call of the session.
    """
    args = [str(Path(path).resolve())]
    answer = VALIDATOR_PROCESS.ask(args, timeout)
    return subprocess.CompletedProcess(args, answer["code"], answer["stdout"], answer["stderr"])


# cwd: so that `import 'mermaid'` resolves this repo's node_modules
VALIDATOR_PROCESS = Served(shutil.which("node") or "node", str(VALIDATOR), "--serve", cwd=REPO_ROOT)
