"""Bad input is answered with one clear line, exit code 2, and nothing written.

Every case of the table runs the real command line in a temporary directory
that already holds a previous run's demo_metrics.json, and checks:
  - exit code 2, stdout empty, exactly one stderr line starting with "error:";
  - the line names the key or flag (and, where there is one, the value and what is allowed);
  - no traceback;
  - not one file in the directory created, changed or touched;
  - nothing was trained or simulated: input is checked before any work starts.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from test_cli import OUTPUTS, TINY_FLAGS, output_flags, run_cli, strict_json, tiny_args
from trm_demo.funnel import pipeline
from trm_demo import cli
from trm_demo.config import DEFAULT_CONFIG_PATH, load_config
from trm_demo.sudoku import cli as puzzle_cli
from trm_demo.trm.weights import init_model, resolve_checkpoint, save_checkpoint

PREVIOUS_METRICS = b'{"from": "an earlier run"}\n'
SHIPPED_CHECKPOINT = pipeline.checkpoint_path(load_config()).resolve()


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]     # writes what it needs into the directory, returns argv
    expect: tuple[str, ...]                 # fragments the error line must contain
    never_created: tuple[str, ...] = field(default=())  # e.g. a marker a YAML tag tried to create


def run_args(d: Path, *extra: str, config: str = "tiny.yaml") -> list[str]:
    """A tiny run; a bad config file replaces the tiny one (sizes do not matter: nothing may run)."""
    if config == "tiny.yaml":
        (d / "tiny.yaml").write_text("training:\n  holdout_samples: 64\n", encoding="utf-8")
        extra = (*TINY_FLAGS, *extra)
    return ["--config", config, *output_flags(d), *extra]


def config_text(text: str) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        (d / "bad.yaml").write_text(text.format(dir=d), encoding="utf-8")
        return run_args(d, config="bad.yaml")
    return build


def config_bytes(data: bytes) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        (d / "bad.yaml").write_bytes(data)
        return run_args(d, config="bad.yaml")
    return build


def flags(*extra: str) -> Callable[[Path], list[str]]:
    """Extra flags after the tiny run's own (argparse keeps the last value given)."""
    return lambda d: run_args(d, *(e.format(dir=d) for e in extra))


def knob(section: str, key: str, value: str) -> Callable[[Path], list[str]]:
    return config_text(f"{section}:\n  {key}: {value}\n")


def config_dir(d: Path) -> list[str]:
    (d / "conf.d").mkdir()
    return run_args(d, config="conf.d")


def unwritable_dir(d: Path) -> list[str]:
    if os.geteuid() == 0:    # root writes through any permission bits, but not into /proc
        if not Path("/proc").is_dir():
            pytest.skip("no directory is unwritable for root here")
        return run_args(d, "--export-training-log", "/proc/training.json")
    locked = d / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return run_args(d, "--export-training-log", str(locked / "training.json"))


def parent_is_a_file(d: Path) -> list[str]:
    (d / "notes.txt").write_text("not a directory\n")
    return run_args(d, "--export-report", str(d / "notes.txt" / "report.md"))


def checkpoint_file(data: bytes | Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        path = d / "weights.npz"
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        return run_args(d, "--checkpoint", str(path))
    return build


def smaller_model_checkpoint(path: Path) -> None:
    spec = pipeline.model_spec(load_config(overrides={"model.hidden_size": 16}))
    save_checkpoint(path, init_model(spec, np.random.default_rng(0)), {"kind": "test"})


def arrays_without_header(path: Path) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, weights=np.zeros(3))


def truncated_checkpoint(path: Path) -> None:
    data = SHIPPED_CHECKPOINT.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def checkpoint_in_config(d: Path) -> list[str]:
    (d / "bad.yaml").write_text("training:\n  checkpoint: gone/weights.npz\n", encoding="utf-8")
    return run_args(d, config="bad.yaml")


