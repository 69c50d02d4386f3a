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
"""

from __future__ import annotations

import hashlib
import json
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
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                self._db.close()
                raise CacheError(f"LLM cache '{self.path}' has schema version {version}, this trm-demo reads "
                                 f"{SCHEMA_VERSION}; move it away or set llm.cache_path")
            self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (model, prompt_version))
        except sqlite3.Error as err:   # not a SQLite file, read-only, locked by another writer...
            raise CacheError(f"LLM cache '{self.path}' cannot be used ({err}); "
                             "move it away or set llm.cache_path") from None

    def get(self, key: str) -> Reading | None:
        with self._lock:
            row = self._db.execute("SELECT probability, method, input_tokens, output_tokens, cost, latency_ms "
                                   "FROM readings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        probability, method, input_tokens, output_tokens, cost, latency_ms = row
        return Reading(probability=probability, method=method, input_tokens=input_tokens,
                       output_tokens=output_tokens, cost=cost, latency_ms=latency_ms)

    def put(self, key: str, reading: Reading) -> None:
        """Store a successful reading, committed before returning."""
        if not reading.ok:
            raise ValueError("only successful readings are cached")
        with self._lock, self._db:   # the connection as context manager: commit, or roll back on any exception
            self._db.execute("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (key, reading.probability, reading.method, reading.input_tokens,
                              reading.output_tokens, reading.cost, reading.latency_ms))

    def pairs(self) -> list[tuple[str, str]]:
        """The (model, prompt version) pairs of every reader that has opened this file."""
        with self._lock:
            return self._db.execute("SELECT model, prompt_version FROM meta ORDER BY 1, 2").fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
