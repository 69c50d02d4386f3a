"""What every command shares: the global flags, a parser that fails in one line, the help formatter, the number
type, --json printing, checkpoint outputs, and `guarded`, which maps what goes wrong to exit codes: 0 success,
1 internal failure (traceback only with --debug), 2 bad input (errors.BAD_INPUT: one line naming the flag, key
or file, the value and what is allowed), 130 Ctrl-C, 143 SIGTERM, 141 stdout closed by its reader (stop.py).

Imported by every command, so it imports no model, funnel or YAML loader: the config and the weights only
late, in the functions that need them.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Callable

from trm_demo.atomic import json_text
from trm_demo.errors import BAD_INPUT, CheckpointError, UsageError, WorkerDied
from trm_demo.outputs import show_path
from trm_demo.stop import broken_pipe, environment_error, exit_code

# Flags every command takes, before or after its sub-command: `--quiet puzzle eval` = `puzzle eval --quiet`,
# `--json puzzle eval` = `puzzle --json eval` = `puzzle eval --json`.
GLOBAL_FLAGS = ("--quiet", "--json", "--debug")


def invocation() -> str:
    """The command as the user started it, so that every command we print works where they stand: `trm-demo`
    (the installed script), `python -m trm_demo`, or `python main.py` with main.py's path as they typed it."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name == "trm_demo.__main__":
        return "python -m trm_demo"
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "main.py":
        return f"python {shlex.quote(script)}"
    return "trm-demo"


def command_text(argv: list[str]) -> str:
    """The whole command line as one string to paste (run metadata, checkpoint headers, the report's footer)."""
    return " ".join([invocation(), shlex.join(argv)]).strip()


