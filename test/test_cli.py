"""The command line end to end (issue 2): flags, streams, exit codes, and files written where the flags say.

Runs are in-process (`trm_demo.__main__.main`) on tiny sizes, inside a temporary
directory; only `python -m trm_demo` needs a real subprocess. The helpers at
the top are shared by the other CLI-level test files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from trm_demo.funnel import pipeline
from trm_demo import __version__, cli
from trm_demo.__main__ import main
from trm_demo.config import load_config
from trm_demo.trm.weights import load_checkpoint

REPO_ROOT = Path(__file__).resolve().parent.parent

# Tiny but complete runs: a few hundred milliseconds each.
TINY_CONFIG = "training:\n  holdout_samples: 64\n"
TINY_FLAGS = ["--opportunities", "30", "--train-epochs", "1", "--train-samples", "64"]
OUTPUTS = {"--export-json": "demo_metrics.json", "--export-training-log": "training.json",
           "--export-report": "report.md", "--export-html": "report.html", "--telemetry": "trm_calls.json"}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_cli(capsys, argv: list[str]) -> Run:
    capsys.readouterr()   # drop anything printed before the run
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def output_flags(directory: Path) -> list[str]:
    """Every output flag, pointing inside `directory`."""
    return [item for flag, name in OUTPUTS.items() for item in (flag, str(directory / name))]


def tiny_config(directory: Path, extra: str = "") -> Path:
    path = directory / "tiny.yaml"
    path.write_text(TINY_CONFIG + extra, encoding="utf-8")
    return path


def tiny_args(directory: Path, *extra: str) -> list[str]:
    return ["--config", str(tiny_config(directory)), *TINY_FLAGS, *output_flags(directory), *extra]


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    def refuse(constant):
        raise ValueError(f"{constant} is not valid JSON")
    return json.loads(text, parse_constant=refuse)


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


# --- --help and --version ---

def help_blocks(text: str) -> dict[str, str]:
    """Option string -> its whole help entry (argparse wraps long entries onto indented lines)."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  -"):
            current = stripped.split()[0].rstrip(",")
            blocks[current] = stripped
        elif current and line.startswith("    ") and stripped:
            blocks[current] += " " + stripped
        else:
            current = None
    return blocks


def test_help_lists_every_flag_with_its_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    blocks = help_blocks(text)
    usage_flags = set(re.findall(r"\[(--[\w-]+)", text.split("\n\n")[0]))
    assert len(usage_flags) >= 15
    assert usage_flags - {"-h"} <= set(blocks), "a flag in the usage line has no help entry"
    for flag, entry in blocks.items():
        if flag not in ("-h", "--version"):
            assert "(default:" in entry, f"{flag} does not show its default: {entry}"
            assert "(default: None)" not in entry, f"{flag} shows argparse's None instead of the real default"
    shipped = load_config()
    # Flags that override the config show the config's actual value.
    assert f"(default: {shipped.simulation.opportunities}," in blocks["--opportunities"]
    assert f"(default: {shipped.simulation.seed}," in blocks["--seed"]
    assert f"(default: {shipped.report.metrics_path}," in blocks["--export-json"]


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"trm-demo {__version__}\n"


def test_python_dash_m_trm_demo_version_works(tmp_path):
    done = subprocess.run([sys.executable, "-m", "trm_demo", "--version"], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"trm-demo {__version__}\n", "")


# --- each command imports only what it uses ---

