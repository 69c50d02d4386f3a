"""Atomic file output: a crash, kill -9 or Ctrl-C leaves the old file or the new one, never half of one.

Everything is written to a temporary file in the target's directory (so the
final rename stays on one filesystem), flushed to disk, then renamed over the
target in one step.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, IO, Iterator


@contextmanager
def atomic_file(path: str | Path, binary: bool = False) -> Iterator[IO]:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    handle = open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8")
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.replace(tmp, path)
    except BaseException:
        handle.close()
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, writer: Callable[[IO], object], binary: bool = False) -> None:
    with atomic_file(path, binary) as handle:
        writer(handle)


def write_json(path: str | Path, data) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2, allow_nan=False) + "\n"))


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))
