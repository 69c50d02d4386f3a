"""A memo of the fine-tuned model (and of what the run fits on its history with it): a rerun of the same inputs
reuses the weights instead of training again.

Fine-tuning is a pure function of the starting checkpoint's bytes, the model and training knobs, the market the
logs are drawn from, the seed, the training code and the numerics that round it (NumPy, the BLAS kernel and
threads, the SIMD level: process.numerics). The key is a SHA-256 over all of them, so any change trains afresh.
The entry is a checkpoint file (weights.save_checkpoint: written atomically) under `.trm_demo_cache/` in the
working directory, holding the fine-tuned weights and fine_tune's record (everything but its wall clock);
it is read back with every check of weights.load_checkpoint plus its key. A damaged or foreign entry is
reported in one line and rebuilt; `--no-cache` skips the memo. The folder keeps the MAX_ENTRIES most recently
written entries of each kind (~120 KB each): a user who edits knobs all afternoon does not fill the disk.

The same folder keeps what the run derives from those weights and its inputs alone, each a JSON record
(atomic.write_json; floats round-trip exactly) keyed by the fine-tuned weights' bytes, the step cap, the config
but its output paths, the funnel's and the TRM's code and the numerics (`derived_key`) and checked by its caller:
the history's beliefs (simulation.history_beliefs: the keyword reader fitted on the labelled history beside the
TRM's logit, and the set-up rows' belief; ~0.3 s of a rerun) and the break-even map
(landscape.break_even_values; ~0.2 s).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from trm_demo import __version__, process
from trm_demo.atomic import write_json
from trm_demo.errors import CheckpointError, OutputPathError
from trm_demo.outputs import check_paths, package_directories
from trm_demo.trm import engine, optimiser, training, weights
from trm_demo.trm.weights import TRM

CACHE_DIR = Path(".trm_demo_cache")   # in the working directory, like the run's other outputs (git-ignored)
# The code whose rounding the weights depend on: a change to any of it is a new key.
TRAINING_CODE = [Path(m.__file__) for m in (engine, optimiser, training, weights)]
# What the results derived from the weights depend on: every module of the funnel and the TRM, and the config's schema.
PACKAGE = Path(__file__).resolve().parent
DERIVED_CODE = ("funnel/*.py", "trm/*.py", "config.py")
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


def derived_key(model: TRM, step_cap: int, config: dict) -> str:
    """SHA-256 of what a result derived from the fine-tuned model reads: the model's weights (its parameters, EMA
    and buffers: names, dtypes, shapes, bytes), the step cap, the config (Config.to_dict) but where the outputs go
    (a rerun may write elsewhere), the code (DERIVED_CODE) and the numerics."""
    inputs = {name: section for name, section in config.items() if name not in ("report", "subgraph")}
    inputs["llm"] = {knob: value for knob, value in config["llm"].items() if knob != "cache_path"}
    digest = hashlib.sha256()
    stamp = {"format": FORMAT, "step_cap": step_cap, "config": inputs, "trm_demo": __version__,
             "numpy": np.__version__, "numerics": process.numerics()}
    digest.update(json.dumps(stamp, sort_keys=True).encode())
    for group in (model.params, model.ema, model.buffers):
        for name in sorted(group):
            array = np.ascontiguousarray(group[name])
            digest.update(f"{name} {array.dtype} {array.shape}".encode() + array.tobytes())
    for path in sorted(p for pattern in DERIVED_CODE for p in PACKAGE.glob(pattern)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def entry_path(key: str, kind: str = "fine_tuned", suffix: str = ".npz") -> Path:
    return CACHE_DIR / f"{kind}-{key[:32]}{suffix}"


def recall_record(kind: str, key: str, warn) -> dict | None:
    """The JSON record stored under `kind` and `key`; None on a miss. One that is not readable JSON or was stored
    under another key costs one `warn` line and is a miss (the caller checks its contents, and rebuilds)."""
    path = entry_path(key, kind, ".json")
    if not path.exists():
        return None
    try:
        stored = _record(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        stored = None
    if stored is None or stored.get("memo_key") != key or not isinstance(stored.get("record"), dict):
        warn(f"{kind} memo '{path}' unusable, computing again and replacing it")
        return None
    return stored["record"]


def remember_record(kind: str, key: str, record: dict, warn) -> None:
    """Store `record` (JSON-able, finite) under `kind` and `key`, as `remember` stores weights."""
    path = entry_path(key, kind, ".json")
    try:
        _prepare(path)
        write_json(path, {"memo_key": key, "record": record})
        prune(path.parent, keep=path, pattern=f"{kind}-*.json")
    except (OSError, OutputPathError) as err:
        warn(f"{kind} memo not written ({err}); pass --no-cache to skip it")


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
        _prepare(path)
        weights.save_checkpoint(path, model, {"kind": "fine-tuning memo", "memo_key": key,
                                             "fine_tune": json.dumps(record)})
        prune(path.parent, keep=path)
    except (OSError, OutputPathError) as err:
        warn(f"fine-tuning memo not written ({err}); pass --no-cache to skip it")


def _prepare(path: Path) -> None:
    """The memo's folder made (never among trm-demo's own files) and `path` checked by the run's output rules."""
    if path.parent.resolve() not in package_directories():
        path.parent.mkdir(exist_ok=True)
    check_paths({"the memo": path}, {})   # a regular file, writable, ...


def prune(folder: Path, keep: Path, pattern: str = "fine_tuned-*.npz") -> None:
    """Delete all but the MAX_ENTRIES newest entries of `pattern` (by modification time); `keep`, just written,
    stays."""
    entries = sorted((p for p in folder.glob(pattern) if p.is_file() and not p.is_symlink()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        if old != keep:
            old.unlink(missing_ok=True)
