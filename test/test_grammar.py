"""One command-line grammar: the global flags go before or after `puzzle`, --quiet means the same everywhere,
every flag says what it does and its default, and the help names the command the way the user runs it."""

from __future__ import annotations

import argparse

import pytest

from test_cli import run_cli
from trm_demo.sudoku import cli as puzzle_cli


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


def test_puzzle_help_names_the_command_as_it_is_run(capsys):
    for argv in (["puzzle", "--help"], ["--quiet", "puzzle", "eval", "--help"]):
        with pytest.raises(SystemExit):
            run_cli(capsys, argv)
        text = capsys.readouterr().out
        assert text.startswith("usage: trm-demo puzzle")
        assert "usage: python main.py" not in text


def sub_commands() -> dict[str, argparse.ArgumentParser]:
    parser = puzzle_cli.parser()
    (choices,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return choices


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
    assert {"--quiet", "--debug"} <= flags


def test_json_means_json_on_stdout_in_puzzle_eval_as_in_the_main_command(capsys, tmp_path):
    import json
    run = run_cli(capsys, ["puzzle", *eval_args(tmp_path), "--json", "--quiet"])
    assert run.code == 0, run.err
    printed = json.loads(run.out)                       # stdout is the JSON and nothing else
    assert printed == json.loads((tmp_path / "e.json").read_text())   # the same results --export-json wrote
    assert "Exact solve" not in run.out