def config_at(make: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    """--config pointing at a path `make` prepares (a FIFO, a device, a link loop...)."""
    return lambda d: run_args(d, config=make(d))


def fifo(d: Path) -> str:
    os.mkfifo(d / "pipe.yaml")    # no writer: opening it for reading would block forever
    return str(d / "pipe.yaml")


def link_loop(d: Path) -> str:
    (d / "a.yaml").symlink_to(d / "b.yaml")
    (d / "b.yaml").symlink_to(d / "a.yaml")
    return str(d / "a.yaml")


def billion_laughs() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def puzzle(*argv: str) -> Callable[[Path], list[str]]:
    board = "0" * 36   # the flag is refused before the board is read
    return lambda d: ["puzzle", *(board if a == "BOARD" else a.format(dir=d) for a in argv)]


CASES = [
    # --- config files ---
    Case("config missing", flags("--config", "{dir}/nope.yaml"), ("nope.yaml", "does not exist")),
    Case("config is a directory", config_dir, ("conf.d", "is a directory")),
    Case("config empty", config_bytes(b""), ("bad.yaml", "is empty")),
    Case("config only comments", config_bytes(b"# nothing here\n\n"), ("bad.yaml", "is empty")),
    Case("config not UTF-8", config_bytes("model:\n  activation: gélu\n".encode("latin-1")), ("not UTF-8",)),
    Case("config binary", config_bytes(bytes(range(256)) * 4), ("bad.yaml", "UTF-8")),
    Case("config NUL bytes", config_bytes(b"model:\x00\x01\x02\n"), ("bad.yaml", "not valid YAML", "line 1")),
    Case("YAML mapping syntax", config_text("model:\n  hidden_size: 32\n  expansion: 2: 3\n"),
         ("not valid YAML", "line 3")),
    Case("YAML unclosed bracket", config_text("model:\n  hidden_size: 32\n  expansion: [2\n"),
         ("not valid YAML", "started at line 3")),
    Case("YAML unclosed quote", config_text("model:\n  activation: 'gelu\ntraining:\n  epochs: 1\n"),
         ("not valid YAML", "started at line 2")),
    Case("YAML tab indentation", config_text("model:\n\thidden_size: 32\n"), ("not valid YAML", "line 2")),
    Case("top level a list", config_text("- model\n- training\n"), ("must be a mapping of sections", "['model'")),
    Case("top level a number", config_text("42\n"), ("must be a mapping of sections", "got 42")),
    Case("section not a mapping", config_text("simulation: 5\n"), ("'simulation'", "must be a mapping", "got 5")),
    Case("section null", config_text("thermostat:\n"), ("'thermostat'", "must be a mapping", "None")),
    Case("unknown section", config_text("modle:\n  hidden_size: 32\n"), ("'modle'", "did you mean 'model'")),
    Case("unknown key", knob("model", "hiden_size", "32"), ("'model.hiden_size'", "did you mean 'hidden_size'")),
    Case("unknown key, no near name", knob("simulation", "banana", "1"), ("'simulation.banana'",)),
    Case("python object tag", config_text('simulation: !!python/object/apply:os.system ["touch {dir}/PWNED"]\n'),
         ("not valid YAML", "python/object/apply:os.system"), never_created=("PWNED",)),
    Case("python name tag", config_text("model:\n  activation: !!python/name:os.system\n"),
         ("not valid YAML", "python/name:os.system")),
    Case("python subprocess tag",
         config_text('x: !!python/object/apply:subprocess.check_call [["touch", "{dir}/PWNED2"]]\n'),
         ("not valid YAML", "subprocess.check_call"), never_created=("PWNED2",)),
    # --- wrong types ---
    Case("string for a number", knob("model", "hidden_size", '"32"'), ("'model.hidden_size'", "'32'", "[2, 512]")),
    Case("bool for a number", knob("simulation", "outreach_cost", "true"), ("'simulation.outreach_cost'", "True")),
    Case("float for a whole number", knob("simulation", "opportunities", "2.5"),
         ("'simulation.opportunities'", "whole number", "2.5")),
    Case("null for a number", knob("simulation", "seed", "null"), ("'simulation.seed'", "None")),
    Case("list for a number", knob("training", "epochs", "[1, 2]"), ("'training.epochs'", "[1, 2]")),
    Case("number for a bool", knob("thermostat", "enabled", "1"), ("'thermostat.enabled'", "true or false", "1")),
    Case("number for text", knob("model", "activation", "3"), ("'model.activation'", "text", "3")),
    Case("unknown choice", knob("model", "activation", "relu"), ("'model.activation'", "swiglu, gelu", "'relu'")),
    # --- NaN and infinity ---
    Case("NaN", knob("simulation", "llm_noise", ".nan"), ("'simulation.llm_noise'", "finite", "nan")),
    Case("infinity", knob("sentinel", "llm_budget_per_opportunity", ".inf"),
         ("'sentinel.llm_budget_per_opportunity'", "finite", "inf")),
    Case("minus infinity", knob("thermostat", "max_hurdle", "-.inf"), ("'thermostat.max_hurdle'", "-inf")),
    Case("NaN for a whole number", knob("simulation", "opportunities", ".nan"), ("'simulation.opportunities'",)),
    # --- counts and costs that make no sense ---
    Case("negative cost", knob("simulation", "outreach_cost", "-5"), ("'simulation.outreach_cost'", "[0, ", "-5")),
    Case("negative LLM cost", knob("simulation", "llm_cost", "-0.01"), ("'simulation.llm_cost'", "-0.01")),
    Case("negative count", knob("simulation", "opportunities", "-1"), ("'simulation.opportunities'", "-1")),
    Case("zero opportunities", knob("simulation", "opportunities", "0"), ("'simulation.opportunities'", "[1, ")),
    Case("sub-nano-dollar cost", knob("simulation", "outreach_cost", "1.0e-309"),
         ("'simulation.outreach_cost'", "0 or at least 1e-09", "1e-309")),
    Case("zero batch size", knob("training", "batch_size", "0"), ("'training.batch_size'", "[1, ")),
    Case("zero conversion value", knob("simulation", "conversion_value", "0"),
         ("'simulation.conversion_value'", "(0, ")),
    Case("zero learning rate", knob("training", "learning_rate", "0"), ("'training.learning_rate'", "(0, 1]")),
    Case("zero latency cap", knob("sentinel", "max_latency_ms", "0"), ("'sentinel.max_latency_ms'", "(0, ")),
    Case("zero cascade3 hurdle", knob("reading_trm", "llm_hurdle", "0"), ("'reading_trm.llm_hurdle'", "(0, ", "0")),
    # --- probabilities and thresholds outside [0, 1] ---
    Case("threshold above 1", knob("simulation", "trm_halt_threshold", "1.5"),
         ("'simulation.trm_halt_threshold'", "[0, 1]", "1.5")),
    Case("failure rate of 0", knob("sentinel", "breaker_failure_rate", "0"),
         ("'sentinel.breaker_failure_rate'", "(0, 1]", "0")),
    Case("drift below 0", knob("market", "drift", "-0.2"), ("'market.drift'", "[0, 1]")),
    Case("noise above 5", knob("simulation", "llm_noise", "6"), ("'simulation.llm_noise'", "[0, 5]")),
    Case("EMA decay 1", knob("training", "ema_decay", "1.0"), ("'training.ema_decay'", "0.999999")),
    # --- min > max ---
    Case("initial hurdle outside bounds", knob("thermostat", "initial_hurdle", "50"),
         ("'thermostat.initial_hurdle'", "[3.0, 20.0]", "50")),
    Case("scenario events not a list", knob("scenario", "events", "3"), ("'scenario.events'", "list", "3")),
    Case("scenario event with two changes", config_text("scenario:\n  events:\n    - at: 5\n      drift: 0.5\n      llm_outage: 3\n"),
         ("'scenario.events[0]'", "exactly one of")),
    Case("scenario event out of range", config_text("scenario:\n  events:\n    - at: 5\n      llm_price_multiplier: -2\n"),
         ("'scenario.events[0].llm_price_multiplier'", "-2")),
    Case("scenario events out of order", config_text(
        "scenario:\n  events:\n    - at: 9\n      drift: 0.5\n    - at: 5\n      drift: 0.1\n"),
         ("'scenario.events'", "order of 'at'")),
    # --- absurd sizes ---
    Case("huge hidden size", knob("model", "hidden_size", "100000"), ("'model.hidden_size'", "[2, 512]", "100000")),
    Case("huge opportunities", knob("simulation", "opportunities", "1e12"), ("'simulation.opportunities'", "2,000,000")),
    Case("huge training batch",
         config_text("model:\n  hidden_size: 512\n  expansion: 8\ntraining:\n  batch_size: 65536\n"),
         ("2 GiB budget", "'training.batch_size x model size'")),
    Case("huge held-out set", config_text("model:\n  hidden_size: 512\ntraining:\n  holdout_samples: 1000000\n"),
         ("2 GiB budget", "'training.holdout_samples x model size")),
    Case("huge funnel block", config_text("model:\n  hidden_size: 512\n  expansion: 8\n"
                                          "market:\n  candidates_per_opportunity: 16\n"
                                          "simulation:\n  opportunities: 100000\n"),
         ("2 GiB budget", "'market.candidates_per_opportunity x model.supervision_steps'")),
    # --- flags ---
    Case("non-numeric flag", flags("--opportunities", "lots"), ("--opportunities", "'lots'", "whole number in [1, 2,000,000]")),
    Case("negative flag", flags("--opportunities", "-5"), ("--opportunities", "'-5'", "[1, 2,000,000]")),
    Case("zero opportunities flag", flags("--opportunities", "0"), ("--opportunities", "'0'")),
    Case("negative seed", flags("--seed", "-1"), ("--seed", "'-1'", "[0, 4,294,967,295]")),
    Case("negative epochs", flags("--train-epochs", "-1"), ("--train-epochs", "'-1'", "[0, 10,000]")),
    Case("fractional epochs", flags("--train-epochs", "1.5"), ("--train-epochs", "'1.5'")),
    Case("too few samples", flags("--train-samples", "3"), ("--train-samples", "'3'", "[16, 5,000,000]")),
    Case("NaN learning rate", flags("--learning-rate", "nan"), ("--learning-rate", "'nan'")),
    Case("learning rate above 1", flags("--learning-rate", "5"), ("--learning-rate", "'5'", "1.0]")),
    Case("flag beyond the config's limit", flags("--opportunities", "99999999999"), ("--opportunities", "2,000,000")),
    Case("unknown flag", flags("--oportunities=5"), ("unknown flag --oportunities", "did you mean --opportunities?")),
    # --- errors that point at the cause (issue 23, point 10) ---
    Case("misspelt flag with a value", flags("--seedz", "3"), ("unknown flag --seedz (did you mean --seed?)",)),
    Case("quoted number", knob("simulation", "llm_cost", '"0.1"'), ("'simulation.llm_cost'", "'0.1'", "quoted string")),
    Case("real provider without a model", flags("--llm-provider", "openai_compatible"),
         ("'llm.model'", "--llm-model NAME")),
    Case("negative cost in words", knob("simulation", "llm_cost", "-1"), ("'simulation.llm_cost'", "must be ≥ 0", "-1")),
    Case("negative flag in words", flags("--seed", "-1"), ("--seed", "must be ≥ 0")),
    Case("report in a directory that does not exist", flags("--export-report", "{dir}/nonexistent/dir/x.md"),
         ("--export-report", "does not exist", "--make-dirs")),
    Case("bad file value under a flagged key", lambda d: (
        (d / "bad.yaml").write_text("report:\n  path: 0\n", encoding="utf-8"),
        run_args(d, "--export-report", str(d / "r.md"), config="bad.yaml"))[1],
         ("'report.path'", "must be text", "in the config file", "bad.yaml")),
    Case("unknown command", lambda d: ["trian", *run_args(d)], ("invalid choice", "'trian'")),
    Case("output in a missing directory", flags("--export-json", "{dir}/missing/m.json"),
         ("--export-json", "missing", "does not exist")),
    Case("telemetry in a missing directory", flags("--telemetry", "{dir}/nowhere/calls.json"),
         ("--telemetry", "nowhere", "does not exist")),
    Case("checkpoint saved into a missing directory", flags("--save-checkpoint", "{dir}/gone/w.npz"),
         ("--save-checkpoint", "gone", "does not exist")),
    Case("output in an unwritable directory", unwritable_dir, ("--export-training-log", "not writable")),
    Case("output under a file", parent_is_a_file, ("--export-report", "notes.txt")),
    Case("output is a directory", flags("--export-json", "{dir}"), ("--export-json", "is a directory")),
    Case("empty output path", flags("--export-json", ""), ("'report.metrics_path'", "empty")),
    Case("same path for two outputs", flags("--telemetry", "{dir}/demo_metrics.json"),
         ("--telemetry", "also the --export-json path")),
    Case("same path spelled differently", flags("--export-report", "{dir}/./training.json"),
         ("--export-report", "--export-training-log")),
    Case("checkpoint saved over an output", flags("--save-checkpoint", "{dir}/report.md"),
         ("--save-checkpoint", "also the --export-report path")),
    # --- config files that are not small regular files, or YAML no config needs (issue 11) ---
    Case("config is a FIFO without a writer", config_at(fifo), ("pipe.yaml", "not a regular file")),
    Case("config is /dev/zero", config_at(lambda d: "/dev/zero"), ("/dev/zero", "not a regular file")),
    Case("config is a symlink loop", config_at(link_loop), ("a.yaml", "loop of symbolic links")),
    Case("config path too long", config_at(lambda d: str(d / ("x" * 5000 + ".yaml"))), ("path too long", "...")),
    Case("config over 1 MiB", config_bytes(b"# padding\n" * 110_000), ("bad.yaml", "1,024 KiB limit")),
    Case("config a huge list", config_bytes(b"model:\n  hidden_size:\n" + b"  - 1\n" * 20_000),
         ("more than 10,000 YAML values",)),
    Case("billion laughs", config_text(billion_laughs()), ("anchor or alias", "line 1", "write each value out")),
    Case("alias to a section", config_text("model: &m {{hidden_size: 32}}\ntraining: *m\n"),
         ("anchor or alias", "'m'")),
    Case("duplicate knob", config_text("model:\n  hidden_size: 32\n  expansion: 2\n  hidden_size: 64\n"),
         ("repeats the key 'model.hidden_size' at line 4", "first given at line 2")),
    Case("duplicate section", config_text("model:\n  expansion: 2\nmodel:\n  expansion: 4\n"),
         ("repeats the key 'model' at line 3",)),
    Case("key that is a number", config_text("model:\n  7: 32\n"), ("key '7' at line 2", "a number", "knob names")),
    Case("key that YAML reads as a bool", config_text("on:\n  enabled: true\n"), ("key 'on'", "true/false")),
    Case("key that is null", config_text("~: 1\n"), ("key '~'", "null")),
    Case("key that is a list", config_text("? [a, b]\n: 1\n"), ("a sequence", "not a name")),
    Case("nesting too deep (lists)", knob("model", "hidden_size", "[[[[[[[[32]]]]]]]]"),
         ("nests deeper", "'model.hidden_size'")),
    Case("nesting too deep (mappings)", config_text("model:\n  hidden_size:\n    a:\n      b: {{c: 1}}\n"),
         ("nests deeper", "'model.hidden_size.a.b")),
    Case("integer of 300 digits", knob("model", "hidden_size", "9" * 300),
         ("'model.hidden_size'", "300 digits", "no knob takes more than 100")),
    Case("integer of 5,000 digits", knob("simulation", "seed", "7" * 5000), ("'simulation.seed'", "5,000 digits")),
    Case("integer of 90 digits", knob("training", "learning_rate", "9" * 90),
         ("'training.learning_rate'", "must be ≤ 1", "(0, 1]")),
    Case("float overflowing to infinity", knob("simulation", "llm_cost", "1.0e+400"),
         ("'simulation.llm_cost'", "finite", "inf")),
    # --- every numeric flag has an upper bound, in the message (issue 11) ---
    Case("epochs flag too large", flags("--train-epochs", "1000000"), ("--train-epochs", "[0, 10,000]")),
    Case("samples flag too large", flags("--train-samples", "1" + "0" * 12), ("--train-samples", "5,000,000")),
    Case("seed flag of 5,000 digits", flags("--seed", "9" * 5000), ("--seed", "out of range", "4,294,967,295")),
    Case("seeds flag too large", flags("--seeds", "1000000"), ("--seeds", "[2, 1,000]")),
    Case("solve --max-steps 10**12", puzzle("solve", "BOARD", "--max-steps", "1000000000000"),
         ("--max-steps", "[1, 64]")),
    Case("eval --steps too large", puzzle("eval", "--steps", "100000", "--export-json", "{dir}/e.json"),
         ("--steps", "[1, 64]")),
    Case("eval --puzzles too large", puzzle("eval", "--puzzles", "1000000", "--export-json", "{dir}/e.json"),
         ("--puzzles", "[1, 2,000]")),
    Case("train --iterations too large", puzzle("train", "--iterations", "1000000000", "--out", "{dir}/s.npz"),
         ("--iterations", "[1, 100,000]")),
    Case("train --slots too large", puzzle("train", "--slots", "1000000", "--out", "{dir}/s.npz"),
         ("--slots", "[1, 1,024]")),
    Case("train --train-puzzles too large", puzzle("train", "--train-puzzles", "10000000"),
         ("--train-puzzles", "[1, 20,000]")),
    Case("train --test-puzzles too large", puzzle("train", "--test-puzzles", "10000000"),
         ("--test-puzzles", "[1, 2,000]")),
    # --- configs inside every knob's range whose memory is not (issue 11: they reached 8 GB) ---
    Case("memory: wide model, big batch", config_text("model:\n  hidden_size: 512\n  expansion: 8\n  n_cycles: 16\n"
                                                      "training:\n  batch_size: 4096\n"),
         ("2 GiB budget", "'training.batch_size x model size'", "lower those knobs")),
    Case("memory: held-out set of a million", knob("training", "holdout_samples", "1000000"),
         ("2 GiB budget", "'training.holdout_samples")),
    Case("memory: five million logged pairs", knob("training", "samples", "5000000"),
         ("2 GiB budget", "'training.samples / pretrain_samples'")),
    Case("memory: huge telemetry chunk", config_text("market:\n  candidates_per_opportunity: 16\n"
                                                     "simulation:\n  opportunities: 200000\n  chunk_size: 100000\n"),
         ("2 GiB budget", "'simulation.chunk_size x market.candidates_per_opportunity'")),
    # --- checkpoints ---
    Case("checkpoint missing", flags("--checkpoint", "{dir}/nope.npz"), ("checkpoint", "nope.npz", "does not exist")),
    Case("checkpoint in config missing", checkpoint_in_config, ("checkpoint", "gone/weights.npz", "does not exist")),
    Case("checkpoint is a directory", flags("--checkpoint", "{dir}"), ("checkpoint", "is a directory")),
    Case("checkpoint empty", checkpoint_file(b""), ("checkpoint", "weights.npz", "corrupt or truncated")),
    Case("checkpoint garbage", checkpoint_file(b"not a checkpoint at all" * 50), ("checkpoint", "corrupt")),
    Case("checkpoint truncated", checkpoint_file(truncated_checkpoint), ("checkpoint", "corrupt or truncated")),
    Case("checkpoint without header", checkpoint_file(arrays_without_header),
         ("checkpoint", "not a trm-demo checkpoint")),
    Case("checkpoint for another model size", checkpoint_file(smaller_model_checkpoint),
         ("checkpoint", "another model size", "hidden_size=16 (config: 32)")),
    # the reading TRM's, checked before the fine-tuning and its memo write anything
    Case("reading TRM checkpoint missing",
         config_text("reading_trm:\n  enabled: true\n  checkpoint: gone/reader.npz\n"),
         ("reading_trm.checkpoint", "gone/reader.npz", "does not exist")),
    Case("reading TRM checkpoint of the tabular TRM",
         config_text(f"reading_trm:\n  enabled: true\n  checkpoint: {SHIPPED_CHECKPOINT}\n"),
         ("reading_trm.checkpoint", "is not a reading TRM")),
]


def snapshot(directory: Path) -> dict[str, tuple]:
    """Every file and folder below `directory`: bytes and modification time of each file."""
    state = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        if path.is_symlink() or not (path.is_dir() or path.is_file()):   # a link loop, a FIFO: never read
            state[key] = ("special", path.lstat().st_mtime_ns)
        else:
            state[key] = ("dir",) if path.is_dir() else (path.read_bytes(), path.stat().st_mtime_ns)
    return state


CASE_SECONDS = 30   # every case answers in well under a second; a blocked read (a FIFO) must not hang the suite


@contextmanager
def deadline(seconds: int):
    """Fail with TimeoutError after `seconds` (SIGALRM interrupts even a blocked open or read)."""
    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: the command blocked")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_work(monkeypatch):
    """Training, simulating or evaluating before the input is checked fails the test (as an exit-1 run)."""
    def started(*args, **kwargs):
        raise AssertionError("work started before the input was fully checked")
    monkeypatch.setattr(pipeline, "fit", started)
    monkeypatch.setattr(cli, "run_funnel", started)
    monkeypatch.setattr(puzzle_cli, "evaluate_sudoku", started)


def test_the_table_covers_at_least_40_distinct_cases():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_fails_with_one_clean_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys, no_work):
    monkeypatch.chdir(tmp_path)
    (tmp_path / OUTPUTS["--export-json"]).write_bytes(PREVIOUS_METRICS)   # a previous run's output
    argv = case.build(tmp_path)
    before = snapshot(tmp_path)
    try:
        with deadline(CASE_SECONDS):
            run = run_cli(capsys, argv)
        after = snapshot(tmp_path)
    finally:
        for path in tmp_path.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error: "), run.err
    for fragment in case.expect:
        assert fragment in run.err, f"{fragment!r} missing from: {run.err}"
    assert run.out == ""
    assert after == before, "a file was created, changed or touched"
    assert (tmp_path / OUTPUTS["--export-json"]).read_bytes() == PREVIOUS_METRICS
    for name in case.never_created:
        assert not (tmp_path / name).exists(), f"the YAML tag executed code: {name} exists"


