"""Weights: deterministic initialisation, the model object, and .npz checkpoints.

A checkpoint holds the trained weights, their EMA copy, the fixed initial
states, the architecture and a format version, plus free-form metadata (the
command, seed and versions that produced it). Loading checks all of it and
raises `CheckpointError` with one line that says what is wrong: a file that is
not regular, an entry trm-demo never writes (exactly the header and the
spec's weight arrays are accepted), a zip entry declaring more bytes than its spec implies (checked
before anything is inflated), a header that is not JSON of the right shape, a
weight that is not float32, of the wrong shape, or not finite. A loaded model
remembers which file it came from (`TRM.source`: path and SHA-256) so every
run can say which checkpoint it used.

`save_arrays` / `load_arrays` keep a model that is not a TRM (funnel/bag_of_words.py's logistic reader) in the
same format with the same checks: its named arrays beside the format version and the metadata, no spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from trm_demo.trm import engine
from trm_demo.atomic import atomic_write
from trm_demo.errors import CheckpointError
from trm_demo.trm.engine import TRMSpec

FORMAT_VERSION = 1
# The checkpoints that ship inside the package; training commands never replace them unasked.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"   # trm_demo/checkpoints/

# Bounds for reading a file nobody vouches for. The largest model the config allows (hidden 512,
# expansion 8, SwiGLU) is ~100 MB of float32 with its EMA copy; the longest pretrain log
# (10,000 epochs) is ~12 MB of metadata, stored as UTF-32 text.
MAX_WEIGHT_BYTES = 256 * 2**20
HEADER_LIMITS = {"format_version": 1024, "spec": 64 * 2**10, "metadata": 32 * 2**20}
MAX_FILE_BYTES = MAX_WEIGHT_BYTES + 2 * HEADER_LIMITS["metadata"]
MAX_MEMBERS = 1024               # a checkpoint has 3 header entries + 3 per weight array (~40 today)
NPY_HEADER_ALLOWANCE = 4096      # np.save writes a 128-byte header for our arrays
# (lo, hi) of every whole-number spec field; hi None: bounded by MAX_WEIGHT_BYTES instead. Loops
# are bounded as in the config (model.n_cycles, model.outer_steps) so a forged spec cannot make
# one inference run for hours.
SPEC_RANGES = {"n_inputs": (1, None), "hidden_size": (1, None), "expansion": (1, None), "n_cycles": (1, 16),
               "outer_steps": (1, 16), "seq_len": (0, None), "n_classes": (1, None), "n_blocks": (1, 16)}
DTYPE_RULES = {"float32": lambda dtype: dtype == np.float32, "float64": lambda dtype: dtype == np.float64,
               "an integer": lambda dtype: dtype.kind in "iu",
               "text": lambda dtype: dtype.kind == "U"}


@dataclass
class TRM:
    """The model: architecture, trained weights, their EMA copy and the fixed initial states."""
    spec: TRMSpec
    params: dict[str, np.ndarray]
    ema: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray]
    source: dict | None = None   # {"path", "sha256"} of the checkpoint it was loaded from; None if initialised
    # What the run that trained these weights decided, as its checkpoint records it, for a reload to repeat
    # ({"selected": {"epoch", "step_cap", "validation_log_loss"}, "halt_threshold"}); the caller reads it from
    # the metadata (funnel/pipeline.py). None for fresh weights.
    decisions: dict | None = None

    def infer(self, x, step_cap: int, halt_threshold: float, trajectory: bool = False,
              use_ema: bool = True) -> engine.Inference:
        weights = self.ema if use_ema else self.params
        return engine.infer(weights, self.buffers, self.spec, x, step_cap, halt_threshold, trajectory)

    @property
    def n_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))


def init_model(spec: TRMSpec, rng: np.random.Generator, dtype=np.float32) -> TRM:
    """Same spec and generator state -> the same weights, bit for bit."""
    d = spec.hidden_size
    gate_factor = 2 if spec.activation == "swiglu" else 1

    def normal(*shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)

    params = {}
    if spec.is_sequence:
        params["embed.tokens"] = normal(spec.n_inputs, d, fan_in=d)
    else:
        params["embed.w"] = normal(spec.n_inputs, d, fan_in=spec.n_inputs)
        params["embed.b"] = np.zeros(d, dtype)
    for name, axis in spec.sublayers():
        size = spec.seq_len if axis == "tokens" else d
        mixed_width = spec.expansion * size
        params[name + ".w_in"] = normal(size, gate_factor * mixed_width, fan_in=size)
        params[name + ".w_out"] = normal(mixed_width, size, fan_in=mixed_width)
        params[name + ".norm"] = np.ones(d, dtype)
    params["head.w"] = normal(d, spec.n_classes, fan_in=d)
    params["head.b"] = np.zeros(spec.n_classes, dtype)
    params["halt.w"] = np.zeros((d, 1), dtype)
    # Negative bias: the model starts out "not sure yet"; a zero bias traps halting at step ~1.
    params["halt.b"] = np.full(1, spec.halt_bias_init, dtype)
    state_shape = (spec.seq_len, d) if spec.is_sequence else (d,)
    buffers = {"y_init": np.clip(rng.standard_normal(state_shape), -2, 2).astype(dtype),
               "z_init": np.clip(rng.standard_normal(state_shape), -2, 2).astype(dtype)}
    return TRM(spec, params, {k: v.copy() for k, v in params.items()}, buffers)


def save_checkpoint(path: str | Path, model: TRM, metadata: dict) -> None:
    arrays = {"format_version": np.array(FORMAT_VERSION),
              "spec": np.array(json.dumps(dataclasses.asdict(model.spec))),
              "metadata": np.array(json.dumps(metadata, sort_keys=True))}
    for group in ("params", "ema", "buffers"):
        arrays.update({f"{group}/{name}": value for name, value in getattr(model, group).items()})
    atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)


def load_checkpoint(path: str | Path, expected: TRMSpec | None = None) -> tuple[TRM, dict]:
    """The model and its metadata, after every check below."""
    path = Path(path)

    def read(archive, members, fail):
        spec, metadata = _read_header(archive, members, fail)
        if expected is not None and spec != expected:
            raise CheckpointError(f"checkpoint '{path}' was trained for another model size: "
                                  f"{_spec_difference(spec, expected)}", fix="size")
        shapes = weight_shapes(spec)
        _refuse_unknown_entries(members, shapes, fail)
        return spec, metadata, {group: _read_weights(archive, members, group, group_shapes, fail)
                                for group, group_shapes in shapes.items()}

    (spec, metadata, groups), source = _read_archive(path, read)
    return TRM(spec, groups["params"], groups["ema"], groups["buffers"], source), metadata


def _read_archive(path: Path, read):
    """read(archive, members, fail)'s result from the checkpoint at path, and its source ({"path", "sha256"}): the
    file checks every checkpoint gets (a regular file, its digest, a readable zip of known members)."""

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"checkpoint '{path}' {problem}")

    with _open_regular_file(path) as handle:
        digest = _sha256(handle)
        try:
            with zipfile.ZipFile(handle) as archive:
                result = read(archive, _members(archive, fail), fail)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise fail(f"is corrupt or truncated ({type(err).__name__})") from None
    return result, {"path": str(path.resolve()), "sha256": digest}


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """A checkpoint of named arrays that is not a TRM: the format version, the metadata and the arrays."""
    header = {"format_version": np.array(FORMAT_VERSION), "metadata": np.array(json.dumps(metadata, sort_keys=True))}
    atomic_write(path, lambda f: np.savez(f, **header, **arrays), binary=True)


def load_arrays(path: str | Path, kinds: dict[str, str], max_bytes: int) -> tuple[dict[str, np.ndarray], dict, dict]:
    """save_arrays' arrays, its metadata and its source ({"path", "sha256"}), after the checks load_checkpoint makes
    of a file: exactly the arrays named in `kinds`, each of its DTYPE_RULES kind, at most `max_bytes`, finite.
    Their shapes are the caller's to check."""

    def read(archive, members, fail):
        names = {"format_version", "metadata", *kinds}
        if set(members) != names:
            raise fail(f"is not the checkpoint expected here (entries {', '.join(sorted(set(members) ^ names))} "
                       "differ from those it must hold)")
        version, metadata_text = (_read_npy(archive, members[name], fail, HEADER_LIMITS[name], expect)
                                  for name, expect in (("format_version", "an integer"), ("metadata", "text")))
        _check_version(version, fail)
        arrays = {name: _read_npy(archive, members[name], fail, max_bytes, kind) for name, kind in kinds.items()}
        for name, value in arrays.items():
            if value.dtype.kind == "f":
                _check_finite(value, name, fail)
        return arrays, _json_object(metadata_text, "metadata", fail)

    (arrays, metadata), source = _read_archive(Path(path), read)
    return arrays, metadata, source


