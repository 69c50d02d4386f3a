"""A SQLite cache of readings, keyed by a hash of the canonical request.

The key covers everything that decides the model's answer: base URL, model,
messages, sampling parameters and prompt version. A reading made by another
model or prompt version is therefore never reused, even in a shared file; the
`meta` table lists which (model, prompt version) pairs a file holds, for a
human looking at it. Only successful readings are stored: a timeout or a 503
says nothing about the candidate and is retried on the next run.

Each reading is written in its own transaction, so a Ctrl-C or a crash leaves
every row whole (SQLite's rollback journal undoes a half-done write). The API
key is not part of a request and never reaches this file.

The file is an output of the run: the command line checks its path like the
others (outputs.check_paths); here, a symlink or a file with a second name (a
hard link) is refused, since SQLite would write through it into another file.
A file SQLite cannot use (not a database, corrupt, another schema, a directory,
read-only, locked) is a CacheError, one line; a row whose probability is not a
number in [0, 1] is skipped (read again) and counted in `skipped`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
from pathlib import Path

from .request import Reading

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (model TEXT NOT NULL, prompt_version TEXT NOT NULL,
                                 PRIMARY KEY (model, prompt_version));
CREATE TABLE IF NOT EXISTS readings (key TEXT PRIMARY KEY, probability REAL NOT NULL, method TEXT NOT NULL,
                                     input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
                                     cost REAL NOT NULL, latency_ms REAL NOT NULL);
"""


class CacheError(ValueError):
    """The cache file cannot be used: one line that says what to do."""


FIX = "move the file away, or point llm.cache_path at a new file"


def request_key(base_url: str, model: str, messages: list[dict], parameters: dict, prompt_version: str) -> str:
    """sha256 of the request as canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps({"base_url": base_url.rstrip("/"), "model": model, "messages": messages,
                            "parameters": parameters, "prompt_version": prompt_version},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReadingCache:
    """get/put by key; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | Path, model: str, prompt_version: str):
        self.path = Path(path)
        self.skipped = 0   # rows that were not a reading (a probability that is not a number in [0, 1])
        self._lock = threading.Lock()
        _check_plain_file(self.path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
        except sqlite3.Error as err:   # a directory, a missing or unreadable directory
            raise self._error(err) from None
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise CacheError(f"llm.cache_path '{self.path}' is an LLM cache of schema version {version}, this "
                                 f"trm-demo reads version {SCHEMA_VERSION}; {FIX}")
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:   # someone else's database: never add our tables to it
                raise CacheError(f"llm.cache_path '{self.path}' is a SQLite database but not an LLM cache; {FIX}")
            self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (model, prompt_version))
        except CacheError:
            self._db.close()
            raise
        except sqlite3.Error as err:   # not a SQLite file, corrupt, read-only, locked by another writer...
            self._db.close()
            raise self._error(err) from None

    def _error(self, err: sqlite3.Error) -> CacheError:
        return CacheError(f"llm.cache_path '{self.path}' cannot be used as the LLM cache ({err}); {FIX}")

    def get(self, key: str) -> Reading | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT probability, method, input_tokens, output_tokens, cost, latency_ms "
                                       "FROM readings WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as err:   # corrupted after it opened
            raise self._error(err) from None
        if row is None:
            return None
        probability, method, input_tokens, output_tokens, cost, latency_ms = row
        if not _is_probability(probability) or not all(_is_amount(v) for v in (input_tokens, output_tokens,
                                                                                  cost, latency_ms)):
            self.skipped += 1   # someone else's row: read it again rather than trust it
            return None
        return Reading(probability=float(probability), method=str(method), input_tokens=int(input_tokens),
                       output_tokens=int(output_tokens), cost=float(cost), latency_ms=float(latency_ms))

    def put(self, key: str, reading: Reading) -> None:
        """Store a successful reading, committed before returning."""
        if not reading.ok:
            raise ValueError("only successful readings are cached")
        try:
            with self._lock, self._db:   # the connection as context manager: commit, or roll back on any exception
                self._db.execute("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (key, reading.probability, reading.method, reading.input_tokens,
                                  reading.output_tokens, reading.cost, reading.latency_ms))
        except sqlite3.Error as err:   # the disk filled up, the file turned read-only or another process locks it
            raise self._error(err) from None

    def pairs(self) -> list[tuple[str, str]]:
        """The (model, prompt version) pairs of every reader that has opened this file."""
        with self._lock:
            return self._db.execute("SELECT model, prompt_version FROM meta ORDER BY 1, 2").fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _check_plain_file(path: Path) -> None:
    """A symlink or a hard link would let SQLite turn another file into a database: refuse both."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise CacheError(f"llm.cache_path '{path}': {err.strerror}; {FIX}") from None
    if os.path.islink(path):
        raise CacheError(f"llm.cache_path '{path}' is a symbolic link; give the cache a path of its own")
    if info.st_nlink > 1:
        raise CacheError(f"llm.cache_path '{path}' has another name (a hard link); give the cache a path of its own")


def _is_probability(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _is_amount(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
