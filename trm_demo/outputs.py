"""One check of every output path before any work, shared by the funnel and `puzzle` commands.

Refused, each with one line naming the flag: an output that is also an input or
another output (compared after following symlinks, and as the same file when a
hard link gives it two names), a path inside trm-demo's own files (the package
directory and the directory of the default config and its examples: an output
there would replace the code, a shipped checkpoint or the config every run
reads; the shipped checkpoints only through --replace-shipped), an existing
output that is not a regular file (a FIFO, /dev/null, a socket or a directory
would be replaced by a regular file), a path that names a directory (a trailing
'/', '.' or '..'), a name too long for its directory, a missing or read-only
directory.

Two steps, so that a refused run changes nothing on disk:
- `check_paths` only looks (stat, lstat, access); it changes nothing;
- the `prepare` it returns is called once every input (config, checkpoint) has
  been validated: it creates the shipped default directories (`assets/`), tries
  a temp file in each output directory (os.access says yes to root even on a
  read-only filesystem) and removes temps left by earlier killed runs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from trm_demo.atomic import remove_stale_temps, temp_prefix
from trm_demo.errors import OutputPathError

# mkstemp's random part and ".tmp" on top of temp_prefix().
_TEMP_SUFFIX_BYTES = 8 + len(".tmp")


def show_path(path) -> str:
    """A path fit for a one-line message (an attacker's path can be kilobytes long), as config.py clips it."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-57:]}"


def package_directories() -> list[Path]:
    """trm-demo's own files: the package (code, shipped checkpoints) and the default config with its examples."""
    from trm_demo import config   # late: config imports yaml; this module is imported by the entry points
    package = Path(__file__).resolve().parent
    defaults = config.DEFAULT_CONFIG_PATH.resolve().parent
    return [package] if defaults.is_relative_to(package) else [package, defaults]


def check_paths(outputs: dict[str, str | Path], inputs: dict[str, str | Path],
                may_create: set[Path] = frozenset(), replace_shipped: set[str] = frozenset(),
                make_dirs: str | None = None) -> Callable[[], None]:
    """outputs and inputs: flag -> path as typed. Changes nothing; returns `prepare`, to call once every input
    has been validated. Directories in may_create (shipped defaults such as `assets/`) are created by `prepare`.
    replace_shipped: flags whose path may be a shipped checkpoint (commands.checkpoint_output allowed it).
    make_dirs: the command's flag that creates missing directories, named in the refusal of one."""
    seen: dict[object, str] = {}
    for flag, path in inputs.items():
        key = _identity(Path(path))
        if key is not None:
            seen.setdefault(key, f"the input {flag} '{show_path(path)}'")
    own = _OwnFiles()
    for flag, raw in outputs.items():
        where = f"{flag} '{show_path(raw)}'"
        _check_names_a_file(where, raw)
        path = Path(raw)
        _check_one(where, path, may_create, make_dirs)
        if not (flag in replace_shipped and _is_shipped(path)):
            own.refuse(where, flag, path)
        key = _identity(path)
        if key in seen:
            raise OutputPathError(f"{where} is also {seen[key]}; give each output its own file")
        seen[key] = f"the {flag} path"
    paths = {flag: Path(raw) for flag, raw in outputs.items()}
    return lambda: _prepare(paths, may_create)


def _prepare(outputs: dict[str, Path], may_create: set[Path]) -> None:
    """After every input was validated: directories created, each tried for writing, stale temps removed."""
    for flag, path in outputs.items():   # existing directories first: a refusal here has created nothing
        if path.parent.is_dir():
            _check_can_create_in(f"{flag} '{show_path(path)}'", path.parent, path)
    for flag, path in outputs.items():
        if not path.parent.is_dir() and path.parent in may_create:
            _make_directory(path.parent)
            _check_can_create_in(f"{flag} '{show_path(path)}'", path.parent, path)
    for path in outputs.values():
        remove_stale_temps(path)


def _check_names_a_file(where: str, raw) -> None:
    """'dir/', 'dir/.' and '..' name a directory; pathlib would quietly drop the '/' or '.' and write a file."""
    text = os.fspath(raw)
    if not text or text.endswith(os.sep) or (os.altsep and text.endswith(os.altsep)) \
            or os.path.basename(text) in (".", ".."):
        raise OutputPathError(f"{where} names a directory, not a file; add a file name to the path")


class _OwnFiles:
    """Refuses outputs inside trm-demo's own files, by resolved path or as a hard link to one of them."""

    def __init__(self):
        self.directories = package_directories()
        self._inodes: dict[tuple[int, int], Path] | None = None   # walked only when an output has hard links

    def refuse(self, where: str, flag: str, path: Path) -> None:
        resolved = Path(os.path.realpath(path))
        inside = next((d for d in self.directories if resolved.is_relative_to(d)), None)
        if inside is None:
            inside = self._hard_link_into(path)
        if inside is not None:
            raise OutputPathError(f"{where} is inside trm-demo's own files ('{show_path(inside)}'), which every "
                                  f"run reads; give {flag} a path outside it, e.g. in the working directory")

    def _hard_link_into(self, path: Path) -> Path | None:
        try:
            info = path.stat()
        except OSError:
            return None
        if info.st_nlink < 2:
            return None
        if self._inodes is None:
            self._inodes = {}
            for directory in self.directories:
                for root, _, files in os.walk(directory):
                    for name in files:
                        try:
                            found = os.stat(os.path.join(root, name), follow_symlinks=False)
                        except OSError:
                            continue
                        self._inodes[(found.st_dev, found.st_ino)] = directory
        return self._inodes.get((info.st_dev, info.st_ino))


def _is_shipped(path: Path) -> bool:
    from trm_demo.trm.weights import is_shipped   # late: weights imports NumPy
    return is_shipped(path)


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputPathError(f"cannot create output directory '{show_path(directory)}': {err.strerror}") from None


def _identity(path: Path):
    """Same identity = same file: (device, inode) of an existing file, else the resolved path."""
    try:
        info = path.stat()
        return info.st_dev, info.st_ino
    except FileNotFoundError:
        return os.path.realpath(path)
    except OSError:
        return None   # unreadable input: its own loader reports it; outputs are checked by _check_one


def _check_one(where: str, path: Path, may_create: set[Path], make_dirs: str | None) -> None:
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
        return   # created, then tried, by prepare
    if not directory.is_dir():
        raise OutputPathError(f"{where}: directory '{show_path(directory)}' does not exist; "
                              f"create it{f', add {make_dirs}' if make_dirs else ''} or choose another path")
    _check_name_length(where, path)
    if not os.access(directory, os.W_OK | os.X_OK):   # a first look; prepare tries it for real
        raise OutputPathError(f"{where}: directory '{show_path(directory)}' is not writable; choose another path")


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
        raise OutputPathError(f"{where}: directory '{show_path(directory)}' is not writable ({err.strerror}); "
                              "choose another path") from None
    os.close(fd)
    os.unlink(probe)


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")
