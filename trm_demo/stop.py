"""How a run stops early: Ctrl-C, SIGTERM, a closed pipe, a terminal that cannot show a character.

Imported before NumPy (main.py, `python -m trm_demo`, the `trm-demo` script), so
even a stop during start-up gives one line instead of a traceback. Exit codes:
130 for Ctrl-C (SIGINT) and 143 for SIGTERM, the shell's 128 + signal number, so a
caller can tell who stopped the run; 141 (128 + SIGPIPE) when the reader of
stdout went away (`| head -1`), silently, as `yes | head -1` does.

SIGTERM raises `Terminated`, a KeyboardInterrupt, so every cleanup that runs on
Ctrl-C (temps removed, worker processes ended) runs on SIGTERM too. A signal the
parent process ignored (a background job of a script ignores SIGINT) stays
ignored, as POSIX expects of every program.
"""

from __future__ import annotations

import codecs
import os
import signal
import sys

from .process import prepare_process

INTERRUPTED = "stopped before finishing; every output file is either its previous version or complete"
EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGPIPE = 130, 143, 141

# What an ASCII-only terminal shows instead of the few non-ASCII characters the output uses.
_ASCII = {"±": "+/-", "×": "x", "—": "-", "–": "-", "…": "...", "≥": ">=", "≤": "<=", "→": "->", "·": "-",
          "≈": "~", "✓": "ok", "−": "-"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that cleanup runs as on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated


def install() -> None:
    """SIGTERM like Ctrl-C; stdout and stderr that never crash on a character they cannot encode."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="trm_demo_ascii")


def worker_signals() -> None:
    """In a worker process: the parent handles Ctrl-C and ends its workers; SIGTERM ends a worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def exit_code(stop: KeyboardInterrupt) -> int:
    """One line on stderr for Ctrl-C or SIGTERM; the exit code the shell would give for that signal."""
    terminated = isinstance(stop, Terminated)
    print(f"{'terminated' if terminated else 'interrupted'}: {INTERRUPTED}", file=sys.stderr)
    return EXIT_SIGTERM if terminated else EXIT_SIGINT


def broken_pipe() -> int:
    """The reader went away: no message (there is no one to read it), and no second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())   # Python flushes stdout at exit: let that go nowhere
    return EXIT_SIGPIPE


def _ascii_fallback(err: UnicodeEncodeError):
    text = err.object[err.start:err.end]
    return "".join(_ASCII.get(char, "?") for char in text), err.end


codecs.register_error("trm_demo_ascii", _ascii_fallback)


def launch() -> None:
    """Entry point of every way to start the program: handlers first, then the (slow) imports, then run."""
    install()
    prepare_process()   # before NumPy loads: OpenBLAS reads its kernel and thread settings once
    try:
        from .cli import main
        code = main()
    except KeyboardInterrupt as stop:   # during start-up; once running, cli.guarded handles it
        code = exit_code(stop)
    sys.exit(code)
