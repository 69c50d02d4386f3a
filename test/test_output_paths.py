"""Outputs never land where they would destroy data (outputs.check_paths, one check for both commands).

Every output path is checked before any work: against the inputs and their hard links, against each other,
against non-regular files and directories, against trm-demo's own files (the package and config
directories, resolved), and for names too long or directories not writable. The check only looks:
nothing on disk changes until every input is validated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from test_atomic_outputs import assert_previous_outputs_intact, write_previous_outputs
from test_cli import run_cli, tiny_args
from trm_demo import cli, outputs
from trm_demo.config import DEFAULT_CONFIG_PATH
from trm_demo.errors import OutputPathError
from trm_demo.outputs import check_paths
from trm_demo.trm.weights import SHIPPED_DIR

PACKAGE = Path(cli.__file__).resolve().parent
SHIPPED_CHECKPOINT = SHIPPED_DIR / "pretrained_trm.npz"
EXAMPLE_CONFIG = next((DEFAULT_CONFIG_PATH.parent / "examples").glob("*.yaml"))


def fingerprints(*paths: Path) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


# --- inputs, each other and non-regular files ---

def test_an_output_that_is_an_input_or_its_hard_link_is_refused_before_any_work(tmp_path, capsys):
    args = tiny_args(tmp_path)
    config = Path(args[1])
    os.link(config, tmp_path / "alias.yaml")
    before = config.read_bytes()
    for flag, path in (("--export-report", config), ("--export-json", tmp_path / "alias.yaml"),
                       ("--telemetry", tmp_path / "." / "tiny.yaml")):
        run = run_cli(capsys, [*args, flag, path])
        assert run.code == 2 and run.err_lines == [run.err_lines[0]]
        assert run.err.startswith(f"error: {flag} ") and "--config" in run.err
    assert config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.yaml", "tiny.yaml"], "work started"


def test_a_checkpoint_given_as_input_is_never_an_output(tmp_path, capsys):
    checkpoint = tmp_path / "weights.npz"
    checkpoint.write_bytes(b"weights")
    run = run_cli(capsys, [*tiny_args(tmp_path), "--checkpoint", checkpoint, "--export-json", checkpoint])
    assert run.code == 2 and "--export-json" in run.err and "the input --checkpoint" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--checkpoint", checkpoint, "--export-json", checkpoint])
    assert run.code == 2 and "--export-json" in run.err and "the input --checkpoint" in run.err
    assert checkpoint.read_bytes() == b"weights"


def test_two_puzzle_eval_outputs_on_one_file_are_refused(tmp_path, capsys):
    same = tmp_path / "eval.json"
    run = run_cli(capsys, ["puzzle", "eval", "--export-json", same, "--report", same])
    assert run.code == 2 and run.err_lines == [f"error: --report '{same}' is also the --export-json path; "
                                               "give each output its own file"]


def test_an_existing_output_that_is_not_a_regular_file_is_refused(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        for path, kind in ((fifo, "a FIFO"), ("/dev/null", "a character device"), (tmp_path / "sock", "a socket"),
                           (tmp_path, "a directory")):
            run = run_cli(capsys, [*tiny_args(tmp_path), "--export-json", path])
            assert run.code == 2 and f"--export-json '{path}' is {kind}" in run.err
    finally:
        sock.close()
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("path", ["newdir/", "newdir/.", ".", ".."])
def test_an_output_path_naming_a_directory_is_refused(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv, flag in (([*tiny_args(tmp_path), "--export-report", path], "--export-report"),
                       (["puzzle", "eval", "--export-json", path], "--export-json"),
                       (["puzzle", "eval", f"--report={path}"], "--report")):
        run = run_cli(capsys, argv)
        assert run.code == 2 and run.err_lines == [f"error: {flag} '{path}' names a directory, not a file; "
                                                   "add a file name to the path"], run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


def test_a_name_too_long_or_an_unwritable_directory_is_refused_before_any_output_changes(tmp_path, capsys):
    saved = write_previous_outputs(tmp_path)
    for flag, path, says in (("--export-report", tmp_path / ("r" * 250 + ".md"), "file name too long"),
                             ("--export-report", "/proc/report.md", "not writable"),
                             ("--telemetry", tmp_path / "nowhere" / "calls.json", "does not exist")):
        run = run_cli(capsys, [*tiny_args(tmp_path), flag, path])
        assert run.code == 2 and run.err.startswith(f"error: {flag} ") and says in run.err
    assert_previous_outputs_intact(tmp_path, saved)
    with pytest.raises(OutputPathError, match="too long"):
        check_paths({"--json": tmp_path / ("j" * 300)}, {})


def test_output_paths_in_error_lines_are_clipped(tmp_path, capsys):
    long = tmp_path / ("d" * 400) / "x.json"
    run = run_cli(capsys, [*tiny_args(tmp_path), "--export-json", long])
    assert run.code == 2 and len(run.err_lines) == 1 and "..." in run.err and len(run.err) < 300, run.err


# --- trm-demo's own files ---

@pytest.mark.parametrize("target", [SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG,
                                    PACKAGE / "new_output.json", PACKAGE / "checkpoints" / "new.npz"],
                         ids=["shipped checkpoint", "default config", "example config", "new file in package",
                              "new file beside the checkpoints"])
def test_no_output_may_land_in_trm_demos_own_files(target, tmp_path, monkeypatch, capsys):
    """outputs.check_paths, for both commands: the package directory and the config directory, resolved."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alias").symlink_to(target.parent)
    before = fingerprints(SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG)
    for argv, flag in (([*tiny_args(tmp_path), "--from-scratch", "--export-json", target], "--export-json"),
                       ([*tiny_args(tmp_path), "--from-scratch", "--telemetry", tmp_path / "alias" / target.name],
                        "--telemetry"),
                       (["puzzle", "eval", "--export-json", target], "--export-json"),
                       (["puzzle", "eval", "--export-json", "e.json", "--report", target], "--report")):
        run = run_cli(capsys, argv)
        assert run.code == 2 and len(run.err_lines) == 1, run.err
        assert run.err.startswith(f"error: {flag} '") and "trm-demo's own files" in run.err
        assert f"give {flag} a path outside it" in run.err
    assert fingerprints(SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG) == before
    assert not target.exists() or target in (SHIPPED_CHECKPOINT, DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG)