# Runs the command line in a fresh interpreter, then writes every module it loaded to the file named first.
LOADED_BY = """
import json, sys
from trm_demo.__main__ import main
try:
    main(sys.argv[2:])
except SystemExit:   # --help
    pass
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
"""
NO_FUNNEL = ("trm_demo.funnel", "trm_demo.llm", "trm_demo.config", "trm_demo.cli", "yaml")
# command line -> modules (and their submodules) it must not load
MUST_NOT_LOAD = {
    "puzzle eval --help": NO_FUNNEL,
    "puzzle solve .4....5.6.2....6.14........23...2... --max-steps 1": NO_FUNNEL,
    "config": ("trm_demo.trm", "trm_demo.funnel", "trm_demo.llm", "trm_demo.sudoku", "trm_demo.cli", "numpy",
               "rich", "http", "ssl"),
    # the flags' help reads the shipped YAML for their defaults, nothing else
    "--help": ("trm_demo.sudoku", "trm_demo.funnel", "trm_demo.llm", "trm_demo.cli", "numpy", "rich", "http", "ssl"),
    "pretrain --help": ("trm_demo.sudoku", "trm_demo.funnel", "trm_demo.llm", "numpy", "rich", "http", "ssl"),
    # a simulated run draws the table (rich) but never loads the LLM client or its http/ssl stack
    "--quiet --opportunities 20 --train-epochs 0": ("trm_demo.llm", "http", "ssl", "trm_demo.sudoku"),
}
# And the one trm module `config` loads: config.py's TrainingConfig extends trm/knobs.py's TrainingKnobs (plain
# dataclass fields, no NumPy, no model; allowed by docs/ARCHITECTURE.md).
CONFIG_READS = {"trm_demo.trm", "trm_demo.trm.knobs"}


@pytest.mark.parametrize("command", MUST_NOT_LOAD)
def test_each_command_loads_only_the_layers_it_uses(command, tmp_path):
    loaded = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", LOADED_BY, str(loaded), *command.split()], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(loaded.read_text())) - CONFIG_READS
    banned = MUST_NOT_LOAD[command]
    assert sorted(m for m in modules if m.split(".")[0] == "trm_demo") != [], "the command did not run"
    assert [m for m in sorted(modules) if any(m == b or m.startswith(b + ".") for b in banned)] == []


# --- a successful run ---

def test_files_are_written_where_the_flags_say(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["main.py"])   # as `python main.py ...` starts it
    out = tmp_path / "out"
    out.mkdir()
    argv = [str(a) for a in ["--config", tiny_config(tmp_path), *TINY_FLAGS, *output_flags(out),
                             "--save-checkpoint", out / "tuned.npz"]]
    run = run_cli(capsys, argv)
    assert run.code == 0, run.err
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS.values(), "tuned.npz"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.yaml"], "wrote outside the flagged paths"
    metrics = strict_json((out / "demo_metrics.json").read_text())
    assert metrics["run"]["opportunities"] == 30
    assert len(strict_json((out / "training.json").read_text())["epochs"]) == 1
    calls = strict_json((out / "trm_calls.json").read_text())
    assert calls and {"opportunity", "probability", "steps", "decision"} <= set(calls[0])
    assert (out / "report.md").read_text(encoding="utf-8").startswith("#")
    model, metadata = load_checkpoint(out / "tuned.npz", expected=pipeline.model_spec(load_config()))
    assert metadata["kind"] == "fine-tuned"
    # The command recorded is the one that ran, as typed: the report's footer and the checkpoint repeat it.
    assert metrics["run"]["command"] == metadata["command"] == "python main.py " + " ".join(argv)
    # Every written path is listed in the summary.
    for name in OUTPUTS.values():
        assert name in run.out


# A stand-in for the script `pip install .` writes from pyproject's [project.scripts].
INSTALLED_SCRIPT = "import sys\nfrom trm_demo.__main__ import launch\nsys.exit(launch())\n"