def suggest_flag(word: str, flags) -> str:
    """' (did you mean --seed?)' for '--seedz', or ''."""
    import difflib   # here: only a mistyped flag needs it (~5 ms of every start-up otherwise)
    close = difflib.get_close_matches(word, sorted(flags), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def global_flags(sub_command: bool = False) -> argparse.ArgumentParser:
    """The global flags as an argparse parent, so every command's --help lists them with the same words. A
    sub-command's copy has no default of its own: it would overwrite what the flag said before the sub-command."""
    common = argparse.ArgumentParser(add_help=False)
    unset = {"default": argparse.SUPPRESS} if sub_command else {}
    common.add_argument("--quiet", action="store_true", **unset,
                        help="no progress bars or messages: print only the result and errors (default: off)")
    common.add_argument("--json", action="store_true", **unset,
                        help="print the command's result as one JSON document on stdout instead of the text; "
                        "progress and messages stay on stderr (default: off)")
    common.add_argument("--debug", action="store_true", **unset,
                        help="show the traceback of an internal error (default: off)")
    return common


def print_json(result) -> None:
    """--json: the command's result as one JSON document on stdout."""
    print(json_text(result))


def checkpoint_remedy(err: CheckpointError, command: str) -> CheckpointError:
    """The checkpoint's problem (weights.py) plus what to run about it: `command` rebuilds the file."""
    remedy = {"create": f"create it with {command}",
              "recreate": f"recreate it with {command}",
              "size": f"use a matching config, or {command}",
              "path": "give the path of a readable .npz checkpoint file"}[err.fix]
    return CheckpointError(f"{err}; {remedy}", err.fix)


def guarded(body: Callable[[], int], args: argparse.Namespace) -> int:
    """Run a command; map what goes wrong to exit codes and one line on stderr. `body` parses the command line
    into `args`: its --debug shows the traceback of an internal error (none while parsing: debug is False)."""
    try:
        return body()
    except BAD_INPUT as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:   # Ctrl-C or SIGTERM (stop.Terminated)
        return exit_code(stop)
    except BrokenPipeError:
        return broken_pipe()
    except WorkerDied as err:   # a --seeds worker killed (kill, out-of-memory killer): not a bug of ours
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - the last line of defence: short message, exit 1
        if args.debug:
            raise
        if isinstance(err, OSError) and err.filename is not None:
            # the environment, not a bug: a full disk, a closed stdout, an output changed during the run
            print(f"error: {environment_error(err)}", file=sys.stderr)
            return 1
        print(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


class OneLineParser(argparse.ArgumentParser):
    """Fails in one line, and takes no abbreviations: `--js` would mean --json to one parser of the tree and
    another flag to the next."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):   # one line, exit 2, instead of usage + error
        raise UsageError(f"{message} (see --help)")


def number_type(kind, lo, hi):
    """An argparse type: a finite number in [lo, hi]. Every numeric flag has both bounds, shown in --help."""
    noun = "a whole number" if kind is int else "a number"
    allowed = f"{noun} in [{lo:,}, {hi:,}]"

    def parse(text):
        try:
            value = kind(text)   # int() refuses thousands of digits itself (ValueError)
        except ValueError:
            problem = ("is out of range" if text.strip().lstrip("+-").isdigit()   # a whole number too long for int()
                       else f"is not {noun}")
            raise argparse.ArgumentTypeError(f"{_clip(text)!r} {problem}; allowed: {allowed}") from None
        # only a float can be NaN or infinite; comparing an int of any size with lo and hi is exact
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{_clip(text)!r} is not a finite number; allowed: {allowed}")
        if not lo <= value <= hi:
            bound = f"≥ {lo:,}" if value < lo else f"≤ {hi:,}"
            raise argparse.ArgumentTypeError(f"{_clip(text)!r} is out of range: it must be {bound}; "
                                             f"allowed: {allowed}")
        return value
    parse.allowed = allowed
    return parse


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends argparse's default only where it means something (not the None of 'use the config'),
    and the allowed range of every numeric flag."""
    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is False and "(default" not in text:   # a switch
            text += " (default: off)"
        elif action.default is not None and "(default" not in text:
            text = super()._get_help_string(action)
        allowed = getattr(action.type, "allowed", None)
        return f"{text}; allowed: {allowed}" if allowed else text


def checkpoint_output(args, path: str, flag: str) -> str:
    """A checkpoint to write; the shipped ones only on request, as every clone and install relies on them."""
    from trm_demo.trm.weights import is_shipped   # late: weights imports NumPy, which `config` never needs
    if is_shipped(path) and not args.replace_shipped:
        raise UsageError(f"{flag} '{show_path(path)}' would write over the checkpoints shipped with trm-demo "
                         "(trm_demo/checkpoints/); write it elsewhere and load it with --checkpoint, "
                         "or add --replace-shipped to rebuild a shipped checkpoint on purpose")
    return path


# --- `config`: the default YAML to copy ---

def add_config_flags(p: argparse.ArgumentParser) -> None:
    p.description = ("Print the default configuration (every knob, its range and meaning) as YAML, e.g. "
                     f"`{invocation()} config > my.yaml`, then `{invocation()} --config my.yaml`.")
    p.add_argument("example", nargs="?", metavar="EXAMPLE",
                   help="print this shipped example instead, a partial file overriding the defaults: one of "
                   f"{', '.join(config_examples())} (default: the whole default configuration)")


def print_config(args: argparse.Namespace) -> int:
    """`config [EXAMPLE]`: the default YAML (or a shipped example) on stdout, to copy and edit;
    with --json the same content parsed, as JSON."""
    from trm_demo.config import DEFAULT_CONFIG_PATH, read_yaml   # late: only `config` and `run` read YAML
    examples = config_examples()
    if args.example is not None and args.example not in examples:   # checked here: a stray flag is named first
        raise UsageError(f"argument EXAMPLE: invalid choice: {args.example!r} (choose from {', '.join(examples)})")
    path = examples[args.example] if args.example else DEFAULT_CONFIG_PATH
    if args.json:
        print_json(read_yaml(path))
    else:
        sys.stdout.write(as_invoked(path.read_text(encoding="utf-8")))
    return 0


def as_invoked(yaml_text: str) -> str:
    """The shipped YAML's own "run `python main.py --config my.yaml`" as the user runs trm-demo, so the line
    they copy works where they stand (an installed user has no main.py)."""
    return yaml_text.replace("`python main.py ", f"`{invocation()} ")


def config_examples() -> dict[str, Path]:
    """The shipped examples by name, partial files overriding the defaults."""
    from trm_demo.config import DEFAULT_CONFIG_PATH
    return {f.stem: f for f in sorted((DEFAULT_CONFIG_PATH.parent / "examples").glob("*.yaml"))}
