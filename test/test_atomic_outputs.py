"""Outputs survive faults (atomic.py): a kill -9, Ctrl-C or a full disk leaves the previous files whole.

Every file is written to a temporary file in the same directory and renamed into
place, so at any moment a reader finds the previous complete file or the new
complete one. Temp names are unpredictable and never followed through a symlink;
temps are removed on every exit path, and those of killed runs by the next run.
A run's outputs are renamed together (atomic.staged): all of them or none.
Telemetry is streamed chunk by chunk, so memory does not grow with the length
of the run. The kill tests need a real process; the rest run in-process.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from test_cli import OUTPUTS, REPO_ROOT, output_flags, strict_json, subprocess_env
from trm_demo import atomic, commands
from trm_demo.atomic import atomic_write, staged, write_json
from trm_demo.funnel.pipeline import fit_baseline, model_spec
from trm_demo.config import load_config
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.funnel.telemetry import call_log
from trm_demo.outputs import check_paths
from trm_demo.trm.weights import init_model

PREVIOUS = {"demo_metrics.json": {"strategies": {"trm": {"roi": 1.25}}, "from": "an earlier run"},
            "trm_calls.json": [{"opportunity": 0, "probability": 0.5, "from": "an earlier run"}]}

# A tiny from-scratch model and a budget that never runs out: a long run that keeps
# streaming telemetry until it is stopped. It streams after ~1 s of CPU (was ~3.5 s): a small
# labelled history, and a drift change at opportunity 100, where simulation.blocks ends the
# market's first block (else 4,096 opportunities at full depth are scored before the first chunk).
LONG_RUN_CONFIG = """
model: {hidden_size: 8, expansion: 1, n_cycles: 1, outer_steps: 1, supervision_steps: 2}
training: {samples: 256, holdout_samples: 64, from_scratch: true}
scenario: {events: [{at: 100, drift: 0.31}]}
"""


def write_previous_outputs(directory: Path) -> dict[str, bytes]:
    saved = {}
    for name, content in PREVIOUS.items():
        saved[name] = (json.dumps(content, indent=2) + "\n").encode()
        (directory / name).write_bytes(saved[name])
    return saved


def as_from_a_terminal() -> None:
    """Signals at their defaults, as for a command typed at a terminal.

    A shell script's background job (how CI may start the suite) inherits SIGINT
    ignored, and a program started with SIGINT ignored keeps ignoring it (Python
    does, as POSIX expects): Ctrl-C is then never delivered, so the test would
    measure the runner's setup instead of the program."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_long_run(directory: Path, *extra: str) -> subprocess.Popen:
    (directory / "long.yaml").write_text(LONG_RUN_CONFIG, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "main.py"), "--config", "long.yaml", "--opportunities", "1000000",
         "--train-epochs", "0", *output_flags(directory), "--quiet", *extra],
        cwd=directory, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_from_a_terminal)


