"""The entry point (`python main.py`, `python -m trm_demo`, the `trm-demo` script) and the one command tree:

    trm-demo [run] [flags]                  fine-tune the TRM and simulate the funnel (the default command)
    trm-demo pretrain [flags]               train the tabular checkpoint from scratch
    trm-demo puzzle {train,eval,solve} ...  the 6x6 Sudoku reasoning proof
    trm-demo config [EXAMPLE]               print the default YAML (or a shipped example) to copy

The global flags (--quiet, --json, --debug) are on every level of the tree, so they go before the command,
between `puzzle` and its sub-command, or after it. The command line is parsed once; then only the chosen
command's module is imported (each command's flags are added to the tree when that command is used, by the
module that runs it): `puzzle` never loads the funnel, the LLM client or the YAML loader, `config` no model.
Exit codes: commands.guarded.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Callable

from trm_demo import __version__, stop
from trm_demo.commands import (GLOBAL_FLAGS, HelpFormatter, OneLineParser, add_config_flags, global_flags, guarded,
                               invocation, print_config, suggest_flag)
from trm_demo.errors import UsageError

# What to type instead of another command's flag (the line names the flag and the commands that take it).
INSTEAD = {("pretrain", "--save-checkpoint"): "pretrain writes its checkpoint to --out PATH",
           ("pretrain", "--train-epochs"): "pretrain's epochs are training.pretrain_epochs in --config",
           ("pretrain", "--train-samples"): "pretrain's log size is training.pretrain_samples in --config",
           ("run", "--out"): "to keep fine-tuned weights use --save-checkpoint PATH"}


def launch() -> None:
    """Signal handlers first, then process set-up and the (slow) imports, then the command: a stop at any point
    of start-up is one line and 130 or 143."""
    try:
        stop.install()
        from trm_demo.process import prepare_process   # here, not at the top: stop.install() comes first
        prepare_process()   # before NumPy loads: OpenBLAS reads its kernel and thread settings once
        code = stop.flush_stdout(main())
    except KeyboardInterrupt as stopped:   # during start-up; once running, commands.guarded handles it
        for signum in (signal.SIGINT, signal.SIGTERM):   # stopping already: a second signal adds no traceback
            signal.signal(signum, signal.SIG_IGN)
        code = stop.exit_code(stopped)
        sys.exit(code)
    stop.leave(code)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line once, then run the chosen command; what goes wrong becomes an exit code."""
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    args = argparse.Namespace(debug=False)   # filled by parse_args
    return guarded(lambda: run_command(parse_args(argv, args), argv, started), args)


def run_command(args: argparse.Namespace, argv: list[str], started: float) -> int:
    if args.command == "run":
        return _funnel().run_command(args, argv, started)
    if args.command == "pretrain":
        return _funnel().pretrain_command(args, argv)
    if args.command == "puzzle":
        return _puzzle().puzzle_command(args, argv)
    return print_config(args)


# --- the tree ---

def _funnel():
    from trm_demo import cli   # late: only `run` and `pretrain` load the funnel
    return cli


def _flags():
    from trm_demo import run_flags   # late: the YAML loader, for the flags' defaults; not the funnel
    return run_flags


def _puzzle():
    from trm_demo.sudoku import cli   # late: only `puzzle` loads the Sudoku proof
    return cli


