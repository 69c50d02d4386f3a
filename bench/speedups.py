"""Measured suggestions for a faster engine (the engine itself is not changed here).

1. Environment, each in a fresh process, alternating with the unchanged
   baseline so that load on the shared machine hits both alike:
   - one and two OpenBLAS threads (the step's matmuls are tiny: 256 x 32 x 128);
   - OPENBLAS_CORETYPE unset (this machine pins Haswell kernels; unset, OpenBLAS
     picks its own; informational only, tests and CI keep the pinned value);
   - one and two BLAS threads while a CPU-bound neighbour holds one core.
2. Code, as side-by-side micro-benchmarks against the engine's own functions:
   - the optimiser update (clip + AdamW + EMA) over one flat buffer instead of
     a dict of tensors;
   - SwiGLU and RMSNorm, forward and backward, with preallocated `out=`
     buffers instead of fresh temporaries (RMSNorm's row sums by einsum,
     one pass, instead of np.mean over a squared temporary).
   The saving per training step is (engine time - variant time) x calls per step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.stats import from_samples, time_calls

REPO_ROOT = Path(__file__).resolve().parent.parent

ENV_VARIANTS = {
    "as is": {},
    "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"},
    "OPENBLAS_NUM_THREADS=2": {"OPENBLAS_NUM_THREADS": "2"},
    "OPENBLAS_CORETYPE unset": {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None},
}


# --- 1. environment variants, in fresh processes ---

def run_worker(env_changes: dict, repeats: int) -> dict:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "bench.engine_bench", "--repeats", str(repeats)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def environment_variants(rounds: int, repeats: int) -> dict:
    """Median over rounds of each variant's (median) step and 600-candidate inference time."""
    found = {name: {"step": [], "inference_600": [], "faults": [], "kernel": None} for name in ENV_VARIANTS}
    for _ in range(rounds):
        for name, changes in ENV_VARIANTS.items():
            measured = run_worker(changes, repeats)
            found[name]["step"].append(measured["step_seconds"]["median"])
            found[name]["inference_600"].append(measured["inference_600_seconds"]["median"])
            found[name]["faults"].append(measured["page_faults_per_step"])
            found[name]["kernel"] = (measured.get("openblas") or {}).get("kernel")
    base = from_samples(found["as is"]["step"]).median
    base_inference = from_samples(found["as is"]["inference_600"]).median
    out = {}
    for name, f in found.items():
        step, inference = from_samples(f["step"]), from_samples(f["inference_600"])
        out[name] = {"env": ENV_VARIANTS[name], "openblas_kernel": f["kernel"],
                     "step_seconds": step.to_dict(), "inference_600_seconds": inference.to_dict(),
                     "page_faults_per_step": float(np.median(f["faults"])),
                     "step_speedup": base / step.median, "inference_speedup": base_inference / inference.median}
    return out