def wait_until_streaming(process: subprocess.Popen, directory: Path, timeout: float = 60.0) -> Path:
    """Mid-simulation: the telemetry temp file exists and already holds records."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for temp in directory.glob(f".{OUTPUTS['--telemetry']}.*.tmp"):
            if temp.stat().st_size > 10_000:
                return temp
        if process.poll() is not None:
            pytest.fail(f"the run ended before it was interrupted: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("the telemetry temp file never appeared")


def assert_previous_outputs_intact(directory: Path, saved: dict[str, bytes]) -> None:
    for name, content in saved.items():
        assert (directory / name).read_bytes() == content, f"{name} was modified"
        assert strict_json((directory / name).read_text()) == PREVIOUS[name]
    # Outputs that did not exist before were never half-written.
    assert not (directory / OUTPUTS["--export-training-log"]).exists()
    assert not (directory / OUTPUTS["--export-report"]).exists()


def test_kill_9_mid_simulation_leaves_previous_outputs_intact(tmp_path):
    saved = write_previous_outputs(tmp_path)
    process = start_long_run(tmp_path)
    try:
        wait_until_streaming(process, tmp_path)
    finally:
        process.kill()    # SIGKILL: no handler, no cleanup, like a power cut
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert_previous_outputs_intact(tmp_path, saved)


@pytest.mark.parametrize("stop, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_exits_130_or_143_with_one_line_and_cleans_up(tmp_path, stop, code, word):
    """SIGTERM (a service manager, `kill`) is handled like Ctrl-C."""
    saved = write_previous_outputs(tmp_path)
    process = start_long_run(tmp_path)
    try:
        wait_until_streaming(process, tmp_path)
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code
    assert "Traceback" not in err
    assert err.splitlines() == [f"{word}: stopped before finishing; every output file is either its previous version "
                                "or complete"]
    assert out == ""
    assert_previous_outputs_intact(tmp_path, saved)
    assert not list(tmp_path.glob(".*.tmp")), f"{word} left a temp file behind"


# --- in-process: the atomic writer itself ---

def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "demo_metrics.json"
    target.write_text('{"old": true}\n')

    def half_then_crash(handle):
        handle.write('{"new": ')
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_crash)
    with pytest.raises(ValueError):   # NaN is not JSON: refused, not written
        write_json(target, {"roi": float("nan")})
    assert target.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["demo_metrics.json"]


def test_a_completed_write_replaces_the_file_in_one_step(tmp_path):
    target = tmp_path / "training.json"
    target.write_text("[]\n")
    write_json(target, {"epochs": [1, 2]})
    assert strict_json(target.read_text()) == {"epochs": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["training.json"]


# --- temp files: safe names, never through a symlink, removed on every exit path, stale ones cleaned ---

def test_a_planted_symlink_at_any_old_temp_name_redirects_nothing(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "trm_calls.json"
    for name in (f".{target.name}.{os.getpid()}.tmp", f".{target.name}.{os.getpid() + 1}.tmp"):
        (tmp_path / name).symlink_to(victim)
    with call_log(target) as calls:   # the streamed telemetry goes through the same mechanism
        calls._handle.write("[")
        calls._handle.write("]")
    write_json(tmp_path / "m.json", {"ok": True})
    assert victim.read_text() == "precious\n"
    assert target.read_text().startswith("[")
    assert not [p for p in tmp_path.glob(".*.tmp") if not p.is_symlink()], "a temp was left behind"


def test_stale_temps_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    target = tmp_path / "demo_metrics.json"
    stale = [tmp_path / f".demo_metrics.json.{dead}.tmp", tmp_path / f".demo_metrics.json.{dead}.k3x_9q2a.tmp"]
    live = tmp_path / f".demo_metrics.json.{os.getpid()}.abcdefgh.tmp"
    other = tmp_path / f".report.md.{dead}.abcdefgh.tmp"
    for path in (*stale, live, other):
        path.write_text("half")
    prepare = check_paths({"--export-json": target}, {})   # the next run's check: it only looks ...
    assert all(p.exists() for p in stale)
    prepare()   # ... and once every input is validated, cleans
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()


def test_a_full_disk_leaves_no_partial_temp(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    target.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        atomic.write_text(target, "x" * 100_000)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_full_disk_at_the_last_flush_leaves_no_partial_temp(tmp_path):
    """A real full filesystem: the error surfaces in close(), after the writer returned."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    try:
        with pytest.raises(OSError) as caught:
            atomic.write_text(disk / "report.md", "x" * 200_000)
        assert caught.value.errno == errno.ENOSPC
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_naming_the_file_not_an_internal_error(tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(atomic.os, "fsync", full)
    target = tmp_path / "m.json"
    assert commands.guarded(lambda: write_json(target, {"x": 1}), argparse.Namespace(debug=False)) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: '{target}': No space left on device"]


# --- all outputs or none: atomic.staged renames them together ---

def test_one_failing_output_replaces_none_of_the_others(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.md"
    first.write_text("old a\n")
    second.write_text("old b\n")
    with pytest.raises(RuntimeError):
        with staged():
            write_json(first, {"new": True})
            atomic.atomic_write(second, lambda f: (f.write("half"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert (first.read_text(), second.read_text()) == ("old a\n", "old b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.md"]


def test_a_target_that_became_a_directory_replaces_no_output(tmp_path, capsys):
    """atomic.staged checks every target before the first rename."""
    first, report = tmp_path / "a.json", tmp_path / "report.md"
    first.write_text("old a\n")

    def body():
        with staged():
            write_json(first, {"new": True})
            atomic.write_text(report, "new report\n")
            report.mkdir()   # `mkdir assets/trm_executive_report.md` while the run works
        return 0
    assert commands.guarded(body, argparse.Namespace(debug=False)) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: '{report}': became a directory during the run; no output was replaced"]
    assert first.read_text() == "old a\n" and report.is_dir()
    assert not list(tmp_path.glob(".*.tmp"))


# --- streaming keeps memory flat ---

def test_telemetry_streams_so_memory_stays_flat_over_a_long_run(tmp_path):
    """Memory stays flat over the second half of a run while thousands of records are written.

    If telemetry were kept in memory until the end, traced memory would grow over that half by at least half the
    size of the file (Python dicts and strings are bigger than JSON text). The first half holds the one-off
    allocations (the thermostat's window fills, the replays start): ~0.3 MB, what a short run would measure.
    Sixteen candidates per opportunity: the most records per simulated opportunity.
    """
    cfg = load_config(overrides={
        "model.hidden_size": 8, "model.expansion": 1, "model.n_cycles": 1, "model.outer_steps": 1,
        "model.supervision_steps": 2, "scenario.events": [], "market.candidates_per_opportunity": 16,
        "training.samples": 256, "simulation.opportunities": 600, "simulation.chunk_size": 50})
    model = init_model(model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    memory = []
    tracemalloc.start()
    try:
        with call_log(tmp_path / "trm_calls.json") as calls:
            run_funnel(cfg, model, fit_baseline(cfg), calls, 2, on_progress=lambda done: memory.append(
                tracemalloc.get_traced_memory()[0]))
    finally:
        tracemalloc.stop()
    written = (tmp_path / "trm_calls.json").stat().st_size
    assert calls.records == 600 * 16 and len(memory) == 600 // 50
    assert written > 2_000_000
    half = memory[len(memory) // 2 - 1:]   # from the end of the first half
    growth = max(half) - half[0]
    assert growth < 0.05 * written, f"memory grew {growth:,} bytes while {written // 2:,} bytes were streamed"
