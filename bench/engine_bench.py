"""Engine speed: training throughput, inference latency, FLOP rate against numpy's matmul rate, and where a
training step's time goes (by phase, and op by op).

A "training step" is one supervision step of `training.fit` on one full batch: forward through T recursion cycles
(the last with a tape), both losses, backward through the last cycle, then `Optimiser.step` (gradient clipping,
AdamW and the EMA over the flat buffers): `numpy_step`, fit's inner loop, timed over N_sup steps from the initial
state. Its FLOPs are exactly those matmuls, so its rate is compared with theirs alone. The throughput row calls
`training.fit` itself (per update, with what fit adds: the halting target's full-depth pass per batch, the
validation passes, a short last batch), so it measures exactly what training runs.

Worker mode (the figures with another BLAS thread count, in a fresh process, as JSON on stdout):
python -m bench.engine_bench REPEATS [--quick]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from bench.measure import blas_threads, per_second, run_json, spread, time_calls


def default_setup():
    """(config, spec) of the default run."""
    from trm_demo.config import load_config
    from trm_demo.funnel.pipeline import model_spec
    cfg = load_config()
    return cfg, model_spec(cfg)


def fresh_model(spec, seed: int = 0):
    from trm_demo.trm.weights import init_model
    return init_model(spec, np.random.default_rng(seed))


def training_batch(cfg, n_rows: int, seed: int = 1):
    from trm_demo.funnel.market import training_log
    x, outcome, _ = training_log(np.random.default_rng(seed), n_rows, cfg.market.drift)
    return x, outcome


def numpy_step(params: dict, ema: dict, spec, t, lap=lambda phase: None):
    """fit's inner loop (training.supervised_update) as a closure step(x, target, y, z) -> (y, z): forward, losses,
    backward into the optimiser's flat gradients, Optimiser.step (clip, AdamW, EMA), calling lap(phase) after each.
    The halting target is torch_bench's (any 0/1 target costs the same; fit's own needs a full-depth pass per batch,
    which the throughput figure covers by running fit itself)."""
    from trm_demo.trm.engine import supervision_step, supervision_step_backward
    from trm_demo.trm.optimiser import Optimiser
    from trm_demo.trm.training import binary_losses
    optimiser = Optimiser.from_knobs(t)

    def step(x, target, y, z):
        y, z, logits, q, cache = supervision_step(params, spec, x, y, z)
        lap("forward")
        _, _, d_logits, d_halt, _ = binary_losses(logits, q, target, (logits >= 0) == (target > 0.5), t.halting_weight)
        lap("losses")
        grads = supervision_step_backward(d_logits, d_halt, params, spec, cache, optimiser.zero_grads(params, ema))
        lap("backward")
        optimiser.step(params, ema, grads)
        lap("clip, AdamW, EMA")
        return y, z

    return step


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
    """The matmuls of one supervision step of the tabular TRM, read off engine.py, in its layouts (the MLP's
    activations are feature-major: (width, B)).

    Forward: embedding, T cycles x (n + 1) net calls x n_blocks sublayers x 2 matmuls, both heads. Backward
    (last cycle only): each sublayer matmul costs two more (input and weight gradient); the embedding needs only
    its weight gradient (the features are data); the halting head only its weight gradient (y is detached)."""
    if spec.is_sequence:
        raise ValueError("the FLOP count covers the tabular model (the default config)")
    b, f, d, width = batch, spec.n_inputs, spec.hidden_size, spec.expansion * spec.hidden_size
    gated = 2 * width if spec.activation == "swiglu" else width
    fwd = spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks
    bwd = (spec.n_cycles + 1) * spec.n_blocks
    return [
        Matmul("embed x @ W", b, f, d, False, False, 1),
        Matmul("mlp W_in.T @ h.T (feature-major)", gated, d, b, True, True, fwd),
        Matmul("mlp hidden.T @ W_out", b, width, d, True, False, fwd),
        Matmul("heads y @ w (answer, halt)", b, d, 1, False, False, 2),
        Matmul("d_hidden = W_out @ d_out.T", width, d, b, False, True, bwd),
        Matmul("dW_out = hidden @ d_out", width, b, d, False, False, bwd),
        Matmul("dW_in = h.T @ d_pre.T", d, b, gated, True, True, bwd),
        Matmul("d_h = d_pre.T @ W_in.T", b, gated, d, True, True, bwd),
        Matmul("head grads (dW answer, dW halt)", d, b, 1, True, False, 2),
        Matmul("d_y = d_logits @ w_head.T", b, 1, d, False, True, 1),
        Matmul("dW_embed = x.T @ d_x", f, b, d, True, False, 1),
    ]


def step_flops(spec, batch: int) -> int:
    return sum(mm.flops for mm in training_step_matmuls(spec, batch))


def time_matmuls(matmuls: list[Matmul], repeats: int) -> dict:
    """Seconds for the step's matmuls alone, same shapes, layouts and dtype, as `a @ b` (allocating, like the engine)."""
    rng = np.random.default_rng(0)

    def operand(rows, cols, transposed):
        a = rng.standard_normal((cols, rows) if transposed else (rows, cols)).astype(np.float32)
        return a.T if transposed else a
    operands = [(operand(mm.m, mm.k, mm.transpose_a), operand(mm.k, mm.n, mm.transpose_b), mm.count) for mm in matmuls]

    def run_all():
        for a, b, count in operands:
            for _ in range(count):
                a @ b

    return time_calls(run_all, repeats, calls_per_repeat=5, warmup=2)