def under_load(repeats: int) -> dict:
    """The same worker while one CPU-bound process (started and stopped here) holds a core.

    On a 2-core machine OpenBLAS's second thread then waits for that core on
    every small matmul; with one BLAS thread nothing waits."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        found = {name: run_worker(ENV_VARIANTS[name], repeats)
                 for name in ("OPENBLAS_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=2")}
    finally:
        hog.kill()
        hog.wait()
    return {name: {"step_seconds": f["step_seconds"], "inference_600_seconds": f["inference_600_seconds"]}
            for name, f in found.items()}


# --- 2a. the optimiser update over one flat buffer ---

class FlatUpdate:
    """Clip + AdamW + EMA as ~20 whole-buffer numpy calls, however many tensors the model has.

    In the engine this needs params, grads and EMA to be views into three flat
    buffers (the backward pass would accumulate into the grad views in place).
    """

    def __init__(self, params: dict, cfg_training, ema_decay: float):
        t = cfg_training
        self.p = np.concatenate([v.ravel() for v in params.values()])
        self.ema = self.p.copy()
        self.m, self.v = np.zeros_like(self.p), np.zeros_like(self.p)
        self.tmp, self.tmp2 = np.empty_like(self.p), np.empty_like(self.p)
        decays = [np.full(v.size, v.ndim >= 2) for v in params.values()]
        self.keep = (1 - t.learning_rate * t.weight_decay * np.concatenate(decays)).astype(self.p.dtype)
        self.t, self.cfg, self.ema_decay = 0, t, ema_decay

    def step(self, g: np.ndarray) -> float:
        c, m, v, tmp, tmp2 = self.cfg, self.m, self.v, self.tmp, self.tmp2
        norm = float(np.sqrt(np.dot(g, g)))
        if norm > c.grad_clip:
            g *= c.grad_clip / norm
        self.t += 1
        m *= c.beta1
        np.multiply(g, 1 - c.beta1, out=tmp)
        m += tmp
        v *= c.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - c.beta2
        v += tmp
        np.multiply(v, 1 / (1 - c.beta2 ** self.t), out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += 1e-8
        np.multiply(m, c.learning_rate / (1 - c.beta1 ** self.t), out=tmp2)
        tmp2 /= tmp
        self.p *= self.keep
        self.p -= tmp2
        self.ema *= self.ema_decay
        np.multiply(self.p, 1 - self.ema_decay, out=tmp)
        self.ema += tmp
        return norm


def optimiser_update(cfg, spec, repeats: int) -> dict:
    from trm_demo.trm.training import AdamW, clip_gradients, update_ema
    from bench.engine_bench import fresh_model
    t = cfg.training
    model = fresh_model(spec)
    rng = np.random.default_rng(0)
    grads = {k: (rng.standard_normal(v.shape) * 0.01).astype(v.dtype) for k, v in model.params.items()}
    optimiser = AdamW(t.learning_rate, t.beta1, t.beta2, t.weight_decay)

    def per_tensor():
        clip_gradients(grads, t.grad_clip)
        optimiser.step(model.params, grads)
        update_ema(model.ema, model.params, t.ema_decay)

    flat = FlatUpdate(model.params, t, t.ema_decay)
    flat_grad = np.concatenate([g.ravel() for g in grads.values()])
    engine = time_calls(per_tensor, repeats, calls_per_repeat=50)
    variant = time_calls(lambda: flat.step(flat_grad), repeats, calls_per_repeat=50)
    return {"tensors": len(model.params), "engine_seconds": engine.to_dict(), "flat_seconds": variant.to_dict(),
            "saving_per_step_seconds": engine.median - variant.median}


# --- 2b. SwiGLU and RMSNorm with preallocated buffers ---

class BufferedOps:
    """The engine's elementwise hot spots rewritten with out= buffers (same maths, checked below)."""

    def __init__(self, rows: int, width: int, d: int, dtype=np.float32):
        self.sig = np.empty((rows, width), dtype)
        self.hidden = np.empty((rows, width), dtype)
        self.d_pre = np.empty((rows, 2 * width), dtype)
        self.normed = np.empty((rows, d), dtype)
        self.out = np.empty((rows, d), dtype)
        self.col = np.empty((rows, 1), dtype)
        self.col2 = np.empty((rows, 1), dtype)

    def swiglu(self, pre):
        # hidden = gate * sigmoid(gate) * up, sigmoid in the engine's tanh form
        half = pre.shape[-1] // 2
        gate, up = pre[:, :half], pre[:, half:]
        np.multiply(gate, 0.5, out=self.sig)
        np.tanh(self.sig, out=self.sig)
        self.sig *= 0.5
        self.sig += 0.5
        np.multiply(gate, self.sig, out=self.hidden)
        self.hidden *= up
        return self.hidden

    def swiglu_backward(self, d_hidden, pre):
        half = pre.shape[-1] // 2
        gate, up = pre[:, :half], pre[:, half:]
        sig, silu = self.sig, self.hidden                      # contiguous scratch; only the results go to d_pre
        np.multiply(gate, 0.5, out=sig)                        # sigmoid recomputed as in the engine
        np.tanh(sig, out=sig)
        sig *= 0.5
        sig += 0.5
        np.multiply(gate, sig, out=silu)
        np.multiply(d_hidden, silu, out=self.d_pre[:, half:])  # d_up = d_hidden * silu
        np.subtract(gate, silu, out=silu)                      # gate (1 - sig)
        silu += 1.0
        silu *= sig
        silu *= up
        np.multiply(silu, d_hidden, out=self.d_pre[:, :half])  # d_gate = d_hidden * up * sig * (1 + gate (1 - sig))
        return self.d_pre

    def rms_norm(self, h, gain, eps=1e-6):
        np.einsum("ij,ij->i", h, h, out=self.col[:, 0])      # sum of squares in one pass, no h*h temporary
        self.col *= 1.0 / h.shape[-1]
        self.col += eps
        np.sqrt(self.col, out=self.col)
        np.divide(1.0, self.col, out=self.col)                 # inv_rms
        np.multiply(h, self.col, out=self.normed)
        np.multiply(self.normed, gain, out=self.out)
        return self.out

    def rms_norm_backward(self, d_out, gain):
        d_normed = self.out                                    # reused: the forward output is cached elsewhere
        np.multiply(d_out, gain, out=d_normed)
        proj = self.col2
        np.einsum("ij,ij->i", d_normed, self.normed, out=proj[:, 0])
        proj *= 1.0 / d_out.shape[-1]
        np.multiply(self.normed, proj, out=self.normed)
        np.subtract(d_normed, self.normed, out=d_normed)
        d_normed *= self.col
        return d_normed


