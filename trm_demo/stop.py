"""How a run stops early: Ctrl-C, SIGTERM, a closed pipe, a terminal that cannot show a character.

Imported before NumPy by the entry point (trm_demo/__main__.py), so even a stop
during start-up gives one line instead of a traceback. Exit codes:
130 for Ctrl-C (SIGINT) and 143 for SIGTERM, the shell's 128 + signal number, so a
caller can tell who stopped the run; 141 (128 + SIGPIPE) when the reader of
stdout went away (`| head -1`), silently, as `yes | head -1` does.

SIGTERM raises `Terminated`, a KeyboardInterrupt, so every cleanup that runs on
Ctrl-C (temps removed, worker processes ended) runs on SIGTERM too. A signal the
parent process ignored (a background job of a script ignores SIGINT) stays
ignored, as POSIX expects of every program. The entry point installs the
handlers first, and runs everything after them (process set-up, the slow
imports, the command) inside the one `try` that turns a stop into its line and
exit code. This module imports nothing of trm-demo's: every layer may use it.

The environment failing under us (a full disk, `> /dev/full`, a closed stdout
`>&-`) is one line naming the file and the reason, exit 1, not an "internal
error": stdout's write errors name it (`<stdout>`), as atomic.py names the
output file a write failed on, and `environment_error` words the line.

A command that finished leaves through `leave`: exit handlers run, streams flushed, then the process ends
without Python's teardown of every object (~50 ms CPU of a default run).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import errno
import os
import signal
import sys
import threading

INTERRUPTED = "stopped before finishing; every output file is either its previous version or complete"
EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGPIPE = 130, 143, 141

# What an ASCII-only terminal shows instead of the few non-ASCII characters the output uses.
_ASCII = {"±": "+/-", "×": "x", "—": "-", "–": "-", "…": "...", "≥": ">=", "≤": "<=", "→": "->", "·": "-",
          "≈": "~", "✓": "ok", "−": "-"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that cleanup runs as on Ctrl-C."""


_stopping: dict = {"code": None, "said": False}   # set by the first stop; read by a second one


def _first_stop(signum, frame):
    """The first Ctrl-C or SIGTERM is raised where the program is, so that its cleanup runs. A second one, while
    that cleanup (or Python's wait for the LLM reader's threads) runs, ends the process at once with the same
    line and code, instead of a traceback from inside the cleanup: every output is still its previous version
    or complete (renames are atomic), and the next run removes a temp left behind."""
    stop = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    _stopping["code"] = EXIT_SIGTERM if stop is Terminated else EXIT_SIGINT
    for other in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(other) is _first_stop:
            signal.signal(other, _second_stop)
    raise stop


def _second_stop(signum, frame):
    code = _stopping["code"]
    if not _stopping["said"]:
        print(f"{'terminated' if code == EXIT_SIGTERM else 'interrupted'}: {INTERRUPTED}", file=sys.stderr)
    os._exit(code)


def install() -> None:
    """SIGTERM like Ctrl-C (both through _first_stop); stdout and stderr that never crash on a character they
    cannot encode."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _first_stop)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _first_stop)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="trm_demo_ascii")
    sys.stdout = _ClosedStdout() if sys.stdout is None else _NamedStdout(sys.stdout)


STDOUT = "<stdout>"


class _NamedStdout:
    """sys.stdout, whose write errors name it: `environment_error` can then say "standard output"."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._named(self._stream.write, text)

    def flush(self):
        return self._named(self._stream.flush)

    def _named(self, call, *args):
        try:
            return call(*args)
        except OSError as err:
            if err.filename is not None:
                raise
            raise OSError(err.errno, err.strerror or str(err), STDOUT) from None   # EPIPE stays BrokenPipeError

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _ClosedStdout:
    """What Python leaves as sys.stdout when descriptor 1 is closed (`>&-`) is None, which
    print() silently ignores and .write() turns into an AttributeError: this says what happened."""
    encoding, errors = "utf-8", "strict"

    def write(self, text):
        raise OSError(errno.EBADF, "it is closed (the command was started with >&-)", STDOUT)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        raise OSError(errno.EBADF, "it is closed", STDOUT)


def environment_error(err: OSError) -> str:
    """One line for a file or stream the environment broke: which one, and why."""
    reason = err.strerror or str(err)
    if err.filename == STDOUT:
        return f"cannot write to standard output: {reason}"
    name = err.filename2 if err.filename2 is not None else err.filename   # a rename: the target
    text = os.fsdecode(name) if isinstance(name, bytes) else str(name)
    shown = text if len(text) <= 120 else f"{text[:60]}...{text[-57:]}"
    return f"'{shown}': {reason}"


def worker_signals() -> None:
    """In a worker process: the parent handles Ctrl-C and ends its workers; SIGTERM ends a worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def stops_held():
    """Ctrl-C and SIGTERM wait for the block to end, then act as they would have (through the handler in place).

    For standard-library calls that must not stop halfway: a KeyboardInterrupt raised inside them can leave one
    of their locks held, and whatever takes it later waits forever (a --seeds run stopped while it submitted its
    seeds hung in the executor's shutdown, 2 runs in 20 on a loaded machine). Handlers run in the main thread
    only, so elsewhere this holds nothing; a signal left at its default (or ignored) is not touched."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    held: list = []
    for signum, handler in previous.items():
        if callable(handler):
            signal.signal(signum, lambda *caught: held.append(caught))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if callable(handler):
                signal.signal(signum, handler)
        if held:
            previous[held[0][0]](*held[0])   # the first stop, now: it raises where the program is


def exit_code(stop: KeyboardInterrupt) -> int:
    """One line on stderr for Ctrl-C or SIGTERM; the exit code the shell would give for that signal."""
    terminated = isinstance(stop, Terminated)
    print(f"{'terminated' if terminated else 'interrupted'}: {INTERRUPTED}", file=sys.stderr)
    _stopping["said"] = True
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


def flush_stdout(code: int) -> int:
    """Flush here, where a failure can still be one line: at exit Python would print a traceback-like note."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return broken_pipe()
    except OSError as err:   # > /dev/full: the last buffered output does not fit
        print(f"error: {environment_error(err)}", file=sys.stderr)
        broken_pipe()   # the unwritten buffer goes to /dev/null at exit, not into a second error
        return code or 1
    return code


def leave(code: int) -> None:
    """Exit with `code` once the command is done, without tearing the interpreter down object by object: freeing
    every module, array and record one at a time costs ~50 ms CPU of a default run (issue 24; the OS frees the
    whole process at once). The exit handlers still run and both streams are flushed first. A process with
    another thread alive, or under a profiler or tracer (cProfile, coverage: they write their results at
    teardown), exits the usual way."""
    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a pipe closed meanwhile (flush_stdout said so already), a closed stream
            pass
    os._exit(code)