def weight_shapes(spec: TRMSpec) -> dict[str, dict[str, tuple[int, ...]]]:
    """The shape of every array `init_model` builds, computed without allocating any of them."""
    d = spec.hidden_size
    gate_factor = 2 if spec.activation == "swiglu" else 1
    params = {"embed.tokens": (spec.n_inputs, d)} if spec.is_sequence else {"embed.w": (spec.n_inputs, d),
                                                                            "embed.b": (d,)}
    for name, axis in spec.sublayers():
        size = spec.seq_len if axis == "tokens" else d
        params[name + ".w_in"] = (size, gate_factor * spec.expansion * size)
        params[name + ".w_out"] = (spec.expansion * size, size)
        params[name + ".norm"] = (d,)
    params.update({"head.w": (d, spec.n_classes), "head.b": (spec.n_classes,), "halt.w": (d, 1), "halt.b": (1,)})
    state_shape = (spec.seq_len, d) if spec.is_sequence else (d,)
    return {"params": params, "ema": dict(params), "buffers": {"y_init": state_shape, "z_init": state_shape}}


def resolve_checkpoint(raw: str | Path) -> Path:
    """A configured 'trm_demo/checkpoints/NAME' is the installed package's file wherever the command runs,
    never a look-alike under the working directory; any other relative path is from the working directory."""
    path = Path(raw)
    if not path.is_absolute() and path.parts[:2] == ("trm_demo", "checkpoints"):
        return SHIPPED_DIR.joinpath(*path.parts[2:])
    return path