@pytest.mark.parametrize("how", ["installed", "python -m trm_demo", "python main.py"])
def test_config_prints_a_run_line_that_works_where_the_user_stands(how, tmp_path):
    script = tmp_path / "trm-demo"
    script.write_text(INSTALLED_SCRIPT)
    argv = {"installed": [str(script)], "python -m trm_demo": ["-m", "trm_demo"], "python main.py": ["main.py"]}[how]
    cwd = REPO_ROOT if how == "python main.py" else tmp_path
    done = subprocess.run([sys.executable, *argv, "config"], cwd=cwd, env=subprocess_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = {"installed": "trm-demo", "python -m trm_demo": "python -m trm_demo",
                "python main.py": "python main.py"}[how]
    assert f"run `{expected} --config my.yaml`" in done.stdout.splitlines()[1]
    if how != "python main.py":
        assert "python main.py" not in done.stdout, "an installed user has no main.py"


# launch() as the installed script runs it, after the test's own set-up: an exit handler, and maybe a thread or a
# profiler that launch must wait for / leave its teardown to.
LEAVE_SCRIPT = """import atexit, sys, threading, time
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", file=sys.stderr))).start()
sys.argv[1:] = ["config"]
from trm_demo.__main__ import launch
launch()
"""


@pytest.mark.parametrize("case", ["alone", "thread", "profiled"])
def test_launch_exits_with_everything_written_and_finished(case, tmp_path):
    """__main__.leave skips the interpreter's teardown: the whole of stdout still arrives through a pipe, the exit
    handlers run, a live thread is waited for, and a profiler still writes its results."""
    script = tmp_path / "launch.py"
    script.write_text(LEAVE_SCRIPT)
    profile = tmp_path / "run.prof"
    argv = ["-m", "cProfile", "-o", str(profile)] if case == "profiled" else []
    done = subprocess.run([sys.executable, *argv, str(script), case], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shipped = (REPO_ROOT / "config" / "default_config.yaml").read_text(encoding="utf-8")
    assert done.stdout == shipped.replace("`python main.py ", "`trm-demo ")
    assert "exit handler ran" in done.stderr
    assert ("thread finished" in done.stderr) == (case == "thread")
    assert profile.exists() == (case == "profiled")


def test_make_dirs_creates_the_missing_directories_of_a_flagged_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "new" / "dir" / "report.md"
    run = run_cli(capsys, [*tiny_args(tmp_path), "--export-report", report, "--export-html", tmp_path / "r.html",
                           "--make-dirs", "--quiet"])
    assert run.code == 0, run.err
    assert report.read_text(encoding="utf-8").startswith("#")


def test_json_flag_prints_only_valid_json_on_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_args(tmp_path, "--json"))
    assert run.code == 0, run.err
    printed = strict_json(run.out)   # the whole of stdout is one JSON document
    assert printed == strict_json((tmp_path / "demo_metrics.json").read_text())
    assert "TRM alone" not in run.out, "the table must not be printed with --json"


def test_quiet_prints_nothing_on_stderr_on_success(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_args(tmp_path, "--quiet"))
    assert run.code == 0
    assert run.err == ""
    assert "TRM alone" in run.out
    assert "Wrote:" not in run.out and "Thermostat:" not in run.out, "--quiet prints only the summary table"


def test_progress_goes_to_stderr_and_the_summary_to_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_args(tmp_path))
    assert run.code == 0
    assert "fine-tuning epoch 1/1" in run.err          # plain progress lines: stderr is not a terminal
    assert "TRM alone" in run.out and "TRM alone" not in run.err
    assert "fine-tuning epoch" not in run.out


def test_default_run_finishes_without_any_numpy_warning(tmp_path, monkeypatch, capsys):
    """The shipped config end to end; pytest turns every warning into an error, so none may be raised."""
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, [*output_flags(tmp_path), "--quiet"])
    assert (run.code, run.err) == (0, "")


# --- exit codes ---

def test_bad_flag_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, tiny_args(tmp_path, "--opportunities", "many"))
    assert run.code == 2
    assert run.err_lines == ["error: argument --opportunities: 'many' is not a whole number; allowed: a whole number "
                             "in [1, 2,000,000] (see --help)"]


def test_internal_failure_exits_1_with_a_short_message(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_funnel", broken)
    run = run_cli(capsys, tiny_args(tmp_path, "--quiet"))
    assert run.code == 1
    assert run.err_lines == ["internal error: RuntimeError: simulated bug (rerun with --debug for the traceback)"]
    assert not (tmp_path / "demo_metrics.json").exists()


def test_debug_flag_shows_the_traceback_of_an_internal_failure(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_funnel", broken)
    with pytest.raises(RuntimeError, match="simulated bug"):
        main(tiny_args(tmp_path, "--quiet", "--debug"))
