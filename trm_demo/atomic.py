"""Atomic file output: a crash, kill -9 or Ctrl-C leaves the old file or the new one, never half of one.

Everything is written to a temporary file in the target's directory (so the
final rename stays on one filesystem), flushed to disk, then renamed over the
target in one step. The temp is made by `tempfile.mkstemp`: an unpredictable
name opened with O_CREAT | O_EXCL | O_NOFOLLOW, so a file or symlink planted
under a guessable name can neither be reused nor redirect the write. It is
removed on every exit path Python sees (an exception, Ctrl-C, SIGTERM, a full
disk); what a kill -9 leaves behind is removed by `remove_stale_temps` at the
next run that writes the same target.

Inside `staged()` the renames are deferred: every output is first completed as
a temp, then all are renamed together when the block ends, so a failure in
any one of them replaces none. Before the first rename, every target is checked
again (still a regular file or absent, its directory still writable, its temp
still there): a target that became a directory during the run (`mkdir
report.md`) fails the run before any output is replaced. What changes between
that check and the renames (microseconds) is not covered: POSIX has no
rename of several files in one step.

A write error (a full disk, a quota, an I/O error) names the target file, so
the command line can say which file and why in one line (cli.guarded).
"""

from __future__ import annotations

import contextvars
import errno
import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, IO, Iterator

# mkstemp makes 0600 files; outputs get the usual mode (0666 less the umask) like any file the user creates.
_UMASK = os.umask(0)
os.umask(_UMASK)
_MODE = 0o666 & ~_UMASK

# Errors of the storage itself; others (a connection refused inside a streamed log) are not about the file.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}

# Temps pending a rename, while a staged() block is open.
_staging: contextvars.ContextVar[list | None] = contextvars.ContextVar("staging", default=None)


def temp_prefix(path: Path) -> str:
    """`.NAME.PID.` + mkstemp's random part + `.tmp`; the pid lets a later run tell a dead run's temp."""
    return f".{path.name}.{os.getpid()}."


def _stale_pattern(path: Path) -> re.Pattern:
    # Also matches the older fixed name `.NAME.PID.tmp`.
    return re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.(?:[a-z0-9_]+\.)?tmp")


@contextmanager
def atomic_file(path: str | Path, binary: bool = False) -> Iterator[IO]:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _MODE)
            os.fsync(handle.fileno())
        pending = _staging.get()
        if pending is None:
            os.replace(tmp, path)
        else:
            pending.append((tmp, path))
    except OSError as err:
        # Also when close() itself failed (a full disk surfaces at the last flush): the temp goes.
        Path(tmp).unlink(missing_ok=True)
        if err.filename is None and err.errno in _STORAGE_ERRORS:   # write(), flush(), fsync(), close()
            raise _naming(err, path) from err                          # name no file: this one was written
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _naming(err: OSError, path: Path) -> OSError:
    """The same error (same errno, same subclass: ENOSPC stays an OSError), naming the file being written."""
    return OSError(err.errno, err.strerror or str(err), str(path))


@contextmanager
def staged() -> Iterator[None]:
    """Outputs written inside the block are renamed into place together when it ends without error."""
    pending: list[tuple[str, Path]] = []
    token = _staging.set(pending)
    try:
        try:
            yield
        finally:
            _staging.reset(token)
        for tmp, path in pending:   # all can still be replaced, or none is
            _check_replaceable(tmp, path)
        while pending:
            os.replace(*pending[0])
            pending.pop(0)
    finally:   # the block failed, or a rename did: the temps not yet renamed go
        for tmp, _ in pending:
            Path(tmp).unlink(missing_ok=True)


def _check_replaceable(tmp: str, path: Path) -> None:
    """The target is still a regular file or absent, its directory writable, and our temp still there."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise OSError(err.errno, f"{err.strerror} (it changed during the run); no output was replaced",
                      str(path)) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        code = errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EEXIST
        what = "a directory" if code == errno.EISDIR else "not a regular file"
        raise OSError(code, f"became {what} during the run; no output was replaced", str(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OSError(errno.EACCES, "its directory became read-only during the run; no output was replaced",
                      str(path))
    try:
        os.lstat(tmp)
    except OSError:
        raise OSError(errno.ENOENT, "its finished temp file was removed during the run; no output was replaced",
                      str(path)) from None


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove temps of `path` left by earlier runs that were killed: ours, regular files, their pid gone."""
    directory = path.parent if str(path.parent) else Path(".")
    pattern, removed = _stale_pattern(path), []
    try:
        candidates = [entry for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except OSError:
        return removed
    for entry in candidates:
        info = entry.stat(follow_symlinks=False)
        pid = int(pattern.fullmatch(entry.name).group(1))
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not _alive(pid):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:   # exists, owned by another user
        return True
    return True


def atomic_write(path: str | Path, writer: Callable[[IO], object], binary: bool = False) -> None:
    with atomic_file(path, binary) as handle:
        writer(handle)


def json_text(data) -> str:
    """The one JSON style of every output file and of --json: indented, strict (no NaN or Infinity)."""
    return json.dumps(data, indent=2, allow_nan=False)


def write_json(path: str | Path, data) -> None:
    atomic_write(path, lambda f: f.write(json_text(data) + "\n"))


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))
