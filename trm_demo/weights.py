"""Weights: deterministic initialisation, the model object, and .npz checkpoints.

A checkpoint holds the trained weights, their EMA copy, the fixed initial
states, the architecture and a format version, plus free-form metadata (the
command, seed and versions that produced it). Loading checks all of it and
raises `CheckpointError` with one line that says what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import engine
from .atomic import atomic_write
from .engine import TRMSpec

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, or for another model."""


@dataclass
class TRM:
    """The model: architecture, trained weights, their EMA copy and the fixed initial states."""
    spec: TRMSpec
    params: dict[str, np.ndarray]
    ema: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray]

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
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint '{path}' is a directory; give the path of a .npz checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist; run `python main.py pretrain` "
                              "to create it, or pass --from-scratch")
    try:
        # Our own handle: np.load leaks the one it opens when the zip is truncated.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"checkpoint '{path}' is corrupt or truncated ({type(err).__name__}); "
                              "recreate it with `python main.py pretrain`") from None
    try:
        version = int(arrays["format_version"])
        spec = TRMSpec(**json.loads(str(arrays["spec"])))
        metadata = json.loads(str(arrays["metadata"]))
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint '{path}' is not a trm-demo checkpoint (missing header)") from None
    if version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint '{path}' has format version {version}, this program reads "
                              f"version {FORMAT_VERSION}; recreate it with `python main.py pretrain`")
    if expected is not None and spec != expected:
        diff = [f"{f.name}={getattr(spec, f.name)} (config: {getattr(expected, f.name)})"
                for f in dataclasses.fields(spec) if getattr(spec, f.name) != getattr(expected, f.name)]
        raise CheckpointError(f"checkpoint '{path}' was trained for another model size: {', '.join(diff)}; "
                              "use a matching config, --from-scratch, or `python main.py pretrain`")
    groups = {g: {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(g + "/")}
              for g in ("params", "ema", "buffers")}
    reference = init_model(spec, np.random.default_rng(0))
    for group in ("params", "ema", "buffers"):
        expected_shapes = {k: v.shape for k, v in getattr(reference, group).items()}
        got_shapes = {k: v.shape for k, v in groups[group].items()}
        if expected_shapes != got_shapes:
            raise CheckpointError(f"checkpoint '{path}' has {group} arrays that do not match its model spec; "
                                  "recreate it with `python main.py pretrain`")
    return TRM(spec, groups["params"], groups["ema"], groups["buffers"]), metadata