def test_a_damaged_bag_of_words_checkpoint_stops_the_run_before_anything_is_written(tmp_path, monkeypatch, capsys,
                                                                                     no_work):
    # bow_reader's checkpoint has no config key (one would change every run's config hash): the shipped file
    # damaged (truncated), checked with the reading TRM's before the fine-tuning, its memo or any output
    from trm_demo.funnel import bag_of_words
    monkeypatch.chdir(tmp_path)
    damaged = tmp_path / "reading_bow.npz"
    damaged.write_bytes(resolve_checkpoint(bag_of_words.CHECKPOINT).read_bytes()[:5000])
    monkeypatch.setattr(bag_of_words, "CHECKPOINT", str(damaged))
    (tmp_path / OUTPUTS["--export-json"]).write_bytes(PREVIOUS_METRICS)
    argv = config_text("reading_trm:\n  enabled: true\n")(tmp_path)
    before = snapshot(tmp_path)
    run = run_cli(capsys, argv)
    assert run.code == 2 and run.out == "" and "Traceback" not in run.err
    assert run.err_lines == [run.err_lines[0]] and run.err_lines[0].startswith("error: reading_trm.enabled: the "
                                                                                "bag-of-words reader's checkpoint")
    assert "corrupt or truncated" in run.err and "python -m bench.reader --bow-only" in run.err
    assert snapshot(tmp_path) == before


