"""Engine speed: training throughput, inference latency, FLOP rate against numpy's matmul rate.

A "training step" is one supervision step of `training.fit` on one batch:
forward through T recursion cycles (the last with a tape), both losses,
backward through the last cycle, gradient clipping, AdamW and the EMA update.
The headline throughput calls `training.fit` itself, so it measures exactly
what training runs; the phase breakdown and the op trace repeat fit's inner
loop (`numpy_step`) with a clock around each phase or each numpy op.

Worker mode (the other BLAS thread count, in a fresh process):
python -m bench.engine_bench --repeats 5 [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bench.stats import Timing, from_samples, run_json, time_calls


# --- the default model, as the demo runs it ---

def default_setup():
    """(config, spec) of the default run: config/default_config.yaml via the CLI's own helpers."""
    from trm_demo.funnel.pipeline import model_spec
    from trm_demo.config import load_config
    cfg = load_config()
    return cfg, model_spec(cfg)


def mlp_width(spec) -> int:
    """Hidden width of each sublayer's MLP (expansion x D), as engine.py builds it."""
    return spec.expansion * spec.hidden_size


def fresh_model(spec, seed: int = 0):
    from trm_demo.trm.weights import init_model
    return init_model(spec, np.random.default_rng(seed))


def training_batch(spec, cfg, n_rows: int, seed: int = 1):
    from trm_demo.funnel.market import training_log
    x, outcome, _ = training_log(np.random.default_rng(seed), n_rows, cfg.market.drift)
    return x, outcome


# --- training throughput ---

def time_training_steps(cfg, spec, repeats: int, batches_per_repeat: int = 2) -> Timing:
    """Seconds per supervision step of training.fit on batches of training.batch_size (median of repeats)."""
    from trm_demo.trm.training import fit
    batch, n_sup = cfg.training.batch_size, cfg.model.supervision_steps
    x, outcome = training_batch(spec, cfg, batch * batches_per_repeat)
    model = fresh_model(spec)
    steps = batches_per_repeat * n_sup

    def one_epoch():
        fit(model, x, outcome, cfg.training, 1, n_sup, np.random.default_rng(0),
            cfg.simulation.trm_halt_threshold)

    return time_calls(one_epoch, repeats).scaled(1 / steps)


def numpy_step(params: dict, ema: dict, spec, t, lap=lambda phase: None):
    """fit's inner loop as a closure step(x, target, y, z) -> (y, z): forward, losses, backward, clip, AdamW, EMA,
    calling lap(phase) after each. The halting target is torch_bench's (any 0/1 target costs the same; fit's own
    needs a full-depth pass per batch, which time_training_steps covers by running fit itself)."""
    from trm_demo.trm.engine import supervision_step, supervision_step_backward
    from trm_demo.trm.training import AdamW, binary_losses, clip_gradients, update_ema
    optimiser = AdamW(t.learning_rate, t.beta1, t.beta2, t.weight_decay)

    def step(x, target, y, z):
        y, z, logits, q, cache = supervision_step(params, spec, x, y, z)
        lap("forward")
        _, _, d_logits, d_halt, _ = binary_losses(logits, q, target, (logits >= 0) == (target > 0.5),
                                                  t.halting_weight)
        lap("losses")
        grads = supervision_step_backward(d_logits, d_halt, params, spec, cache)
        lap("backward")
        clip_gradients(grads, t.grad_clip)
        lap("clip")
        optimiser.step(params, grads)
        lap("adamw")
        update_ema(ema, params, t.ema_decay)
        lap("ema")
        return y, z

    return step


def time_training_phases(cfg, spec, repeats: int, steps_per_repeat: int = 12) -> dict[str, Timing]:
    """Seconds per step in each phase of fit's inner loop (forward, losses, backward, clip, AdamW, EMA)."""
    from trm_demo.trm.engine import initial_state
    model, batch = fresh_model(spec), cfg.training.batch_size
    spent, clock, samples = defaultdict(float), [0.0], defaultdict(list)

    def lap(phase):
        now = time.perf_counter()
        spent[phase] += now - clock[0]
        clock[0] = now

    step = numpy_step(model.params, model.ema, spec, cfg.training, lap)
    xb, tb = training_batch(spec, cfg, batch)
    for repeat in range(repeats + 1):                      # the first repeat warms up
        spent.clear()
        y, z = initial_state(model.buffers, spec, batch)
        for _ in range(steps_per_repeat):
            clock[0] = time.perf_counter()
            y, z = step(xb, tb, y, z)
        for phase, seconds in spent.items():
            if repeat:
                samples[phase].append(seconds / steps_per_repeat)
    return {phase: from_samples(s) for phase, s in samples.items()}


