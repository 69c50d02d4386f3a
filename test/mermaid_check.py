"""Run the Node Mermaid validator (test/mermaid/validate.mjs) from Python.

Plain functions, no pytest fixtures: import this from any test that needs to
check Mermaid blocks in generated Markdown. Paths are computed from this
file's location so it works from any clone / working directory.

Node tooling is installed with ``npm ci`` at the repo root.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
from pathlib import Path

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
    2 usage error / unreadable file / no mermaid block in the file. One validator process answers
    every call of the session (`--serve`): loading jsdom + mermaid costs ~3 s of CPU, a check a few ms.
    """
    args = [str(Path(path).resolve())]
    server = _server()
    server.stdin.write(json.dumps(args) + "\n")
    server.stdin.flush()
    if not select.select([server.stdout], [], [], timeout)[0]:
        _stop_server()
        raise subprocess.TimeoutExpired([str(VALIDATOR), *args], timeout)
    answer = server.stdout.readline()
    if not answer:   # the validator died: say how, and let the next call start a fresh one
        _stop_server()
        raise RuntimeError(f"the Mermaid validator exited with code {server.returncode}")
    result = json.loads(answer)
    return subprocess.CompletedProcess(args, result["code"], result["stdout"], result["stderr"])


_SERVER: list[subprocess.Popen] = []


def _server() -> subprocess.Popen:
    if not _SERVER or _SERVER[0].poll() is not None:
        node = shutil.which("node") or "node"
        _SERVER[:] = [subprocess.Popen(
            [node, str(VALIDATOR), "--serve"],
            cwd=REPO_ROOT,  # so `import 'mermaid'` resolves this repo's node_modules
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)]
        atexit.register(_stop_server)
    return _SERVER[0]


def _stop_server() -> None:
    """End of input ends the validator; it is waited for, so its CPU is counted with the suite's."""
    for server in _SERVER:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
    _SERVER.clear()
