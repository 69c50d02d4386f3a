"""One command-line grammar: the global flags (--quiet, --json, --debug) go before or after `puzzle` and its
sub-command, and mean the same in every command; every flag says what it does and its default, and the help
names the command the way the user runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from test_checkpoints import TINY_PRETRAIN, TINY_PUZZLE_TRAIN, sha256
from test_cli import Run, help_blocks, run_cli, strict_json, tiny_args, tiny_config
from trm_demo.commands import GLOBAL_FLAGS
from trm_demo.config import DEFAULT_CONFIG_PATH, read_yaml
from trm_demo.__main__ import command_tree


def eval_args(directory) -> list[str]:
    return ["eval", "--puzzles", "3", "--steps", "1", "--export-json", str(directory / "e.json"),
            "--report", str(directory / "e.md")]


@pytest.mark.parametrize("where", ["before puzzle", "after the sub-command", "between puzzle and eval"])
def test_quiet_works_before_or_after_puzzle_and_keeps_only_the_table(capsys, tmp_path, where):
    argv = {"before puzzle": ["--quiet", "puzzle", *eval_args(tmp_path)],
            "after the sub-command": ["puzzle", *eval_args(tmp_path), "--quiet"],
            "between puzzle and eval": ["puzzle", "--quiet", *eval_args(tmp_path)]}[where]
    run = run_cli(capsys, argv)
    assert run.code == 0, run.err
    assert run.err == ""                  # no "loaded checkpoint", "evaluating on", "wrote": as in the main command
    assert "Exact solve" in run.out       # the result itself is still printed
    assert (tmp_path / "e.json").exists()


def test_without_quiet_puzzle_eval_says_what_it_loaded_and_wrote(capsys, tmp_path):
    run = run_cli(capsys, ["puzzle", *eval_args(tmp_path)])
    assert run.code == 0 and "loaded checkpoint" in run.err and "wrote" in run.err


def test_debug_before_puzzle_is_accepted(capsys, tmp_path):
    assert run_cli(capsys, ["--debug", "puzzle", *eval_args(tmp_path)]).code == 0


def test_main_help_lists_puzzle_and_config(capsys):
    with pytest.raises(SystemExit):
        run_cli(capsys, ["--help"])
    text = capsys.readouterr().out
    assert "puzzle" in text and "config" in text


def test_puzzle_after_other_flags_is_refused_with_the_order_to_use(capsys):
    run = run_cli(capsys, ["--seed", "3", "puzzle"])
    assert run.code == 2 and "`puzzle` must come before" in run.err
    assert all(flag in run.err for flag in GLOBAL_FLAGS), "the message names every flag that may precede it"


def test_puzzle_help_names_the_command_as_it_is_run(capsys):
    for argv in (["puzzle", "--help"], ["--quiet", "puzzle", "eval", "--help"]):
        with pytest.raises(SystemExit):
            run_cli(capsys, argv)
        text = capsys.readouterr().out
        assert text.startswith("usage: trm-demo puzzle")
        assert "usage: python main.py" not in text


def sub_commands() -> dict[str, argparse.ArgumentParser]:
    """`puzzle`'s sub-command parsers, its flags added as when `puzzle` is used."""
    def children(parser):
        (choices,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return choices
    return children(children(command_tree())["puzzle"].with_flags())


@pytest.mark.parametrize("command", ["train", "eval", "solve"])
def test_every_puzzle_flag_has_help_and_shows_its_default(command):
    sub = sub_commands()[command]
    formatter = sub._get_formatter()
    for action in sub._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help"
        shown = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in shown, f"{command} {action.option_strings[0]}: no default in {shown!r}"


@pytest.mark.parametrize("command", ["train", "eval", "solve"])
def test_every_puzzle_sub_command_takes_the_global_flags(command):
    flags = {opt for action in sub_commands()[command]._actions for opt in action.option_strings}
    assert set(GLOBAL_FLAGS) <= flags


# --- --json: the command's result as one JSON document on stdout, in every command, wherever it is typed ---

A_PUZZLE = ".4....5.6.2....6.14........23...2..."
TINY_TRAIN = [a for a in TINY_PUZZLE_TRAIN if a != "--quiet"]   # here the messages must reach stderr
# command -> (its words, its arguments): tiny sizes, every file relative to the run's own directory, so that
# the same command in another directory prints the same JSON. Called inside that directory (it writes tiny.yaml).
JSON_COMMANDS = {
    "run": lambda: (["run"], tiny_args(Path("."))),
    "pretrain": lambda: (["pretrain"], ["--config", str(tiny_config(Path("."), TINY_PRETRAIN)), "--out", "p.npz"]),
    "config": lambda: (["config"], ["cheap_llm"]),
    "puzzle train": lambda: (["puzzle", "train"], [*TINY_TRAIN, "--out", "s.npz"]),
    "puzzle eval": lambda: (["puzzle", "eval"], eval_args(Path("."))[1:]),
    "puzzle solve": lambda: (["puzzle", "solve"], [A_PUZZLE, "--max-steps", "3"]),
}
JSON_KEYS = {
    "run": {"run", "strategies", "thermostat", "sentinel", "wall_clock"},
    "pretrain": {"checkpoint", "parameters", "seed", "samples", "epochs", "selected", "holdout", "wall_clock"},
    "config": {"simulation"},
    "puzzle train": {"checkpoint", "parameters", "config", "iterations", "slots", "final_loss", "final",
                     "wall_clock", "comparisons"},
    "puzzle eval": {"puzzles", "steps", "exact_solve", "blank_cell_accuracy", "by_difficulty", "halting"},
    "puzzle solve": {"checkpoint", "puzzle", "steps", "stop", "answer", "exact_solver"},
}
POSITIONS = {   # where --json goes: (words, arguments) -> the command line
    "before the command": lambda words, rest: ["--json", *words, *rest],
    "between puzzle and its sub-command": lambda words, rest: [words[0], "--json", *words[1:], *rest],
    "right after the command": lambda words, rest: [*words, "--json", *rest],
    "at the end": lambda words, rest: [*words, *rest, "--json"],
}
CASES = [(command, where) for command in JSON_COMMANDS for where in POSITIONS
         if command.startswith("puzzle") or where != "between puzzle and its sub-command"]
# Differ from run to run, or with the command line as typed (`command`, `flags`), which the checkpoints record
# (hence their SHA-256).
VOLATILE = {"wall_clock", "seconds", "date", "command", "flags", "sha256"}
_runs: dict[tuple, tuple[Run, Path]] = {}


def json_run(command: str, where: str, capsys, monkeypatch, tmp_path_factory, *extra: str) -> tuple[Run, Path]:
    """The command run with --json at `where` (and `extra`) in a directory of its own; each run once per session."""
    key = (command, where, extra)
    if key not in _runs:
        directory = tmp_path_factory.mktemp("json")
        with monkeypatch.context() as patch:
            patch.chdir(directory)
            _runs[key] = run_cli(capsys, [*POSITIONS[where](*JSON_COMMANDS[command]()), *extra]), directory
    return _runs[key]


def comparable(run: Run, directory: Path):
    """The printed JSON without its VOLATILE keys at any depth, the run's directory in a path shown as '.'."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value.replace(str(directory.resolve()), ".") if isinstance(value, str) else value
    return strip(strict_json(run.out))


@pytest.mark.parametrize("command, where", CASES)
def test_json_prints_the_result_on_stdout_in_every_command_and_position(command, where, capsys, monkeypatch,
                                                                         tmp_path_factory):
    run, directory = json_run(command, where, capsys, monkeypatch, tmp_path_factory)
    assert run.code == 0, run.err
    assert JSON_KEYS[command] <= set(strict_json(run.out))   # the whole of stdout is one JSON document
    if command != "config":                                   # progress and messages still go to stderr
        assert run.err.strip()
    reference = json_run(command, "at the end", capsys, monkeypatch, tmp_path_factory)
    assert comparable(run, directory) == comparable(*reference), f"--json {where} prints another result"


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_json_with_quiet_keeps_stderr_empty_and_prints_the_same_result(command, capsys, monkeypatch,
                                                                       tmp_path_factory):
    run, directory = json_run(command, "before the command", capsys, monkeypatch, tmp_path_factory, "--quiet")
    assert (run.code, run.err) == (0, "")
    assert comparable(run, directory) == comparable(*json_run(command, "at the end", capsys, monkeypatch,
                                                                tmp_path_factory))


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_json_is_what_the_command_wrote_or_read(command, capsys, monkeypatch, tmp_path_factory):
    run, directory = json_run(command, "at the end", capsys, monkeypatch, tmp_path_factory)
    printed = strict_json(run.out)
    if command == "run":
        assert printed == strict_json((directory / "demo_metrics.json").read_text())
    elif command == "puzzle eval":
        assert printed == strict_json((directory / "e.json").read_text())
    elif command == "config":
        assert printed == read_yaml(DEFAULT_CONFIG_PATH.parent / "examples" / "cheap_llm.yaml")
    elif command == "puzzle solve":
        assert printed["puzzle"] == A_PUZZLE and len(printed["steps"]) == printed["stop"]["after_step"]
        assert printed["answer"] == printed["steps"][-1]["board"] and len(printed["answer"]) == 36
        assert {"step", "board", "changed", "halt_probability", "overruled_givens"} == set(printed["steps"][0])
    else:   # pretrain, puzzle train: the checkpoint named is the file written, byte for byte
        written = directory / ("p.npz" if command == "pretrain" else "s.npz")
        assert printed["checkpoint"] == {"path": str(written.resolve()), "sha256": sha256(written)}


@pytest.mark.parametrize("command", ["pretrain", "config", "puzzle train", "puzzle solve"])
def test_json_states_the_facts_of_the_human_text(command, capsys, monkeypatch, tmp_path_factory):
    printed = strict_json(json_run(command, "at the end", capsys, monkeypatch, tmp_path_factory)[0].out)
    directory = tmp_path_factory.mktemp("text")
    monkeypatch.chdir(directory)
    words, rest = JSON_COMMANDS[command]()
    text = run_cli(capsys, [*words, *rest])
    assert text.code == 0, text.err
    said = " ".join((text.out + text.err).split())   # rich wraps long lines at 80 columns
    if command == "pretrain":
        first, last = printed["holdout"][0], printed["holdout"][-1]
        assert (f"wrote p.npz ({printed['parameters']} parameters); held-out excess log-loss "
                f"{first['excess_log_loss']:.4f} at step 1, {last['excess_log_loss']:.4f} at step {last['step']}") in said
    elif command == "config":
        assert yaml.safe_load(text.out) == printed
    elif command == "puzzle train":
        assert f"wrote s.npz: {printed['parameters']:,} parameters, {printed['iterations']} iterations" in said
        assert f"final loss {printed['final_loss']:.4f}" in said
    else:
        for step in printed["steps"]:
            assert (f"step {step['step']}: {step['changed']} cell(s) changed, halt probability "
                    f"{step['halt_probability']:.2f}") in said
        assert f"{printed['stop']['reason']}; answer {printed['answer']}" in said
        assert printed["exact_solver"]["verdict"] in said


HELP_OF = {"run": [], "pretrain": ["pretrain"], "config": ["config"], "puzzle": ["puzzle"],
           "puzzle train": ["puzzle", "train"], "puzzle eval": ["puzzle", "eval"], "puzzle solve": ["puzzle", "solve"]}


def global_flags_help(capsys, argv: list[str]) -> dict[str, str]:
    """Each global flag's help entry in the --help of `argv`, on one line."""
    with pytest.raises(SystemExit):
        run_cli(capsys, [*argv, "--help"])
    blocks = help_blocks(capsys.readouterr().out)
    return {flag: " ".join(blocks[flag].split()) for flag in GLOBAL_FLAGS}


@pytest.mark.parametrize("command", HELP_OF)
def test_every_help_lists_the_global_flags_with_the_same_words_and_default(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    entries = global_flags_help(capsys, HELP_OF[command])
    assert entries == global_flags_help(capsys, []), f"`{command} --help` words a global flag differently"
    assert all(entry.endswith("(default: off)") for entry in entries.values())
    assert entries["--json"].startswith("--json print the command's result as one JSON document on stdout")


# --- what a hostile pass of this grammar found ---

@pytest.mark.parametrize("argv", [["puzzle", "solve", A_PUZZLE, "--js"], ["puzzle", "--qui", "solve", A_PUZZLE],
                                  ["--js"], ["config", "cheap_llm", "--js"], ["puzzle", "solve", A_PUZZLE, "--deb"]])
def test_an_abbreviated_flag_is_refused_everywhere_not_taken_by_one_parser_and_ignored_by_another(capsys, argv):
    run = run_cli(capsys, argv)
    abbreviation = next(a for a in argv if a.startswith("--"))
    assert run.code == 2 and run.out == ""
    assert len(run.err_lines) == 1 and abbreviation in run.err


def test_words_after_a_double_dash_are_values_not_global_flags(capsys):
    run = run_cli(capsys, ["puzzle", "solve", A_PUZZLE, "--", "--json"])
    assert run.code == 2 and run.out == "" and "--json" in run.err


def test_a_path_with_brackets_is_written_and_shown_as_typed(capsys, monkeypatch, tmp_path):
    """rich markup would read "[/x]" as a closing tag: a crash after the work, or "[red]" silently dropped."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "[").mkdir()
    run = run_cli(capsys, ["puzzle", "--json", "eval", "--puzzles", "3", "--steps", "1",
                           "--export-json", "[/x].json", "--report", "[red]e.md"])
    assert run.code == 0, run.err
    assert strict_json(run.out)["puzzles"] == 3
    assert (tmp_path / "[" / "x].json").exists() and (tmp_path / "[red]e.md").exists()
    assert "[/x].json" in run.err and "[red]e.md" in run.err


@pytest.mark.parametrize("argv, names", [(["--seed", "3", "puzzle", "eval"], "`puzzle` must come before"),
                                         (["config", "--seed", "3"], "--seed does not apply to `config`"),
                                         (["--train-epochs", "1.5"], "'1.5' is not a whole number")])
def test_a_misplaced_or_mistyped_flag_gets_a_line_that_names_it(capsys, argv, names):
    run = run_cli(capsys, argv)
    assert run.code == 2 and len(run.err_lines) == 1 and names in run.err


def test_switches_show_their_default_as_off_in_every_help(capsys):
    for argv in (["--help"], ["puzzle", "train", "--help"], ["config", "--help"]):
        with pytest.raises(SystemExit):
            run_cli(capsys, argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: False)" not in text and "(default: off)" in text


# --- one tree: `run` implied, each command takes only its own flags ---

def test_run_is_implied_after_the_global_flags_and_is_the_same_command(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    implied, explicit = (run_cli(capsys, [*words, *tiny_args(tmp_path)]) for words in (["--json", "--quiet"],
                                                                                         ["--json", "--quiet", "run"]))
    assert (implied.code, implied.err, explicit.code) == (0, "", 0)
    assert comparable(implied, tmp_path) == comparable(explicit, tmp_path)


@pytest.mark.parametrize("argv, says", [
    (["puzzle", "eval", "--seeds", "2"], "--seeds does not apply to `puzzle eval` (it is a flag of `run`)"),
    (["puzzle", "solve", A_PUZZLE, "--out", "x.npz"],
     "--out does not apply to `puzzle solve` (it is a flag of `pretrain`, `puzzle train`)"),
    (["pretrain", "--opportunities", "5"], "--opportunities does not apply to `pretrain` (it is a flag of `run`)")])
def test_another_commands_flag_is_named_with_the_commands_that_take_it(capsys, argv, says):
    run = run_cli(capsys, argv)
    assert run.code == 2 and run.out == "" and run.err_lines == [run.err_lines[0]] and says in run.err
