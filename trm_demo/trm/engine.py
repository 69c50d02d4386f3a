"""Tiny Recursive Model in pure NumPy, forward and hand-written backward.

Jolicoeur-Martineau (2025), "Less is More: Recursive Reasoning with Tiny
Networks", MLP variant. One tiny network `net` is reused for everything:

    def latent_recursion(x, y, z, n):          # one recursion cycle
        for i in range(n):
            z = net(x + y + z)                 # think: refine the latent
        y = net(y + z)                         # act: refine the answer
        return y, z

    def supervision_step(x, y, z, T):          # one deep-supervision step
        for j in range(T - 1):                 # no gradient
            y, z = latent_recursion(x, y, z, n)
        y, z = latent_recursion(x, y, z, n)    # gradient flows through this cycle only
        return (y, z) detached, output_head(y), halt_head(y)

`net` is 2 post-norm residual blocks, each RMSNorm(h + MLP(h)). Two tasks share
this core and differ only at the edges (input encoding, heads):
- "tabular": x is a feature vector (B, F), y and z are (B, D), one conversion logit;
- "sequence": x is a board of L tokens (B, L), y and z are (B, L, D), each block
  first mixes across the L positions (an MLP on the transposed state, as in the
  paper's MLP-Mixer variant) then across the D channels; one softmax per token.
The halting head reads y. For the tabular task it sends no gradient back into
y: a prototype measured worse answers when it did. For sequences it scores
every cell and keeps the lowest score ("halt when the least sure cell is
sure"; a mean over cells cannot tell a solved 6x6 board from an unsolved one,
since every solved board holds each digit six times), and its gradient does
flow into y, as in the paper: with y detached the head ranked solved boards
above unsolved ones but never reached q > 0, so it never halted (measured).

Every function is batched over samples; shapes are in comments as (B, ..., D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

RMS_EPS = 1e-6


@dataclass(frozen=True)
class TRMSpec:
    """Architecture: everything needed to build (and check) a set of weights."""
    n_inputs: int            # features (tabular) or input vocabulary size (sequence)
    hidden_size: int         # D
    expansion: int           # MLP width = expansion * D
    n_cycles: int            # n: latent updates per answer update
    outer_steps: int         # T: recursion cycles per supervision step
    activation: str          # "swiglu" or "gelu"
    halt_bias_init: float
    seq_len: int = 0         # L; 0 means the tabular task
    n_classes: int = 1       # output vocabulary per token (sequence); 1 logit (tabular)
    n_blocks: int = 2

    @property
    def is_sequence(self) -> bool:
        return self.seq_len > 0

    def sublayers(self) -> list[tuple[str, str]]:
        """(parameter prefix, mixing axis) of every residual sublayer of `net`, in order."""
        axes = ("tokens", "channels") if self.is_sequence else ("channels",)
        return [(f"net.{b}.{axis}", axis) for b in range(self.n_blocks) for axis in axes]


@cache
def _sublayer_keys(spec: TRMSpec) -> tuple[tuple[str, str, str, str], ...]:
    """(w_in, w_out, norm) parameter names and mixing axis of every sublayer, built once per spec: net reads them
    six times a training step, and sublayers() with its f-strings costs ~2 µs a call."""
    return tuple((f"{name}.w_in", f"{name}.w_out", f"{name}.norm", axis) for name, axis in spec.sublayers())


# --- building blocks: each forward returns (output, cache); each backward adds to `grads` ---

def rms_norm(h, gain, keep_tape: bool = True):
    # h: (..., D) -> (..., D); without keep_tape (inference) the gain is applied in place and no cache is returned
    inv_rms = _mean_last(h * h)   # 1 / sqrt(mean(h^2) + eps), step by step in place
    inv_rms += RMS_EPS
    np.sqrt(inv_rms, out=inv_rms)
    np.divide(1.0, inv_rms, out=inv_rms)
    normed = h * inv_rms
    if not keep_tape:
        normed *= gain
        return normed, None
    return normed * gain, (normed, inv_rms)


def rms_norm_backward(d_out, gain, cache):
    normed, inv_rms = cache
    d_normed = d_out * gain
    d_gain = _sum_to_last(d_out, normed)
    d_h = normed * _mean_product(d_normed, normed)
    np.subtract(d_normed, d_h, out=d_h)   # d_h = inv_rms * (d_normed - normed * mean(d_normed * normed)),
    d_h *= inv_rms                        # in place: ~1.5x faster than with a new array per product (issue 24)
    return d_h, d_gain


def _mean_last(a):
    # np.mean's rounding (a float32 sum divided by the count) without its Python wrapper: ~40 µs a call (issue 24).
    # The forward keeps it: einsum's fixed cost made 3-candidate inference 10 % slower (interleaved A/B, CPU time)
    return np.add.reduce(a, axis=-1, keepdims=True) / a.shape[-1]


def _mean_product(a, b):
    # mean over the last axis of a * b, (..., 1). einsum multiplies and sums in one pass: ~3x faster than a
    # product and a reduction along a 32-wide axis at the training batch (issue 24)
    return np.einsum("...i,...i->...", a, b)[..., None] / a.shape[-1]


def mlp(h, w_in, w_out, activation, keep_tape: bool = True):
    # h: (..., M, E) -> (..., M, E), mixing along E. Inside, the activations are feature-major, (..., width, M):
    # SwiGLU's gate and up halves are then contiguous blocks of rows (as column halves of (..., M, width) every
    # ufunc on them ran row by row, 2-3x slower, measured in issue 24). w_in holds the gate and up side by side.
    # Without keep_tape (inference) no cache is returned and SwiGLU works in place (same products, same order).
    pre = w_in.T @ _t(h)
    if activation == "swiglu":
        hidden, gate_cache = _swiglu(pre) if keep_tape else (_swiglu_in_place(pre), None)
    else:
        hidden, gate_cache = _gelu(pre), None
    out = _t(hidden) @ w_out
    return out, (h, pre, hidden, gate_cache) if keep_tape else None


def mlp_backward(d_out, w_in, w_out, activation, cache):
    h, pre, hidden, gate_cache = cache
    d_hidden = w_out @ _t(d_out)
    d_pre = _swiglu_backward(d_hidden, pre, gate_cache) if activation == "swiglu" else d_hidden * _gelu_grad(pre)
    d_w_out = _outer_sum(_t(hidden), d_out)
    d_w_in = _outer_sum(h, _t(d_pre))
    return _t(d_pre) @ w_in.T, d_w_in, d_w_out


def _t(a):
    return a.swapaxes(-1, -2)   # the method: np.swapaxes's dispatch costs ~1 µs of 36 calls a step


def _swiglu(pre):
    # -> hidden, and (sigmoid(gate), silu(gate)) for the backward pass, which would otherwise recompute them
    gate, up = _halves(pre)
    sig = sigmoid(gate)
    silu = gate * sig
    return silu * up, (sig, silu)


def _swiglu_in_place(pre):
    # _swiglu's hidden without its cache: silu(gate) * up in the sigmoid's array (gate * sig == sig * gate)
    gate, up = _halves(pre)
    hidden = sigmoid(gate)
    hidden *= gate
    hidden *= up
    return hidden


def _halves(pre):
    half = pre.shape[-2] // 2
    return pre[..., :half, :], pre[..., half:, :]


def _swiglu_backward(d_hidden, pre, gate_cache):
    gate, up = _halves(pre)
    sig, silu = gate_cache
    d_pre = np.empty_like(pre)   # both halves written in place: no concatenate, no temporaries
    d_gate, d_up = _halves(d_pre)
    np.subtract(gate, silu, out=d_gate)   # silu'(gate) = sig (1 + gate (1 - sig)) = sig (1 + gate - silu)
    d_gate += 1.0
    d_gate *= sig
    d_gate *= up
    d_gate *= d_hidden
    np.multiply(d_hidden, silu, out=d_up)
    return d_pre


_GELU_C = math.sqrt(2.0 / math.pi)   # a Python float keeps float32 arrays float32


def _gelu(pre):
    # tanh approximation, as in GPT-2
    cube = pre * pre * pre   # not pre**3: a float32 power is ~200x slower than two products (measured)
    return 0.5 * pre * (1.0 + np.tanh(_GELU_C * (pre + 0.044715 * cube)))


def _gelu_grad(pre):
    square = pre * pre
    inner = _GELU_C * (pre + 0.044715 * square * pre)
    tanh = np.tanh(inner)
    return 0.5 * (1.0 + tanh) + 0.5 * pre * (1.0 - tanh * tanh) * _GELU_C * (1.0 + 3 * 0.044715 * square)


def sigmoid(a):
    # exp form: 1.5x (float32) to 2.4x (float64) faster than 0.5 + 0.5 tanh(a / 2) on an AVX2 AMD (issue 24). exp(-a)
    # overflows to inf below a = -88 (float32) or -709 (float64), where 1 / (1 + inf) = 0 is the right answer.
    # 1 / (1 + exp(-a)) step by step in one new array: the same values, one allocation instead of four ([()]
    # turns a scalar's 0-d result back into a scalar)
    # (a float array, every call of the training step, goes straight in: np.shape and np.result_type cost ~1 µs)
    fast = isinstance(a, np.ndarray) and a.ndim and a.dtype.kind == "f"
    out = np.negative(a) if fast else np.negative(a, out=np.empty(np.shape(a), np.result_type(a, 1.0)))
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)[()]


def _outer_sum(a, b):
    """sum over every leading axis of a^T b: the weight gradient of `a @ W`."""
    if a.ndim != 2 or b.ndim != 2:   # (the tabular task's are matrices already: two reshapes less, ~1 µs, 13 times a step)
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    return a.T @ b


def _sum_to_last(a, b=None):
    """sum over every leading axis of a (or of a * b, multiplied and summed in one pass by einsum)."""
    a = a.reshape(-1, a.shape[-1])
    return a.sum(axis=0) if b is None else np.einsum("ij,ij->j", a, b.reshape(a.shape))


# --- the shared network: RMSNorm(h + MLP(h)) per sublayer ---

def net(params, spec: TRMSpec, h, keep_tape: bool = True):
    # h: (B, D) or (B, L, D) -> same shape; caches for net_backward (none without keep_tape)
    caches = []
    for w_in, w_out, norm, axis in _sublayer_keys(spec):
        mixed_in = np.swapaxes(h, -1, -2) if axis == "tokens" else h
        mixed, mlp_cache = mlp(mixed_in, params[w_in], params[w_out], spec.activation, keep_tape)
        if axis == "tokens":
            mixed = np.swapaxes(mixed, -1, -2)
        mixed += h   # the residual, into the product's fresh array (same sum as h + mixed)
        h, norm_cache = rms_norm(mixed, params[norm], keep_tape)
        if keep_tape:
            caches.append((mlp_cache, norm_cache))
    return h, caches


def net_backward(d_out, params, spec: TRMSpec, caches, grads):
    for (w_in, w_out, norm, axis), (mlp_cache, norm_cache) in zip(reversed(_sublayer_keys(spec)), reversed(caches)):
        d_sum, d_gain = rms_norm_backward(d_out, params[norm], norm_cache)
        grads[norm] += d_gain
        d_mixed = np.swapaxes(d_sum, -1, -2) if axis == "tokens" else d_sum
        d_in, d_w_in, d_w_out = mlp_backward(d_mixed, params[w_in], params[w_out], spec.activation, mlp_cache)
        grads[w_in] += d_w_in
        grads[w_out] += d_w_out
        d_out = np.swapaxes(d_in, -1, -2) if axis == "tokens" else d_in
        d_out += d_sum   # the residual's gradient, in place as in net
    return d_out


# --- the recursion ---

def latent_recursion(params, spec: TRMSpec, x, y, z, keep_tape: bool = True):
    """One cycle: n latent updates, then one answer update. Returns the tape for backward (empty without
    keep_tape: each `net` call's activations are freed as soon as the next op no longer needs them)."""
    tape = []
    for _ in range(spec.n_cycles):
        h = x + y
        h += z   # x + y + z, the second sum into the first's new array
        z, caches = net(params, spec, h, keep_tape)
        tape.append(caches)
    y, caches = net(params, spec, y + z, keep_tape)
    tape.append(caches)
    return y, z, tape if keep_tape else []


def latent_recursion_backward(d_y, params, spec: TRMSpec, tape, grads):
    """Gradient of the cycle's answer y w.r.t. the input embedding x (y, z entering the cycle are detached)."""
    d_sum = net_backward(d_y, params, spec, tape[-1], grads)   # y = net(y_in + z_n)
    d_z, d_x = d_sum, 0.0
    for caches in reversed(tape[:-1]):                          # z_i = net(x + y_in + z_{i-1})
        d_in = net_backward(d_z, params, spec, caches, grads)
        d_x = d_x + d_in
        d_z = d_in
    return d_x


def supervision_step(params, spec: TRMSpec, x_raw, y, z, keep_tape: bool = True):
    """T recursion cycles, gradient through the last; returns the new carry, logits and halt logits.

    x_raw: (B, F) floats or (B, L) token ids; y, z: (B, D) or (B, L, D)
    -> y, z, answer logits (B,) or (B, L, C), halt logits (B,), cache for `supervision_step_backward` (None with
    keep_tape=False, for inference: the same values, computed partly in place, with no tape kept).
    """
    x, embed_cache = embed(params, spec, x_raw)
    for _ in range(spec.outer_steps - 1):
        y, z, _ = latent_recursion(params, spec, x, y, z, keep_tape=False)
    y, z, tape = latent_recursion(params, spec, x, y, z, keep_tape)
    logits = answer_head(params, spec, y)
    cell = _least_sure_cell(params, y) if spec.is_sequence else None
    halt_input = y[np.arange(len(y)), cell] if spec.is_sequence else y
    halt_logits = (halt_input @ params["halt.w"])[..., 0] + params["halt.b"][0]
    return y, z, logits, halt_logits, (embed_cache, tape, y, halt_input, cell) if keep_tape else None


def _least_sure_cell(params, y):
    # y: (B, L, D) -> (B,) index of the cell whose halting score is lowest
    return (y @ params["halt.w"])[..., 0].argmin(axis=1)


def supervision_step_backward(d_logits, d_halt_logits, params, spec: TRMSpec, cache, grads: dict | None = None):
    """Gradients of every parameter, given the loss gradients of both heads, added into `grads` (zeros, e.g.
    the optimiser's flat buffer: Optimiser.zero_grads) or into new arrays."""
    embed_cache, tape, y, halt_input, cell = cache
    grads = {name: np.zeros_like(value) for name, value in params.items()} if grads is None else grads
    grads["halt.w"] += halt_input.T @ d_halt_logits[:, None]
    grads["halt.b"] += d_halt_logits.sum(keepdims=True)
    d_y = answer_head_backward(d_logits, params, spec, y, grads)
    if spec.is_sequence:   # into the least sure cell's y; for the tabular task y is detached here
        d_y[np.arange(len(y)), cell] += d_halt_logits[:, None] * params["halt.w"][:, 0]
    d_x = latent_recursion_backward(d_y, params, spec, tape, grads)
    embed_backward(d_x, spec, embed_cache, grads)
    return grads


# --- task edges: input embedding and answer head ---

def embed(params, spec: TRMSpec, x_raw):
    if spec.is_sequence:
        # token ids (B, L) -> (B, L, D), scaled by sqrt(D) as in the paper
        return params["embed.tokens"][x_raw] * math.sqrt(spec.hidden_size), x_raw   # a Python float keeps float32
    # features (B, F) -> (B, D)
    return x_raw @ params["embed.w"] + params["embed.b"], x_raw


def embed_backward(d_x, spec: TRMSpec, x_raw, grads):
    if spec.is_sequence:
        np.add.at(grads["embed.tokens"], x_raw.ravel(),
                  d_x.reshape(-1, spec.hidden_size) * math.sqrt(spec.hidden_size))
    else:
        grads["embed.w"] += x_raw.T @ d_x
        grads["embed.b"] += d_x.sum(axis=0)


def answer_head(params, spec: TRMSpec, y):
    logits = y @ params["head.w"] + params["head.b"]
    return logits if spec.is_sequence else logits[:, 0]      # (B, L, C) or (B,)


def answer_head_backward(d_logits, params, spec: TRMSpec, y, grads):
    d_logits = d_logits if spec.is_sequence else d_logits[:, None]
    grads["head.w"] += _outer_sum(y, d_logits)
    grads["head.b"] += _sum_to_last(d_logits)
    return d_logits @ params["head.w"].T


# --- adaptive-halting inference ---

@dataclass
class Inference:
    answer: np.ndarray         # (B,) P(convert), or (B, L) predicted tokens
    steps: np.ndarray          # (B,) supervision steps used
    halted: np.ndarray         # (B,) True if the halting head stopped it before the cap
    halt_prob: np.ndarray      # (B,) sigmoid(q) at the step it stopped
    trajectory: np.ndarray | None = None    # (cap, B) P(convert) or (cap, B, L) tokens after each step
    halt_logits: np.ndarray | None = None   # (cap, B) q after each step


def infer(params, buffers, spec: TRMSpec, x_raw, step_cap: int, halt_threshold: float,
          trajectory: bool = False) -> Inference:
    """Run each sample until sigmoid(q) >= halt_threshold or `step_cap` steps, batched.

    Halting compares q with logit(threshold), so a threshold of 1.0 never halts
    (float32 sigmoid rounds large q to exactly 1.0) and 0.0 always halts at step 1.
    With trajectory=True every sample runs to the cap so each step's answer and
    halt logit are recorded; the reported stop step is the same.
    """
    batch = len(x_raw)
    y, z = initial_state(buffers, spec, batch)
    halt_at = logit(halt_threshold)
    answer_shape = (batch, spec.seq_len) if spec.is_sequence else (batch,)
    answer = np.zeros(answer_shape, dtype=np.int64 if spec.is_sequence else np.float64)
    steps = np.zeros(batch, dtype=np.int64)
    halted = np.zeros(batch, dtype=bool)
    halt_prob = np.zeros(batch)
    path = np.zeros((step_cap,) + answer_shape, dtype=answer.dtype) if trajectory else None
    q_path = np.zeros((step_cap, batch)) if trajectory else None
    every = np.arange(batch)
    for step in range(1, step_cap + 1):
        if trajectory:   # every sample runs every step: whole arrays, no gathering and scattering of rows
            y, z, logits, q, _ = supervision_step(params, spec, x_raw, y, z, keep_tape=False)
            rows = every
        else:
            rows = np.flatnonzero(steps == 0)
            if rows.size == 0:
                break
            y[rows], z[rows], logits, q, _ = supervision_step(params, spec, x_raw[rows], y[rows], z[rows],
                                                              keep_tape=False)
        step_answer = logits.argmax(axis=-1) if spec.is_sequence else sigmoid(logits)
        if trajectory:
            path[step - 1], q_path[step - 1] = step_answer, q
        stops = (steps[rows] == 0) & ((q >= halt_at) | (step == step_cap))
        done = rows[stops]
        answer[done] = step_answer[stops]
        steps[done] = step
        halted[done] = q[stops] >= halt_at
        halt_prob[done] = sigmoid(q[stops])
    return Inference(answer, steps, halted, halt_prob, path, q_path)


def halting_steps(halt_logits, step_cap: int, halt_threshold: float):
    """Where adaptive halting stops, read off a recorded trajectory: the same rule as `infer`.

    halt_logits: (S, B) q after each step, S >= step_cap -> steps used (B,), halted (B,).
    The recursion never depends on when a sample will stop, so a full-depth
    trajectory computed once answers any (step cap, threshold) exactly.
    """
    crossed = halt_logits[:step_cap] >= logit(halt_threshold)
    halted = crossed.any(axis=0)
    return np.where(halted, crossed.argmax(axis=0) + 1, step_cap), halted


def initial_state(buffers, spec: TRMSpec, batch: int):
    """Fixed (not learned) starting answer and latent, as in the paper."""
    shape = (batch, spec.seq_len, spec.hidden_size) if spec.is_sequence else (batch, spec.hidden_size)
    y = np.broadcast_to(buffers["y_init"], shape).copy()
    z = np.broadcast_to(buffers["z_init"], shape).copy()
    return y, z


def logit(p: float) -> float:
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    return float(np.log(p) - np.log1p(-p))