# --- the figures in one BLAS setting ---

def figures(cfg, spec, pretrained, repeats: int, quick: bool) -> dict:
    """Training step (fit's inner loop) and its FLOP rate against the matmuls alone; fit's own throughput;
    inference."""
    from trm_demo.trm.engine import initial_state
    from trm_demo.trm.training import fit
    batch, n_sup = cfg.training.batch_size, cfg.model.supervision_steps
    batches = 1 if quick else 2
    x, outcome = training_batch(cfg, batch * batches)
    model = fresh_model(spec)
    fit_update = time_calls(lambda: fit(model, x, outcome, cfg.training, 1, n_sup, np.random.default_rng(0),
                                        cfg.simulation.trm_halt_threshold), repeats, per=batches * n_sup)
    step, (xb, tb) = numpy_step(model.params, model.ema, spec, cfg.training), (x[:batch], outcome[:batch])

    def supervision():   # one batch's N_sup steps from the initial state, as fit takes them
        y, z = initial_state(model.buffers, spec, batch)
        for _ in range(n_sup):
            y, z = step(xb, tb, y, z)
    step_seconds = time_calls(supervision, repeats, calls_per_repeat=2 if quick else 5, per=n_sup)
    matmuls = time_matmuls(training_step_matmuls(spec, batch), repeats)
    gflop = step_flops(spec, batch) / 1e9
    return {"training_step_seconds": step_seconds, "fit_update_seconds": fit_update,
            "sample_steps_per_second": per_second(fit_update, batch), "step_gflops": per_second(step_seconds, gflop),
            "matmul_only_seconds": matmuls, "matmul_gflops": per_second(matmuls, gflop),
            "fraction_of_matmul_rate": matmuls["median"] / step_seconds["median"],
            "cpu_fraction_of_matmul_rate": matmuls["cpu"]["median"] / step_seconds["cpu"]["median"],
            "inference": {str(n): inference(pretrained, cfg, n, repeats) for n in (3, 600)},
            "inference_600_full_depth_seconds": inference(pretrained, cfg, 600, repeats, 1.0)["seconds"]}