# --- random mutations of the shipped config ---

SHIPPED = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
KEYS = [(section, key) for section, values in SHIPPED.items() for key in values]
# After mutating, sizes that would make a run slow are clamped back to tiny (wrong types,
# negatives and NaN are kept, so validation still sees them). A tiny run takes ~0.2 s.
TINY = {("training", "samples"): 64, ("training", "holdout_samples"): 64, ("training", "epochs"): 1,
        ("training", "batch_size"): 64, ("simulation", "opportunities"): 10,
        # the shipped checkpoint's sizes: a bigger model would train from scratch, a smaller one is refused
        **{("model", key): SHIPPED["model"][key]
           for key in ("hidden_size", "expansion", "n_cycles", "outer_steps", "supervision_steps")}}
# The output flags set these keys, so what the file says there never reaches the run.
SET_BY_OUTPUT_FLAGS = {"report.path", "report.metrics_path", "report.training_log_path", "subgraph.path"}

any_number = st.one_of(
    st.integers(-10**12, 10**12), st.sampled_from([0, 1, -1, 2**31, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-2.0, 2.0))
any_value = st.one_of(
    any_number, st.booleans(), st.none(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
mutation = st.one_of(
    st.tuples(st.just("drop key"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("drop section"), st.sampled_from(list(SHIPPED)), st.none()),
    st.tuples(st.just("set"), st.sampled_from(KEYS), any_value),
    st.tuples(st.just("scale"), st.sampled_from(KEYS), st.sampled_from([-1, 0, 0.5, 2, 1e6, math.inf])),
    st.tuples(st.just("add key"), st.sampled_from(list(SHIPPED)), st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1,
                                                                          max_size=12)),
)


def mutate(config: dict, change) -> None:
    action, target, value = change
    if action == "drop key":
        config.get(target[0], {}).pop(target[1], None)
    elif action == "drop section":
        config.pop(target, None)
    elif action == "add key":
        config.setdefault(target, {})[value] = 1
    elif target[0] in config:
        old = config[target[0]].get(target[1])
        if action == "set":
            config[target[0]][target[1]] = value
        elif isinstance(old, (int, float)) and not isinstance(old, bool):
            config[target[0]][target[1]] = old * value


def clamp_sizes(config: dict) -> None:
    """Sizes back to tiny (a dropped size key too, else it would fall back to the slow default)."""
    for (section, key), tiny in TINY.items():
        values = config.setdefault(section, {})
        if not isinstance(values, dict):
            continue
        value = values.get(key, tiny)
        # An int is always finite (and may be too large for math.isfinite, e.g. 10**400): only floats are tested.
        is_size = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        if is_size and not isinstance(value, bool) and value > tiny:
            value = tiny
        values[key] = value


def changed_keys(config: dict) -> dict:
    """Key -> value for every shipped key that the file sets to another value than the shipped config's."""
    return {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()
            if key in SHIPPED.get(section, {}) and value != SHIPPED[section][key]}


def names_of(change) -> tuple[str, ...]:
    """How an error line names the key a change set: quoted and dotted (the config's errors), or `key=` (the
    checkpoint's model-size error). A key left out keeps its shipped value, so a drop is never the error."""
    action, target, value = change
    if action.startswith("drop"):
        return ()
    if action == "add key":
        return (f"'{target}.{value}'",)
    return (f"'{target[0]}.{target[1]}'", f"{target[1]}=")


# TRM_FUZZ_EXAMPLES=500 for a deeper search by hand; CI keeps it quick.
@settings(max_examples=int(os.environ.get("TRM_FUZZ_EXAMPLES", 25)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.lists(mutation, min_size=1, max_size=3))
@example(changes=[("set", ("model", "hidden_size"), 10**400)])      # the OverflowError of issue 11
@example(changes=[("set", ("training", "learning_rate"), 10**200)])
@example(changes=[("set", ("simulation", "seed"), -10**400)])
@example(changes=[("drop section", "model", None), ("set", ("simulation", "seed"), 11)])
def test_a_mutated_config_runs_with_its_values_or_names_the_key_it_set_and_writes_nothing(changes, capsys):
    """Exit 0: every output written, and the run records as changed exactly the keys the file changed.
    Exit 2: one line naming a key the mutation set, nothing on stdout, not one file touched. Never anything
    else; a file that only leaves keys out (they keep the shipped values) always runs."""
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    for change in changes:
        mutate(config, change)
    clamp_sizes(config)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        d = Path(scratch)
        (d / "mutated.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        (d / OUTPUTS["--export-json"]).write_bytes(PREVIOUS_METRICS)
        before = snapshot(d)
        os.chdir(d)
        try:
            run = run_cli(capsys, ["--config", "mutated.yaml", *output_flags(d), "--quiet"])
        finally:
            os.chdir(cwd)
        event(f"exit code {run.code}")
        assert "Traceback" not in run.err
        assert run.code in (0, 2), f"exit {run.code}: {run.err}"
        if run.code == 2:
            assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error: "), run.err
            assert any(name in run.err for change in changes for name in names_of(change)), \
                f"the error names none of the keys {changes} set: {run.err}"
            assert run.out == ""
            assert snapshot(d) == before, "a refused run created, changed or touched a file"
            assert not all(action.startswith("drop") for action, _, _ in changes), "leaving keys out was refused"
        else:
            assert not any(line.startswith("error") for line in run.err_lines)
            unknown = [f"{section}.{key}" for section, values in config.items() for key in values
                       if key not in SHIPPED.get(section, {})]
            assert not unknown, f"unknown keys were accepted: {unknown}"
            telemetry = config.get("subgraph", {}).get("enabled", True)
            written = {name for flag, name in OUTPUTS.items() if flag != "--telemetry" or telemetry}
            assert written <= {p.name for p in d.iterdir()}, "an output is missing"
            metrics = strict_json((d / OUTPUTS["--export-json"]).read_text(encoding="utf-8"))
            recorded = {entry["key"]: entry["value"] for entry in metrics["changes"]["keys"]}
            expected = {key: value for key, value in changed_keys(config).items() if key not in SET_BY_OUTPUT_FLAGS}
            assert recorded == expected, "the run did not use (or record) what the file set"
            assert {entry["set_by"] for entry in metrics["changes"]["keys"]} <= {"mutated.yaml"}


# --- flags a command would ignore ---

@pytest.mark.parametrize("extra, flag", [(["--save-checkpoint", "x.npz"], "--save-checkpoint"),
                                         (["--seeds", "2"], "--seeds"), (["--export-json", "m.json"], "--export-json"),
                                         (["--train-epochs", "3"], "--train-epochs"),
                                         (["--from-scratch"], "--from-scratch")])
def test_pretrain_refuses_flags_it_would_ignore(extra, flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "fit", lambda *a, **k: pytest.fail("trained with a flag it ignores"))
    run = run_cli(capsys, ["pretrain", *extra])
    assert run.code == 2 and run.err_lines == [run.err_lines[0]]
    assert run.err.startswith(f"error: {flag} does not apply to `pretrain`")
    assert list(tmp_path.iterdir()) == []
    run = run_cli(capsys, [*tiny_args(tmp_path), "--replace-shipped"])
    assert run.code == 2 and "--replace-shipped applies only with --save-checkpoint" in run.err
