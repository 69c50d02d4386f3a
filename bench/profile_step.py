"""Where a training step's time goes, op by op.

cProfile cannot see `a @ b` or `a * b` (they are operators, not calls), so
this wraps the arrays of one training step in an ndarray subclass that times
every numpy ufunc (matmul, multiply, tanh, add.reduce, ...) and every numpy
function (concatenate, mean, zeros_like, ...) at the outermost level. It
also counts the matmul FLOPs really performed (test/test_bench_flops.py
checks engine_bench's analytic count against them).

Times are measured inside each op, so the wrapper's own dispatch cost is not
counted; what the ops do not cover (Python, indexing, attribute lookups) is
"the rest" when compared with the untraced step time.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np


class _Trace:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.matmul_flops = 0
        self.depth = 0          # > 0 inside a numpy function: its inner ufuncs belong to it

    def record(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1


_TRACE: _Trace | None = None


def _plain(value):
    if isinstance(value, Traced):
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _wrap(value):
    if isinstance(value, np.ndarray) and not isinstance(value, Traced):
        return value.view(Traced)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Traced(np.ndarray):
    """An ndarray whose ufuncs and numpy functions are timed into the active trace."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain_inputs = _plain(inputs)
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        trace = _TRACE
        started = time.perf_counter()
        result = getattr(ufunc, method)(*plain_inputs, **kwargs)
        elapsed = time.perf_counter() - started
        if trace is not None and trace.depth == 0:
            name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
            trace.record(name, elapsed)
            if ufunc is np.matmul:
                a, b = plain_inputs[0], plain_inputs[1]
                trace.matmul_flops += 2 * int(np.prod(a.shape[:-1])) * a.shape[-1] * b.shape[-1]
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        trace = _TRACE
        if trace is not None:
            trace.depth += 1
        started = time.perf_counter()
        try:
            result = func(*_plain(args), **_plain(kwargs))
        finally:
            elapsed = time.perf_counter() - started
            if trace is not None:
                trace.depth -= 1
                if trace.depth == 0:
                    trace.record(f"np.{func.__name__}", elapsed)
        return _wrap(result)


def _as_traced(d: dict) -> dict:
    return {k: v.view(Traced) for k, v in d.items()}


def trace_training_steps(cfg, spec, steps: int = 12) -> dict:
    """Op-level times of `steps` supervision steps of fit's inner loop, per step."""
    global _TRACE
    from trm_demo.trm.engine import initial_state, supervision_step, supervision_step_backward
    from trm_demo.trm.training import AdamW, binary_losses, clip_gradients, update_ema
    from bench.engine_bench import fresh_model, training_batch
    t, batch = cfg.training, cfg.training.batch_size
    model = fresh_model(spec)
    params, ema = _as_traced(model.params), _as_traced(model.ema)
    buffers = _as_traced(model.buffers)
    optimiser = AdamW(t.learning_rate, t.beta1, t.beta2, t.weight_decay)
    xb, tb = (a.view(Traced) for a in training_batch(spec, cfg, batch))

    def one_step(y, z):
        y, z, logits, q, cache = supervision_step(params, spec, xb, y, z)
        # any 0/1 halting target costs the same here; fit's own needs a full-depth pass per batch, not traced
        _, _, d_logits, d_halt, _ = binary_losses(logits, q, tb, tb > 0.5, t.halting_weight)
        grads = supervision_step_backward(d_logits, d_halt, params, spec, cache)
        clip_gradients(grads, t.grad_clip)
        optimiser.step(params, grads)
        update_ema(ema, params, t.ema_decay)
        return y, z

    y, z = initial_state(buffers, spec, batch)
    y, z = one_step(y, z)                           # warm-up (optimiser state, caches)
    _TRACE = trace = _Trace()
    try:
        for _ in range(steps):
            y, z = one_step(y, z)
    finally:
        _TRACE = None
    per_step = {name: s / steps for name, s in trace.seconds.items()}
    return {"seconds_per_step": dict(sorted(per_step.items(), key=lambda kv: -kv[1])),
            "calls_per_step": {name: c / steps for name, c in trace.calls.items()},
            "matmul_flops_per_step": trace.matmul_flops // steps}


def summarise(trace: dict, step_seconds: float) -> dict:
    """Group the op times: matmul, elementwise ufuncs, reductions, numpy functions, and the rest."""
    groups = defaultdict(float)
    for name, seconds in trace["seconds_per_step"].items():
        if name == "matmul":
            groups["matmul"] += seconds
        elif "." in name and not name.startswith("np."):
            groups["reductions (sum, mean)"] += seconds
        elif name.startswith("np."):
            groups["numpy functions (concatenate, zeros_like, ...)"] += seconds
        else:
            groups["elementwise ufuncs (multiply, add, tanh, ...)"] += seconds
    covered = sum(groups.values())
    groups["the rest: Python, indexing, allocation outside ops"] = max(0.0, step_seconds - covered)
    ops = sum(trace["calls_per_step"].values())
    return {"groups_seconds": dict(groups),
            "groups_fraction": {g: s / step_seconds for g, s in groups.items()},
            "numpy_calls_per_step": ops,
            "top_ops": [{"op": name, "seconds": s, "calls": trace["calls_per_step"][name]}
                        for name, s in list(trace["seconds_per_step"].items())[:12]]}