def is_shipped(path: str | Path) -> bool:
    """Would writing `path` land in the package's checkpoints, by name, symlink or hard link?"""
    path = Path(path)
    if path.resolve().parent == SHIPPED_DIR:
        return True
    return path.is_file() and any(os.path.samefile(path, shipped) for shipped in SHIPPED_DIR.glob("*.npz"))


# --- reading, one check at a time ---

def _open_regular_file(path: Path) -> BinaryIO:
    """Open without blocking, then insist on a regular file (a FIFO with no writer would hang `open`)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint '{path}' does not exist", fix="create") from None
    except (OSError, ValueError) as err:   # ValueError: a NUL byte in the path
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {getattr(err, 'strerror', None) or err}",
                              fix="path") from None
    info = os.fstat(fd)
    problem = ("is a directory" if stat.S_ISDIR(info.st_mode) else
               "is not a regular file (a FIFO, socket or device)" if not stat.S_ISREG(info.st_mode) else
               f"is larger than any trm-demo checkpoint ({MAX_FILE_BYTES // 2**20} MiB)"
               if info.st_size > MAX_FILE_BYTES else None)
    if problem:
        os.close(fd)
        raise CheckpointError(f"checkpoint '{path}' {problem}", fix="path")
    return os.fdopen(fd, "rb")


def written_source(path: str | Path) -> dict:
    """{"path", "sha256"} of a checkpoint just written: what a later load of it will report as `source`."""
    path = Path(path)
    with path.open("rb") as handle:
        return {"path": str(path.resolve()), "sha256": _sha256(handle)}


def _sha256(handle: BinaryIO) -> str:
    """Hash of the bytes about to be loaded, read through the same handle (no second lookup of the path)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(2**20), b""):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _members(archive: zipfile.ZipFile, fail) -> dict[str, zipfile.ZipInfo]:
    """Entries by array name; nothing is inflated yet. np.savez writes stored (or deflated) .npy entries."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise fail(f"has {len(infos)} entries, more than any trm-demo checkpoint ({MAX_MEMBERS})")
    members = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
            raise fail(f"entry '{info.filename}' is encrypted or uses a compression np.savez never writes")
        if name == info.filename or name in members:
            raise fail(f"has an unexpected or repeated entry '{info.filename}'")
        members[name] = info
    return members


def _refuse_unknown_entries(members: dict, shapes: dict, fail) -> None:
    """Exactly the entries `save_checkpoint` writes for this spec: anything else is not ours (missing
    weights are named group by group in _read_weights)."""
    expected = set(HEADER_LIMITS) | {f"{group}/{name}" for group, names in shapes.items() for name in names}
    unknown = sorted(set(members) - expected)
    if unknown:
        names = [members[name].filename for name in unknown[:3]]
        listed = ", ".join(repr(n if len(n) <= 60 else n[:57] + "...") for n in names) + (", ..." if len(unknown) > 3 else "")
        raise fail(f"has {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'} trm-demo never writes ({listed})")


def _read_header(archive, members, fail) -> tuple[TRMSpec, dict]:
    """Format version, model spec and metadata: small, typed, and valid JSON of the expected shape."""
    if not set(HEADER_LIMITS) <= set(members):
        raise fail("is not a trm-demo checkpoint (missing header)")
    version, spec_text, metadata_text = (_read_npy(archive, members[name], fail, HEADER_LIMITS[name], expect)
                                         for name, expect in (("format_version", "an integer"),
                                                              ("spec", "text"), ("metadata", "text")))
    _check_version(version, fail)
    spec = _spec_from_json(_json_object(spec_text, "model spec", fail), fail)
    return spec, _json_object(metadata_text, "metadata", fail)


def _read_weights(archive, members, group: str, shapes: dict, fail) -> dict[str, np.ndarray]:
    names = {key.split("/", 1)[1] for key in members if key.startswith(group + "/")}
    if names != set(shapes):
        raise fail(f"has {group} arrays that do not match its model spec ({', '.join(sorted(names ^ set(shapes)))})")
    arrays = {}
    for name, shape in shapes.items():
        where = f"{group}/{name}"
        value = _read_npy(archive, members[where], fail, 4 * math.prod(shape) + NPY_HEADER_ALLOWANCE, "float32",
                          shape)
        _check_finite(value, where, fail)
        arrays[name] = value
    return arrays


def _check_version(version: np.ndarray, fail) -> None:
    if version.shape != () or int(version) != FORMAT_VERSION:
        raise fail(f"has format version {version.tolist()}, this program reads version {FORMAT_VERSION}")


def _check_finite(value: np.ndarray, where: str, fail) -> None:
    if not np.isfinite(value).all():   # one NaN would turn every score and every JSON figure into NaN
        bad = value[~np.isfinite(value)][0]
        raise fail(f"holds a non-finite weight ({bad} in {where}): the file is damaged or its training diverged")


def _read_npy(archive, info: zipfile.ZipInfo, fail, limit: int, expect: str, shape=None) -> np.ndarray:
    """One .npy entry; its declared size is checked against `limit` and its own header before inflating it."""
    if info.file_size > limit:
        raise fail(f"entry '{info.filename}' declares {info.file_size:,} bytes, more than its spec allows "
                   f"({limit:,}): refused without inflating it (corrupt, or a zip bomb)")
    with archive.open(info) as stream:
        try:   # the header is a few hundred bytes: only they are inflated here
            version = np.lib.format.read_magic(stream)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[version]
            stored_shape, fortran_order, dtype = read_header(stream)
        except (ValueError, KeyError):
            raise fail(f"entry '{info.filename}' is not a valid .npy array") from None
        if not DTYPE_RULES[expect](dtype):
            raise fail(f"entry '{info.filename}' is stored as {dtype}, expected {expect}")
        if shape is not None and tuple(stored_shape) != shape:
            raise fail(f"entry '{info.filename}' has shape {tuple(stored_shape)}, its model spec says {shape}")
        size = math.prod(stored_shape) * dtype.itemsize
        if stream.tell() + size != info.file_size:
            raise fail(f"entry '{info.filename}' declares {info.file_size:,} bytes but its header implies "
                       f"{stream.tell() + size:,}")
        data = stream.read(size)
    if len(data) != size:
        raise fail(f"entry '{info.filename}' is truncated")
    return np.frombuffer(data, dtype).reshape(stored_shape, order="F" if fortran_order else "C").copy()


def _json_object(text: np.ndarray, what: str, fail) -> dict:
    def refuse_constant(name):   # Python's json reads NaN and Infinity; JSON has neither
        raise ValueError(f"{name} is not JSON")
    try:
        value = json.loads(str(text), parse_constant=refuse_constant) if text.shape == () else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise fail(f"has malformed {what} (expected one JSON object, without NaN or Infinity)")
    return value


def _spec_from_json(raw: dict, fail) -> TRMSpec:
    """Every field present, of its type, in a sane range: a forged spec must not size the arrays to read."""
    fields = {f.name: f for f in dataclasses.fields(TRMSpec)}
    if set(raw) != set(fields):
        raise fail(f"has malformed model spec (fields {sorted(set(raw) ^ set(fields))})")
    for name, value in raw.items():
        if name == "activation":
            ok = value in ("swiglu", "gelu")
        elif name == "halt_bias_init":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            lo, hi = SPEC_RANGES[name]
            ok = type(value) is int and lo <= value and (hi is None or value <= hi)
        if not ok:
            raise fail(f"has malformed model spec ({name}={value!r})")
    spec = TRMSpec(**raw)
    total = sum(math.prod(shape) for shapes in weight_shapes(spec).values() for shape in shapes.values())
    if 4 * total > MAX_WEIGHT_BYTES:
        raise fail(f"declares a model of {4 * total:,} bytes, more than any trm-demo model "
                   f"({MAX_WEIGHT_BYTES // 2**20} MiB)")
    return spec


def _spec_difference(spec: TRMSpec, expected: TRMSpec) -> str:
    return ", ".join(f"{f.name}={getattr(spec, f.name)} (config: {getattr(expected, f.name)})"
                     for f in dataclasses.fields(spec) if getattr(spec, f.name) != getattr(expected, f.name))


def describe_source(source: dict) -> str:
    """One line naming the loaded checkpoint so a run can be traced to the exact file (`sha256sum` it)."""
    return f"loaded checkpoint {source['path']} (sha256 {source['sha256']})"