# --- where a step's time goes, op by op ---
# cProfile cannot see `a @ b` or `a * b` (operators, not calls), so the step's arrays become an ndarray subclass
# that times every ufunc and every numpy function at the outermost level, and counts the matmul FLOPs really
# performed (test/test_bench_flops.py checks step_flops against them). What the ops do not cover (Python,
# indexing, attribute lookups) is "the rest" when compared with the untraced step time.

class _Trace:
    def __init__(self):
        self.seconds, self.calls, self.matmul_flops, self.depth = defaultdict(float), defaultdict(int), 0, 0

    def record(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1


_TRACE: _Trace | None = None


def _plain(value):
    if isinstance(value, Traced):
        return value.view(np.ndarray)
    return type(value)(_plain(v) for v in value) if isinstance(value, (list, tuple)) else value


def _wrap(value):
    if isinstance(value, np.ndarray) and not isinstance(value, Traced):
        return value.view(Traced)
    return type(value)(_wrap(v) for v in value) if isinstance(value, (list, tuple)) else value


class Traced(np.ndarray):
    """An ndarray whose ufuncs and numpy functions are timed into the active trace."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _plain(inputs)
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        trace, started = _TRACE, time.perf_counter()
        result = getattr(ufunc, method)(*inputs, **kwargs)
        elapsed = time.perf_counter() - started
        if trace is not None and trace.depth == 0:   # inside a numpy function, its ufuncs belong to it
            trace.record(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}", elapsed)
            if ufunc is np.matmul:
                a, b = inputs[0], inputs[1]
                trace.matmul_flops += 2 * int(np.prod(a.shape[:-1])) * a.shape[-1] * b.shape[-1]
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        trace, started = _TRACE, time.perf_counter()
        if trace is not None:
            trace.depth += 1
        try:
            result = func(*_plain(args), **_plain(kwargs))
        finally:
            if trace is not None:
                trace.depth -= 1
                if trace.depth == 0:
                    trace.record(f"np.{func.__name__}", time.perf_counter() - started)
        return _wrap(result)


def trace_training_steps(cfg, spec, steps: int = 12) -> dict:
    """Op-level times of `steps` supervision steps of fit's inner loop, per step."""
    global _TRACE
    from trm_demo.trm.engine import initial_state
    model, batch = fresh_model(spec), cfg.training.batch_size
    traced = {name: {k: v.view(Traced) for k, v in getattr(model, name).items()} for name in ("params", "ema", "buffers")}
    step = numpy_step(traced["params"], traced["ema"], spec, cfg.training)
    xb, tb = (a.view(Traced) for a in training_batch(spec, cfg, batch))
    y, z = step(xb, tb, *initial_state(traced["buffers"], spec, batch))   # warm-up (optimiser state, caches)
    _TRACE = trace = _Trace()
    try:
        for _ in range(steps):
            y, z = step(xb, tb, y, z)
    finally:
        _TRACE = None
    per_step = {name: s / steps for name, s in sorted(trace.seconds.items(), key=lambda kv: -kv[1])}
    return {"seconds_per_step": per_step, "calls_per_step": {name: c / steps for name, c in trace.calls.items()},
            "matmul_flops_per_step": trace.matmul_flops // steps}


def summarise_trace(trace: dict, step_seconds: float) -> dict:
    """Group the op times: matmul, elementwise ufuncs, reductions, numpy functions, and the rest."""
    groups = defaultdict(float)
    for name, seconds in trace["seconds_per_step"].items():
        groups["matmul" if name == "matmul" else "numpy functions (concatenate, zeros_like, ...)"
               if name.startswith("np.") else "reductions (sum, mean)" if "." in name
               else "elementwise ufuncs (multiply, add, tanh, ...)"] += seconds
    groups["the rest: Python, indexing, allocation outside ops"] = max(0.0, step_seconds - sum(groups.values()))
    return {"groups_seconds": dict(groups),
            "groups_fraction": {g: s / step_seconds for g, s in groups.items()},
            "numpy_calls_per_step": sum(trace["calls_per_step"].values()),
            "top_ops": [{"op": name, "seconds": s, "calls": trace["calls_per_step"][name]}
                        for name, s in list(trace["seconds_per_step"].items())[:12]]}


# --- inference ---

def time_inference(model, cfg, n_candidates: int, repeats: int, halt_threshold: float | None = None,
                   step_cap: int | None = None) -> tuple[Timing, float]:
    """Seconds per batched model.infer call on n candidates; also the mean steps used."""
    x, _ = training_batch(model.spec, cfg, n_candidates, seed=2)
    cap = step_cap or cfg.model.supervision_steps
    threshold = cfg.simulation.trm_halt_threshold if halt_threshold is None else halt_threshold
    calls = max(1, 600 // n_candidates)      # small batches: several calls per repeat, for a stable clock
    timing = time_calls(lambda: model.infer(x, cap, threshold), repeats, calls_per_repeat=min(calls, 50))
    mean_steps = float(model.infer(x, cap, threshold).steps.mean())
    return timing, mean_steps


# --- FLOPs: every matmul of one training step, counted from the spec ---

@dataclass(frozen=True)
class Matmul:
    label: str
    m: int
    k: int
    n: int
    transpose_a: bool      # the engine multiplies a transposed view (weight gradients: a.T @ b)
    transpose_b: bool      # ... or by a transposed weight (input gradients: d @ W.T)
    count: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def training_step_matmuls(spec, batch: int) -> list[Matmul]:
    """The matmuls of one supervision step of the tabular TRM, read off engine.py.

    Forward: embedding, T cycles x (n + 1) net calls x n_blocks sublayers x 2
    matmuls, both heads. Backward (last cycle only): each sublayer matmul costs
    two more (input gradient and weight gradient); the embedding needs only its
    weight gradient (the features are data); the halting head only its weight
    gradient (y is detached from it).
    """
    if spec.is_sequence:
        raise ValueError("the FLOP count covers the tabular model (the default config)")
    b, f, d = batch, spec.n_inputs, spec.hidden_size
    width = mlp_width(spec)
    gated = 2 * width if spec.activation == "swiglu" else width
    fwd = spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks
    bwd = (spec.n_cycles + 1) * spec.n_blocks
    return [
        Matmul("embed x @ W", b, f, d, False, False, 1),
        Matmul("mlp h @ W_in", b, d, gated, False, False, fwd),
        Matmul("mlp hidden @ W_out", b, width, d, False, False, fwd),
        Matmul("heads y @ w (answer, halt)", b, d, 1, False, False, 2),
        Matmul("d_hidden = d_out @ W_out.T", b, d, width, False, True, bwd),
        Matmul("dW_out = hidden.T @ d_out", width, b, d, True, False, bwd),
        Matmul("dW_in = h.T @ d_pre", d, b, gated, True, False, bwd),
        Matmul("d_h = d_pre @ W_in.T", b, gated, d, False, True, bwd),
        Matmul("head grads (dW answer, dW halt)", d, b, 1, True, False, 2),
        Matmul("d_y = d_logits @ w_head.T", b, 1, d, False, True, 1),
        Matmul("dW_embed = x.T @ d_x", f, b, d, True, False, 1),
    ]


def step_flops(spec, batch: int) -> int:
    return sum(mm.flops for mm in training_step_matmuls(spec, batch))


def time_matmul_set(matmuls: list[Matmul], repeats: int, dtype=np.float32) -> Timing:
    """Seconds for the step's matmuls alone, same shapes, layouts and dtype, as `a @ b` (allocating, like the engine)."""
    rng = np.random.default_rng(0)
    operands = []
    for mm in matmuls:
        a = rng.standard_normal((mm.k, mm.m) if mm.transpose_a else (mm.m, mm.k)).astype(dtype)
        b = rng.standard_normal((mm.n, mm.k) if mm.transpose_b else (mm.k, mm.n)).astype(dtype)
        operands.append((a.T if mm.transpose_a else a, b.T if mm.transpose_b else b, mm.count))

    def run_all():
        for a, b, count in operands:
            for _ in range(count):
                a @ b

    return time_calls(run_all, repeats, calls_per_repeat=5, warmup=2)


# --- everything above, as one section of the report ---

def run(repeats: int, quick: bool = False) -> dict:
    """Every engine figure twice: with the demo's own BLAS threads (here) and with the other choice of 1 or 2.

    The other setting runs in a fresh process started with OPENBLAS_NUM_THREADS:
    raising OpenBLAS's thread count at run time measured 5-10x slower than
    starting with it, so that figure would not describe a real run.
    """
    from trm_demo.funnel.pipeline import starting_model
    from bench.machine import blas_threads, limited_blas_threads
    cfg, spec = default_setup()
    pretrained = starting_model(cfg)
    demo_threads = blas_threads()
    other_threads = 2 if demo_threads == 1 else 1
    by_threads = {str(demo_threads): {"blas_threads": demo_threads, "where": "as the demo runs",
                                      **_figures(cfg, spec, pretrained, repeats, quick)},
                  str(other_threads): _figures_in_fresh_process(other_threads, repeats, quick)}
    with limited_blas_threads(1):     # the phase breakdown and the op trace: one stable setting is enough
        phases = time_training_phases(cfg, spec, repeats, steps_per_repeat=6 if quick else 12)
        trace = trace_training_steps(cfg, spec)
    one_thread_step = by_threads["1"]["training_step_seconds"]["median"]
    return {
        "model": {"spec": _spec_dict(spec), "parameters": pretrained.n_parameters,
                  "batch_size": cfg.training.batch_size, "supervision_steps": cfg.model.supervision_steps,
                  "halt_threshold": cfg.simulation.trm_halt_threshold},
        "demo_blas_threads": demo_threads,
        "flops_per_step": step_flops(spec, cfg.training.batch_size),
        "matmuls": [mm.__dict__ | {"flops": mm.flops} for mm in training_step_matmuls(spec, cfg.training.batch_size)],
        "by_threads": by_threads,
        "phases_seconds": {p: t.to_dict() for p, t in phases.items()},
        "phases_blas_threads": 1,
        "profile": {"blas_threads": 1, "step_seconds": one_thread_step, **summarise_trace(trace, one_thread_step)},
    }


def _figures_in_fresh_process(threads: int, repeats: int, quick: bool) -> dict:
    args = ["-m", "bench.engine_bench", "--repeats", str(repeats)] + (["--quick"] if quick else [])
    return run_json(args, {"OPENBLAS_NUM_THREADS": str(threads)})


def _figures(cfg, spec, pretrained, repeats: int, quick: bool) -> dict:
    """Training step, its FLOP rate against the matmuls alone, and inference, in the current BLAS setting."""
    batch = cfg.training.batch_size
    flops = step_flops(spec, batch)
    step = time_training_steps(cfg, spec, repeats, batches_per_repeat=1 if quick else 2)
    matmuls = time_matmul_set(training_step_matmuls(spec, batch), repeats)
    inference = {}
    for n in (3, 600):
        timing, steps = time_inference(pretrained, cfg, n, repeats)
        inference[str(n)] = {"seconds": timing.to_dict(), "mean_steps": steps}
    full_depth, _ = time_inference(pretrained, cfg, 600, repeats, halt_threshold=1.0)
    return {"training_step_seconds": step.to_dict(),
            "sample_steps_per_second": step.rate(batch).to_dict(),
            "step_gflops": step.rate(flops / 1e9).to_dict(),
            "matmul_only_seconds": matmuls.to_dict(),
            "matmul_gflops": matmuls.rate(flops / 1e9).to_dict(),
            "fraction_of_matmul_rate": matmuls.median / step.median,
            "inference": inference,
            "inference_600_full_depth_seconds": full_depth.to_dict()}


def _spec_dict(spec) -> dict:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


# --- worker: the figures with another BLAS thread count, in this fresh process, as JSON on stdout ---

def worker(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.engine_bench")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from trm_demo.funnel.pipeline import starting_model
    from bench.machine import blas_threads
    cfg, spec = default_setup()
    figures = _figures(cfg, spec, starting_model(cfg), args.repeats, args.quick)
    print(json.dumps({"blas_threads": blas_threads(), "where": "fresh process", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