def inference(model, cfg, n_candidates: int, repeats: int, halt_threshold: float | None = None) -> dict:
    """Seconds per batched model.infer call on n candidates, and the mean steps it used."""
    x, _ = training_batch(cfg, n_candidates, seed=2)
    cap = cfg.model.supervision_steps
    threshold = cfg.simulation.trm_halt_threshold if halt_threshold is None else halt_threshold
    calls = min(50, max(1, 600 // n_candidates))      # small batches: several calls per repeat, for a stable clock
    return {"seconds": time_calls(lambda: model.infer(x, cap, threshold), repeats, calls_per_repeat=calls),
            "mean_steps": float(model.infer(x, cap, threshold).steps.mean())}


# --- where a step's time goes: by phase (a clock between phases) ---

def time_phases(cfg, spec, repeats: int, steps_per_repeat: int) -> dict:
    """Seconds per step in each phase of fit's inner loop (forward, losses, backward, clip, AdamW, EMA)."""
    from trm_demo.trm.engine import initial_state
    model, batch = fresh_model(spec), cfg.training.batch_size
    spent, clock, samples = defaultdict(float), [0.0], defaultdict(list)

    def lap(phase):
        now = time.perf_counter()
        spent[phase] += now - clock[0]
        clock[0] = now

    step = numpy_step(model.params, model.ema, spec, cfg.training, lap)
    xb, tb = training_batch(cfg, batch)
    for repeat in range(repeats + 1):                      # the first repeat warms up
        spent.clear()
        y, z = initial_state(model.buffers, spec, batch)
        for _ in range(steps_per_repeat):
            clock[0] = time.perf_counter()
            y, z = step(xb, tb, y, z)
        for phase, seconds in spent.items():
            samples[phase] += [seconds / steps_per_repeat] if repeat else []
    return {phase: spread(s) for phase, s in samples.items()}


# --- ... and op by op ---
# cProfile cannot see `a @ b` or `a * b` (operators, not calls), so the step's arrays become an ndarray subclass
# that times every ufunc and every numpy function at the outermost level, and counts the matmul FLOPs really
# performed (test/test_bench_flops.py checks step_flops against them). What the ops do not cover (Python,
# indexing, attribute lookups) is "the rest" when compared with the untraced step time.

class Trace:
    active: "Trace | None" = None

    def __init__(self):
        self.seconds, self.calls, self.matmul_flops, self.depth = defaultdict(float), defaultdict(int), 0, 0

    def record(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1


def _plain(value):
    if isinstance(value, Traced):
        return value.view(np.ndarray)
    return type(value)(_plain(v) for v in value) if isinstance(value, (list, tuple)) else value


def _traced(value):
    if isinstance(value, np.ndarray) and not isinstance(value, Traced):
        return value.view(Traced)
    return type(value)(_traced(v) for v in value) if isinstance(value, (list, tuple)) else value


class Traced(np.ndarray):
    """An ndarray whose ufuncs and numpy functions are timed into the active trace."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _plain(inputs)
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        trace, started = Trace.active, time.perf_counter()
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if trace is not None and trace.depth == 0:   # inside a numpy function, its ufuncs belong to it
            trace.record(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}",
                         time.perf_counter() - started)
            if ufunc is np.matmul:
                a, b = inputs[0], inputs[1]
                trace.matmul_flops += 2 * int(np.prod(a.shape[:-1])) * a.shape[-1] * b.shape[-1]
        return _traced(result)

    def __array_function__(self, func, types, args, kwargs):
        trace, started = Trace.active, time.perf_counter()
        if trace is not None:
            trace.depth += 1
        try:
            result = func(*_plain(args), **_plain(kwargs))
        finally:
            if trace is not None:
                trace.depth -= 1
                if trace.depth == 0:
                    trace.record(f"np.{func.__name__}", time.perf_counter() - started)
        return _traced(result)


def trace_training_steps(cfg, spec, steps: int = 12) -> dict:
    """Op-level times of `steps` supervision steps of fit's inner loop, per step."""
    from trm_demo.trm.engine import initial_state
    model, batch = fresh_model(spec), cfg.training.batch_size
    params, ema, buffers = ({k: v.view(Traced) for k, v in d.items()} for d in (model.params, model.ema, model.buffers))
    step = numpy_step(params, ema, spec, cfg.training)
    xb, tb = (a.view(Traced) for a in training_batch(cfg, batch))
    y, z = step(xb, tb, *initial_state(buffers, spec, batch))   # warm-up (optimiser state, caches)
    Trace.active = trace = Trace()
    try:
        for _ in range(steps):
            y, z = step(xb, tb, y, z)
    finally:
        Trace.active = None
    return {"seconds_per_step": {name: s / steps for name, s in sorted(trace.seconds.items(), key=lambda kv: -kv[1])},
            "calls_per_step": {name: c / steps for name, c in trace.calls.items()},
            "matmul_flops_per_step": trace.matmul_flops // steps}


def summarise_trace(trace: dict, step_seconds: float) -> dict:
    """Group the op times: matmul, elementwise ufuncs, reductions, numpy functions, and the rest."""
    groups = defaultdict(float)
    for name, seconds in trace["seconds_per_step"].items():
        groups["matmul" if name == "matmul" else "numpy functions (concatenate, zeros_like, ...)"
               if name.startswith("np.") else "reductions (sum, mean)" if "." in name
               else "elementwise ufuncs (multiply, add, tanh, ...)"] += seconds
    groups["the rest: Python, indexing, allocation outside ops"] = max(0.0, step_seconds - sum(groups.values()))
    return {"blas_threads": 1, "step_seconds": step_seconds, "groups_seconds": dict(groups),
            "numpy_calls_per_step": sum(trace["calls_per_step"].values()),
            "top_ops": [{"op": name, "seconds": s, "calls": trace["calls_per_step"][name]}
                        for name, s in list(trace["seconds_per_step"].items())[:12]]}


# --- the section ---

def run(repeats: int, quick: bool = False) -> dict:
    """Every figure twice: with the demo's own BLAS threads (here) and with the other choice of 1 or 2, in a fresh
    process started with OPENBLAS_NUM_THREADS (raising the count at run time measured 5-10x slower than starting
    with it, so that figure would not describe a real run)."""
    from trm_demo.funnel.pipeline import starting_model
    cfg, spec = default_setup()
    pretrained = starting_model(cfg)
    here = blas_threads()
    other = 2 if here == 1 else 1
    by_threads = {str(here): {"blas_threads": here, "where": "as the demo runs",
                              **figures(cfg, spec, pretrained, repeats, quick)},
                  str(other): run_json(["-m", "bench.engine_bench", str(repeats)] + (["--quick"] if quick else []),
                                       {"OPENBLAS_NUM_THREADS": str(other)})}
    with threadpool_limits(limits=1, user_api="blas"):     # phases and op trace: one stable setting is enough
        phases = time_phases(cfg, spec, repeats, steps_per_repeat=6 if quick else 12)
        trace = trace_training_steps(cfg, spec)
    return {"model": {"spec": {name: getattr(spec, name) for name in spec.__dataclass_fields__},
                      "parameters": pretrained.n_parameters, "batch_size": cfg.training.batch_size,
                      "supervision_steps": cfg.model.supervision_steps,
                      "halt_threshold": cfg.simulation.trm_halt_threshold},
            "flops_per_step": step_flops(spec, cfg.training.batch_size), "by_threads": by_threads,
            "phases_seconds": phases,
            "profile": summarise_trace(trace, by_threads["1"]["training_step_seconds"]["median"])}


def worker(argv: list[str]) -> int:
    import json

    from trm_demo.funnel.pipeline import starting_model
    cfg, spec = default_setup()
    found = figures(cfg, spec, starting_model(cfg), int(argv[0]), "--quick" in argv)
    print(json.dumps({"blas_threads": blas_threads(), "where": "fresh process", **found}))
    return 0


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