class CommandParser(OneLineParser):
    """A command's parser, whose flags are added (by `flags`) the first time it parses or shows its help: the
    tree costs nothing for the commands not chosen."""

    def __init__(self, *args, flags: Callable[[argparse.ArgumentParser], None], **kwargs):
        super().__init__(*args, **kwargs)
        self._add_flags = flags

    def with_flags(self) -> CommandParser:
        if self._add_flags:
            add, self._add_flags = self._add_flags, None
            add(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.with_flags()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.with_flags()
        return super().format_help()


COMMANDS = {
    "run": ("fine-tune the TRM and simulate the funnel (the default: `trm-demo [run] [flags]`)",
            lambda p: _flags().add_run_flags(p)),
    "pretrain": ("train the tabular TRM checkpoint from scratch (see --out)", lambda p: _flags().add_pretrain_flags(p)),
    "puzzle": ("the 6x6 Sudoku reasoning proof: train, eval, solve", lambda p: _puzzle().add_puzzle_commands(p)),
    "config": ("print the default YAML (or a shipped example) to copy", add_config_flags),
}


def command_tree() -> OneLineParser:
    """The tree, named as the user invoked it (`trm-demo`, `python main.py`, `python -m trm_demo`).
    `trm-demo --help` is run's help: it names the other commands."""
    prog = invocation()
    tree = OneLineParser(prog=prog, formatter_class=HelpFormatter, parents=[global_flags()])
    sub = tree.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for name, (text, flags) in COMMANDS.items():
        default_command = {"prog": f"{prog} [run]", "epilog": "other commands: " + "; ".join(
            f"{other}: {about} (`{prog} {other} --help`)" for other, (about, _) in COMMANDS.items() if other != "run")}
        sub.add_parser(name, help=text, description=text, flags=flags, formatter_class=HelpFormatter,
                       parents=[global_flags(sub_command=True)], **(default_command if name == "run" else {}))
    sub.choices["run"].add_argument("--version", action="version", version=f"trm-demo {__version__}")
    return tree


def parse_args(argv: list[str], namespace: argparse.Namespace | None = None) -> argparse.Namespace:
    """The command line as one namespace: `command` (and `puzzle_command`), the global flags, the command's flags."""
    tree = command_tree()
    args, extras = tree.parse_known_args(with_command(argv), namespace)
    if extras:
        raise UsageError(not_taken(tree, args, extras))
    return args


def with_command(argv: list[str]) -> list[str]:
    """`run` is implied when the first word after the global flags is a flag, or there is none:
    `trm-demo --quiet --seed 3` is `trm-demo --quiet run --seed 3`, `trm-demo --help` is run's help."""
    first = next((i for i, word in enumerate(argv) if word not in GLOBAL_FLAGS), len(argv))
    if first == len(argv) or argv[first].startswith("-"):
        return [*argv[:first], "run", *argv[first:]]
    return argv


def not_taken(tree: OneLineParser, args: argparse.Namespace, extras: list[str]) -> str:
    """One line for words the chosen command does not take: a command after flags, another command's flag
    (naming the commands that take it), an unknown flag (with the nearest one it takes), or argparse's
    'unrecognized arguments'."""
    command = " ".join(filter(None, (args.command, getattr(args, "puzzle_command", None))))
    prog, first = invocation(), extras[0]
    if first in COMMANDS:
        return (f"`{first}` must come before the other flags (only the global flags {', '.join(GLOBAL_FLAGS)} "
                f"may precede it): `{prog} {first} ...`")
    flag = first.split("=")[0]
    by_command = flags_by_command(tree)
    owners = [name for name, flags in by_command.items() if flag in flags]
    help_hint = f"see `{prog} {command} --help` for the flags it takes"
    if first.startswith("-") and owners and command not in owners:
        hint = INSTEAD.get((command, flag), help_hint)
        return f"{flag} does not apply to `{command}` (it is a flag of {', '.join(f'`{o}`' for o in owners)}); {hint}"
    if flag.startswith("--") and not owners:
        return f"unknown flag {flag}{suggest_flag(flag, by_command.get(command, ()))}; {help_hint}"
    return f"unrecognized arguments: {' '.join(extras)} (see --help)"


def flags_by_command(parser: argparse.ArgumentParser, name: str = "") -> dict[str, set[str]]:
    """Command ("run", "puzzle train", ...) -> its flags, every parser of the tree built (an error path only)."""
    found = {name: {o for a in parser._actions for o in a.option_strings}} if name else {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, child in action.choices.items():
                if isinstance(child, CommandParser):
                    child.with_flags()
                found.update(flags_by_command(child, f"{name} {word}".strip()))
    return found


if __name__ == "__main__":
    launch()