def test_a_hard_link_to_a_package_file_is_refused(tmp_path, monkeypatch):
    """A hard link has no path in common with the package: found by (device, inode)."""
    package = tmp_path / "package"
    package.mkdir()
    (package / "default_config.yaml").write_text("precious\n")
    os.link(package / "default_config.yaml", tmp_path / "innocent.json")
    monkeypatch.setattr(outputs, "package_directories", lambda: [package])
    with pytest.raises(OutputPathError, match="--export-json .*innocent.json.* trm-demo's own files"):
        check_paths({"--export-json": tmp_path / "innocent.json"}, {})
    check_paths({"--export-json": tmp_path / "other.json"}, {})   # an ordinary file is fine


def test_the_shipped_checkpoints_only_through_replace_shipped(tmp_path):
    """cli.checkpoint_output allows it with --replace-shipped; check_paths lets only that flag through."""
    check_paths({"--out": SHIPPED_CHECKPOINT}, {}, replace_shipped={"--out"})   # looks only: nothing written
    with pytest.raises(OutputPathError, match="own files"):
        check_paths({"--out": SHIPPED_CHECKPOINT}, {})
    with pytest.raises(OutputPathError, match="own files"):   # the exception is for the checkpoints only
        check_paths({"--out": DEFAULT_CONFIG_PATH}, {}, replace_shipped={"--out"})


# --- the check only looks ---

def test_a_refused_run_changes_nothing_on_disk(tmp_path, monkeypatch, capsys):
    """check_paths only looks; directories and stale-temp cleaning wait until every input is validated."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".demo_metrics.json.{dead}.abcdefgh.tmp"
    stale.write_text("half")
    run = run_cli(capsys, ["--config", tiny_args(tmp_path)[1], "--checkpoint", "bad.npz"])   # default outputs
    assert run.code == 2 and run.err.startswith("error: checkpoint '") and "bad.npz' is corrupt" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--checkpoint", "bad.npz"])
    assert run.code == 2 and run.err.startswith("error: checkpoint '") and "bad.npz' is corrupt" in run.err
    run = run_cli(capsys, ["puzzle", "eval", "--puzzles", "501"])   # a flag checked against the checkpoint
    assert run.code == 2 and run.err_lines == [run.err_lines[0]] and "held out only 500" in run.err
    assert "loaded checkpoint" not in run.err
    assert not (tmp_path / "assets").exists(), "a refused run created the default directory"
    assert stale.exists(), "a refused run cleaned temps"
