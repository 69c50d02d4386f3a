"""A memo of the fine-tuned model: a rerun of the same inputs reuses the weights instead of training again.

Fine-tuning is a pure function of the starting checkpoint's bytes, the model and training knobs, the market the
logs are drawn from, the seed, the training code and the numerics that round it (NumPy, the BLAS kernel and
threads, the SIMD level: process.numerics). The key is a SHA-256 over all of them, so any change trains afresh.
The entry is a checkpoint file (weights.save_checkpoint: written atomically) under `.trm_demo_cache/` in the
working directory, holding the fine-tuned weights and fine_tune's record (everything but its wall clock);
it is read back with every check of weights.load_checkpoint plus its key. A damaged or foreign entry is
reported in one line and rebuilt; `--no-cache` skips the memo. The folder keeps the MAX_ENTRIES most recently
written entries (~120 KB each): a user who edits knobs all afternoon does not fill the disk.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from trm_demo import __version__, process
from trm_demo.errors import CheckpointError, OutputPathError
from trm_demo.outputs import check_paths, package_directories
from trm_demo.trm import engine, optimiser, training, weights
from trm_demo.trm.weights import TRM

CACHE_DIR = Path(".trm_demo_cache")   # in the working directory, like the run's other outputs (git-ignored)
# The code whose rounding the weights depend on: a change to any of it is a new key.
TRAINING_CODE = [Path(m.__file__) for m in (engine, optimiser, training, weights)]
MAX_ENTRIES = 16
# The entry's layout, in the key: an entry of another layout is a miss, never a misread. 2: the record as JSON text
# (a checkpoint's metadata is written with sorted keys; the record keeps its own order, so training.json is the
# same bytes from the memo as from training).
FORMAT = 2


def memo_key(source: dict | None, inputs: dict) -> str:
    """SHA-256 of what fine-tuning reads: the checkpoint's digest (None: the seeded init), `inputs` (config
    sections and seed, JSON-able), the training code and the numerics."""
    digest = hashlib.sha256()
    stamp = {"format": FORMAT, "checkpoint": source and source["sha256"], "inputs": inputs, "trm_demo": __version__,
             "numpy": np.__version__, "numerics": process.numerics()}
    digest.update(json.dumps(stamp, sort_keys=True).encode())
    for path in TRAINING_CODE:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def entry_path(key: str) -> Path:
    return CACHE_DIR / f"fine_tuned-{key[:32]}.npz"


def recall(model: TRM, key: str, warn) -> dict | None:
    """fine_tune's record from the memo, with `model`'s weights replaced by the memo's; None on a miss.
    An entry that fails a check is named in one `warn` line and treated as a miss (then rebuilt)."""
    path = entry_path(key)
    if not path.exists():
        return None
    try:
        cached, metadata = weights.load_checkpoint(path, expected=model.spec)
        record = _record(metadata.get("fine_tune")) if metadata.get("memo_key") == key else None
        if record is None:
            raise CheckpointError(f"checkpoint '{path}' is not the memo of this run's fine-tuning")
    except CheckpointError as err:
        warn(f"fine-tuning memo unusable, training again and replacing it: {err}")
        return None
    model.params, model.ema = cached.params, cached.ema
    return record


def _record(text) -> dict | None:
    """The stored record (JSON text, see FORMAT), or None if it is not one (NaN or infinity included)."""
    def refuse(constant: str):
        raise ValueError(constant)

    try:
        record = json.loads(text, parse_constant=refuse) if isinstance(text, str) else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def remember(model: TRM, key: str, record: dict, warn) -> None:
    """Store the fine-tuned weights and `record` under `key`; a cache folder that cannot be written (or that
    the output rules refuse) costs one `warn` line, never the run."""
    path = entry_path(key)
    try:
        if path.parent.resolve() not in package_directories():   # never a folder among trm-demo's own files
            path.parent.mkdir(exist_ok=True)
        check_paths({"the fine-tuning memo": path}, {})   # the run's output rules: a regular file, writable, ...
        weights.save_checkpoint(path, model, {"kind": "fine-tuning memo", "memo_key": key,
                                             "fine_tune": json.dumps(record)})
        prune(path.parent, keep=path)
    except (OSError, OutputPathError) as err:
        warn(f"fine-tuning memo not written ({err}); pass --no-cache to skip it")


def prune(folder: Path, keep: Path) -> None:
    """Delete all but the MAX_ENTRIES newest entries (by modification time); `keep`, just written, stays."""
    entries = sorted((p for p in folder.glob("fine_tuned-*.npz") if p.is_file() and not p.is_symlink()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        if old != keep:
            old.unlink(missing_ok=True)
