"""One check of every output path before any work, shared by the funnel and `puzzle` commands.

Refused, each with one line naming the flag: an output that is also an input or
another output (compared after following symlinks, and as the same file when a
hard link gives it two names), an existing output that is not a regular file
(a FIFO, /dev/null, a socket or a directory would be replaced by a regular
file), a name too long for its directory, a missing or read-only directory.
So a run that starts can write all of its outputs, and a run that is refused
has changed nothing. The check also removes temps left by earlier killed runs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .atomic import remove_stale_temps, temp_prefix

# mkstemp's random part and ".tmp" on top of temp_prefix().
_TEMP_SUFFIX_BYTES = 8 + len(".tmp")


class OutputPathError(Exception):
    """An output path that must not be written: exit code 2, one line."""


def check_paths(outputs: dict[str, Path], inputs: dict[str, Path], may_create: set[Path] = frozenset()) -> None:
    """outputs and inputs: flag -> path. Directories in may_create (shipped defaults such as `assets/`)
    are created, only once every other check has passed: a refused run creates nothing."""
    seen: dict[object, str] = {}
    for flag, path in inputs.items():
        key = _identity(Path(path))
        if key is not None:
            seen.setdefault(key, f"the input {flag} '{path}'")
    for flag, path in outputs.items():
        path = Path(path)
        where = f"{flag} '{path}'"
        _check_one(where, path, may_create)
        key = _identity(path)
        if key in seen:
            raise OutputPathError(f"{where} is also {seen[key]}; give each output its own file")
        seen[key] = f"the {flag} path"
    for flag, path in outputs.items():
        path = Path(path)
        if path.parent in may_create and not path.parent.is_dir():
            _make_directory(path.parent)
            _check_can_create_in(f"{flag} '{path}'", path.parent, path)
        remove_stale_temps(path)


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputPathError(f"cannot create output directory '{directory}': {err.strerror}") from None


def _identity(path: Path):
    """Same identity = same file: (device, inode) of an existing file, else the resolved path."""
    try:
        info = path.stat()
        return info.st_dev, info.st_ino
    except FileNotFoundError:
        return os.path.realpath(path)
    except OSError:
        return None   # unreadable input: its own loader reports it; outputs are checked by _check_one


def _check_one(where: str, path: Path, may_create: set[Path]) -> None:
    directory = path.parent
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:   # ENAMETOOLONG, ELOOP (symlink loop), EACCES, ENOTDIR
        raise OutputPathError(f"{where}: {err.strerror}; choose another path") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputPathError(f"{where} is {_kind(info.st_mode)}, not a regular file; give a file path")
    if not directory.is_dir() and directory in may_create:
        return   # checked once created
    if not directory.is_dir():
        raise OutputPathError(f"{where}: directory '{directory}' does not exist; create it or choose another path")
    _check_name_length(where, path)
    _check_can_create_in(where, directory, path)


def _check_name_length(where: str, path: Path) -> None:
    """The temp name is longer than the target's: it must fit in the directory too."""
    try:
        limit = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    needed = len(os.fsencode(temp_prefix(path))) + _TEMP_SUFFIX_BYTES
    if needed > limit:
        raise OutputPathError(f"{where}: file name too long ({len(os.fsencode(path.name))} bytes; at most "
                              f"{limit - needed + len(os.fsencode(path.name))} here); choose a shorter name")


def _check_can_create_in(where: str, directory: Path, path: Path) -> None:
    """Try it: os.access answers yes for root even on read-only or virtual filesystems (/proc, /sys)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=directory)
    except OSError as err:
        raise OutputPathError(f"{where}: directory '{directory}' is not writable ({err.strerror}); "
                              "choose another path") from None
    os.close(fd)
    os.unlink(probe)


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")