def elementwise_ops(cfg, spec, repeats: int) -> dict:
    """Engine vs buffered SwiGLU/RMSNorm on the training shapes, and the saving per training step."""
    from trm_demo.trm import engine
    from bench.engine_bench import mlp_width
    rows, d, width = cfg.training.batch_size, spec.hidden_size, mlp_width(spec)
    rng = np.random.default_rng(0)
    pre = rng.standard_normal((rows, 2 * width)).astype(np.float32)
    d_hidden = rng.standard_normal((rows, width)).astype(np.float32)
    h = rng.standard_normal((rows, d)).astype(np.float32)
    d_out = rng.standard_normal((rows, d)).astype(np.float32)
    gain = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    fast = BufferedOps(rows, width, d)
    try:
        _check_same(engine, fast, pre, d_hidden, h, d_out, gain)
    except AttributeError as err:
        return {"skipped": f"engine functions not found ({err})"}
    fwd = spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks    # calls per training step
    bwd = (spec.n_cycles + 1) * spec.n_blocks
    _, norm_cache = engine.rms_norm(h, gain)
    cases = {
        "swiglu forward": (lambda: engine._swiglu(pre), lambda: fast.swiglu(pre), fwd),
        "swiglu backward": (lambda: engine._swiglu_backward(d_hidden, pre),
                            lambda: fast.swiglu_backward(d_hidden, pre), bwd),
        "rms_norm forward": (lambda: engine.rms_norm(h, gain), lambda: fast.rms_norm(h, gain), fwd),
        "rms_norm backward": (lambda: engine.rms_norm_backward(d_out, gain, norm_cache),
                              lambda: (fast.rms_norm(h, gain), fast.rms_norm_backward(d_out, gain)), bwd),
    }
    out = {}
    for name, (ours, buffered, calls) in cases.items():
        try:
            ours()
        except AttributeError as err:       # the engine renamed or removed the function
            out[name] = {"skipped": f"engine function not found ({err})"}
            continue
        a = time_calls(ours, repeats, calls_per_repeat=200)
        b = time_calls(buffered, repeats, calls_per_repeat=200)
        out[name] = {"engine_seconds": a.to_dict(), "buffered_seconds": b.to_dict(), "calls_per_step": calls,
                     "saving_per_step_seconds": (a.median - b.median) * calls}
    return out


def _check_same(engine, fast, pre, d_hidden, h, d_out, gain) -> None:
    """The buffered versions compute the engine's numbers (float32 rounding aside)."""
    close = dict(rtol=1e-4, atol=1e-5)
    assert np.allclose(engine._swiglu(pre), fast.swiglu(pre), **close)
    assert np.allclose(engine._swiglu_backward(d_hidden, pre), fast.swiglu_backward(d_hidden, pre), **close)
    out, cache = engine.rms_norm(h, gain)
    assert np.allclose(out, fast.rms_norm(h, gain), **close)
    d_h, _ = engine.rms_norm_backward(d_out, gain, cache)
    assert np.allclose(d_h, fast.rms_norm_backward(d_out, gain), **close)


def run(cfg, spec, repeats: int, rounds: int) -> dict:
    return {"environment": environment_variants(rounds, repeats),
            "optimiser_update": optimiser_update(cfg, spec, repeats),
            "elementwise": elementwise_ops(cfg, spec, repeats)}


# --- 2c. x**3 in the GELU path ---

def power_vs_multiply(cfg, spec, repeats: int) -> dict:
    """engine._gelu and _gelu_grad compute pre**3: numpy sends a cube to the slow pow(); pre*pre*pre does not.

    Only the `activation: gelu` option uses it (the default is swiglu)."""
    from bench.engine_bench import mlp_width
    rows, width = cfg.training.batch_size, mlp_width(spec)
    pre = np.random.default_rng(0).standard_normal((rows, width)).astype(np.float32)
    power = time_calls(lambda: pre**3, repeats, calls_per_repeat=20)
    multiply = time_calls(lambda: pre * pre * pre, repeats, calls_per_repeat=20)
    calls = spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks + (spec.n_cycles + 1) * spec.n_blocks
    return {"shape": [rows, width], "power_seconds": power.to_dict(), "multiply_seconds": multiply.to_dict(),
            "calls_per_step_with_gelu": calls,
            "saving_per_step_with_gelu_seconds": (power.median - multiply.median) * calls}
