"""The reading TRM: the engine's sequence variant answering one probability per row of tokens.

The engine (engine.py) is used as is, with one output class per position: the
row's answer is the sum of its real (non-padding) positions' logits plus a
given offset (the fields-only logit), so the recursion only has to learn what
the tokens add to what the fields say:

    logit = offset + sum over real positions l of head(y)[:, l]   # y: (B, L, D) after each step

Why the head starts at zero: a randomly initialised head added logit noise of
std 1.1 to every answer (held-out excess log-loss 0.188 before training, the
fields alone 0.048, measured), so its first updates went to undoing the noise;
at zero an untrained reader says exactly what the fields say. Why a sum over
positions: every token gets a direct path to the answer, and a word's effect
does not shrink with the reply's length as under a mean (a bag of words'
shape; sum against mean at batch 64, one step: 56.0 against 49.7 % after 3
epochs, 56.6 against 54.1 % after 4).

Why it reads as it does (issue 25's debugging, training seed 1001, 16,384
history replies unless said; every choice on the validation split's log-loss,
the share of a perfect reading's gain on the bench's held-out replies beside it):
- The engine's token mixing is position-specific (an MLP over the 60
  positions): a one-step reader with it memorised rows. Here it is
  shift-invariant over the reply (`share_positions`: a word's effect on the
  word k places on is one weight, learned from every position; the three field
  positions keep their own) and its outputs start at zero, so each position
  starts as its own token's function, a bag of words' starting point.
  Learning rate 3e-3, weight decay 0.3.
- Too few updates was the next limit: at batch 256 an epoch is 52 updates
  (one step: 2.1 / 26 / 39 % after 1-3 epochs, validation 0.514 / 0.502 /
  0.496); at batch 64, 205 updates for the same CPU (~18 CPU s an epoch):
  21 / 47 / 56 / 57 % (validation 0.502 / 0.494 / 0.491 / 0.492). The bag of
  words fitted to convergence on the same rows validates at 0.482.
- From outcomes alone the reader learns slower per reply than the bag of words:
  on 65,536 replies 71 / 75 / 78 % after 1-3 epochs where the bag of words
  reaches 88 %. So the bench warm-starts it (`fit_reader(teacher=...)`): a few
  one-step epochs regress the logit of a bag-of-words logistic fitted on the
  training rows only (pretraining from the same labelled data; the validation
  rows stay unseen, the epoch is still chosen on their outcomes), then epochs on
  the outcomes. On 16,384 replies the teacher (fitted on 80 % of them) scores
  75.5 %; the distilled reader 65 / 73 / 74 % after 1-3 epochs (validation
  0.4865 / 0.4842 / 0.4825), and outcome epochs after it never validated better
  (0.4888 / 0.4850 / 0.4850; 65 / 71 / 70 %): at 16,384
  replies the outcomes hold little the teacher missed (a lead, untested: each
  fit_reader call starts AdamW and the EMA's warm-up afresh).
- Deep supervision over 4 steps from the start learned nothing in 204 updates
  (validation 0.5151, the untrained value), with the halting loss at weight 0.5
  or 0, while one step learned 8 % in 51; so the bench trains one-step epochs
  first and deep supervision after, keeping the one-step reader unless a deep
  epoch validates better. The halting head's gradient stops at y here, as the
  tabular task's does; one-step epochs train no halting (nothing to halt).
- The bench's figures (65,536 replies, warm start, one outcome epoch, one deep
  epoch): docs/BENCHMARKS.md, reader section.

Training is the tabular recipe (training.fit): deep supervision from the fixed
(y, z), the halting target "this step's P is within `halting_tolerance` of the
full-depth one", AdamW with clipping and the warmed-up EMA (optimiser.py), and
the epoch loop that keeps the EMA of the best validated epoch and the shallowest
step cap within one standard error of the best (training.train_epochs, best_cap).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from trm_demo.trm.engine import (TRMSpec, halting_steps, initial_state, sigmoid, supervision_step,
                                  supervision_step_backward)
from trm_demo.trm.knobs import TrainingKnobs
from trm_demo.trm.optimiser import Optimiser
from trm_demo.trm.training import Step, batches, best_cap, binary_losses, log_loss, train_epochs, validation_split
from trm_demo.trm.weights import TRM, init_model

PAD = 0   # funnel/tokens.py's padding id (trm/ imports nothing from funnel/)
CHUNK_ROWS = 256    # rows per forward pass in `trajectory` (memory, not speed: a tier-on default run peaks at 186 MB, 465 at 2048)


def reader_spec(vocab_size: int, seq_len: int, hidden_size: int, expansion: int, n_cycles: int,
                halt_bias_init: float = -2.0) -> TRMSpec:
    """A sequence TRM with one logit per position (position 0's is read), T = 1 as the tabular recipe."""
    return TRMSpec(n_inputs=vocab_size, hidden_size=hidden_size, expansion=expansion, n_cycles=n_cycles,
                   outer_steps=1, activation="swiglu", halt_bias_init=halt_bias_init, seq_len=seq_len, n_classes=1)


def init_reader(spec: TRMSpec, rng: np.random.Generator, reply_start: int, dtype=np.float32) -> TRM:
    """init_model's weights, then: the answer head at zero (the untrained reader answers the offset), every
    token-mixing output at zero (each position starts as a function of its own token: a bag of words' start),
    and the token mixing shift-invariant over the reply's positions (reply_start on; see `share_positions`)."""
    model = init_model(spec, rng, dtype)
    for name in _token_mixing(model.params):
        weights = model.params[name]
        if name.endswith(".w_out"):
            weights[:] = 0.0
        else:   # one random value per offset: a diagonal's mean would shrink the init by sqrt(its length)
            offset, _ = _offsets(spec.seq_len, reply_start)
            for block in _reply_blocks(weights, reply_start):
                block[...] = (rng.standard_normal(offset.max() + 1) / np.sqrt(spec.seq_len))[offset]
    model.params["head.w"][:] = 0.0
    model.ema.update({name: value.copy() for name, value in model.params.items()})
    return model


def _token_mixing(weights: dict) -> list[str]:
    return [name for name in weights if ".tokens.w_" in name]


def _offsets(length: int, reply_start: int):
    """(R, R) index of each reply x reply entry's diagonal (offset j - i, shifted to start at 0), and each's count."""
    i, j = np.indices((length - reply_start,) * 2)
    offset = j - i + (length - reply_start - 1)
    return offset, np.bincount(offset.ravel())


def _reply_blocks(matrix: np.ndarray, reply_start: int) -> list[np.ndarray]:
    """Views of the reply x reply part of each (L, L) block of an (L, k L) token-mixing matrix (SwiGLU: gate, up)."""
    length = matrix.shape[0]
    return [matrix[reply_start:, k * length + reply_start:(k + 1) * length] for k in range(matrix.shape[1] // length)]


def share_positions(grads: dict, reply_start: int) -> None:
    """Average every token-mixing gradient along its reply x reply diagonals, in place.

    Weights that start shift-invariant (init_reader) and get such gradients stay so under AdamW and the EMA
    (both elementwise): how a word acts on the word k places on is then learned once for the whole reply, not
    once per position pair (the engine's mixing is position-specific; on the history's replies it memorised
    rows, measured: the issue's notes). The field positions keep their own rows and columns."""
    for name in _token_mixing(grads):
        offset, count = _offsets(grads[name].shape[0], reply_start)
        for block in _reply_blocks(grads[name], reply_start):
            block[...] = (np.bincount(offset.ravel(), weights=block.ravel()) / count)[offset]


def read_out(logits, ids):
    """(B, L, 1) per-position logits -> (B,) their sum over real tokens, and the (B, L) weights it used (1 or 0)."""
    weights = (ids != PAD).astype(logits.dtype)
    return (logits[..., 0] * weights).sum(axis=1), weights


def read_outs(model: TRM, ids: np.ndarray, steps: int, use_ema: bool = True, chunk: int = CHUNK_ROWS):
    """Every row through `steps` supervision steps: the read-out logit (what the reply adds to any offset) and the
    halt logit after each, both (S, B).

    In chunks of `chunk` rows: each step keeps its backward tape (~1 MB a row at this size), so the 13,107 validation
    rows of a 65,536-reply history in one pass took 12.7 GB and were killed for it (measured)."""
    weights = model.ema if use_ema else model.params
    read, q = np.zeros((steps, len(ids))), np.zeros((steps, len(ids)))
    for start in range(0, len(ids), chunk):
        rows = slice(start, start + chunk)
        y, z = initial_state(model.buffers, model.spec, len(ids[rows]))
        for s in range(steps):
            y, z, logits, q[s, rows] = supervision_step(weights, model.spec, ids[rows], y, z)[:4]   # its tape freed now
            read[s, rows] = read_out(logits, ids[rows])[0]
    return read, q


def trajectory(model: TRM, ids: np.ndarray, offset: np.ndarray, steps: int, use_ema: bool = True,
               chunk: int = CHUNK_ROWS):
    """P(convert) of every row after each of `steps` supervision steps (its read-out added to `offset` (B,)), and
    the halt logit, both (S, B) (read_outs)."""
    read, q = read_outs(model, ids, steps, use_ema, chunk)
    return sigmoid(offset + read), q


def predict(model: TRM, ids, offset, step_cap: int, halt_threshold: float = 1.0):
    """P(convert) (B,) where adaptive halting stops (never before the cap at threshold 1.0), and the steps used."""
    return at_halt(*trajectory(model, ids, offset, step_cap), step_cap, halt_threshold)


def at_halt(p: np.ndarray, q: np.ndarray, step_cap: int, halt_threshold: float = 1.0):
    """From a pass of at least `step_cap` steps (P and halt logits, both (S, B)): P (B,) where adaptive halting stops
    within the cap, and the steps used (a deeper pass's first steps are the capped pass's, bit for bit)."""
    steps, _ = halting_steps(q[:step_cap], step_cap, halt_threshold)
    return p[steps - 1, np.arange(p.shape[1])], steps


def losses_and_gradients(params: dict, spec: TRMSpec, ids, offset, y, z, outcome, settled, halting_weight: float,
                         teacher=None):
    """One supervision step's loss on the read-out answer (+ offset) and BCE on the halt head, and every weight's
    gradient of loss + halting_weight x halting loss, the halt head's reaching its own weights only (y detached
    there, as the tabular task's: see the module notes). The answer's loss is BCE against the 0/1 outcome, or with
    `teacher` (B,) logits half their mean squared difference (distillation: `fit_reader`).
    -> (y, z, q, loss, halting loss, settled, grads or None if not finite)"""
    y, z, logits, q, cache = supervision_step(params, spec, ids, y, z)
    read, weights = read_out(logits, ids)
    answer = offset + read
    loss, halt_loss, d_answer, d_halt, correct = binary_losses(answer, q, outcome, settled, halting_weight)
    if teacher is not None:
        gap = answer - teacher
        loss, d_answer = 0.5 * np.mean(gap * gap), gap / len(gap)
    if not np.isfinite(loss):
        return y, z, q, loss, halt_loss, correct, None
    d_logits = (d_answer[:, None] * weights)[..., None].astype(logits.dtype)
    grads = supervision_step_backward(d_logits, np.zeros_like(q, dtype=logits.dtype), params, spec, cache)
    halt_input = cache[3]   # the least sure cell's y, (B, D)
    grads["halt.w"] += halt_input.T @ d_halt[:, None].astype(logits.dtype)
    grads["halt.b"] += d_halt.sum(keepdims=True).astype(logits.dtype)
    return y, z, q, loss, halt_loss, correct, grads


def supervised_update(model: TRM, optimiser: Optimiser, ids, offset, y, z, outcome, settled,
                      halting_weight: float, reply_start: int, teacher=None) -> Step:
    """One deep-supervision step and its optimiser step (position sharing, clipping, AdamW, EMA)."""
    y, z, q, loss, halt_loss, correct, grads = losses_and_gradients(model.params, model.spec, ids, offset, y, z,
                                                                    outcome, settled, halting_weight, teacher)
    if grads is None:
        return Step(y, z, q, float(loss), float(halt_loss), correct, float("nan"), "loss")
    share_positions(grads, reply_start)
    norm = optimiser.step(model.params, model.ema, grads)
    return Step(y, z, q, float(loss), float(halt_loss), correct, norm, None if np.isfinite(norm) else "gradient")


def fit_reader(model: TRM, ids: np.ndarray, offset: np.ndarray, outcome: np.ndarray, cfg: TrainingKnobs,
               epochs: int, supervision_steps: int, rng: np.random.Generator, reply_start: int,
               on_epoch: Callable[[dict], None] | None = None, teacher: np.ndarray | None = None) -> dict:
    """training.fit's recipe on token rows; returns {"epochs": records, "selected": {epoch, step_cap, ...}}.

    teacher: (m,) logits, one per row, to regress instead of the outcomes (the warm start: see the module notes);
    they must come from a model fitted on the training rows only (`validation_split`'s first part), since the
    epoch is still chosen on the validation rows' observed outcomes."""
    offset = offset.astype(np.float32)
    teacher = None if teacher is None else teacher.astype(np.float32)
    rows_all = np.arange(len(ids))
    (train_rows, t_train), (valid_rows, t_valid) = validation_split(rows_all, outcome, cfg.validation_share)
    optimiser = Optimiser.from_knobs(cfg)

    def train_epoch(epoch: int) -> tuple[dict, str | None]:
        loss = halting = settled_share = 0.0
        updates = 0
        for batch in batches(len(train_rows), cfg.batch_size, rng):
            rows = train_rows[batch]
            settled = np.zeros((supervision_steps, len(rows)), bool)   # weight 0: no target, no full-depth pass
            if cfg.halting_weight > 0:
                path, _ = trajectory(model, ids[rows], offset[rows], supervision_steps, use_ema=False)
                settled = np.abs(path - path[-1]) <= cfg.halting_tolerance              # (S, B)
            y, z = initial_state(model.buffers, model.spec, len(rows))
            for step in range(supervision_steps):
                result = supervised_update(model, optimiser, ids[rows], offset[rows], y, z, t_train[batch],
                                           settled[step], cfg.halting_weight, reply_start,
                                           None if teacher is None else teacher[rows])
                if result.problem:
                    return {"optimizer_steps": updates}, f"non-finite {result.problem} at epoch {epoch}"
                y, z = result.y, result.z
                loss, halting = loss + result.loss, halting + result.halting_loss
                settled_share += float(result.correct.mean())
                updates += 1
        n = max(updates, 1)
        return {"loss": loss / n, "halting_loss": halting / n, "settled_share": settled_share / n,
                "optimizer_steps": updates}, None

    def validate() -> dict:
        p, _ = trajectory(model, ids[valid_rows], offset[valid_rows], supervision_steps)
        cap, loss = best_cap(log_loss(p, t_valid))
        return {"validation_step_cap": cap, "validation_log_loss": loss}

    log, chosen = train_epochs(model.ema, epochs, train_epoch, validate, on_epoch)
    return {"epochs": log, "selected": {"epoch": chosen["epoch"], "step_cap": chosen["validation_step_cap"],
                                        "validation_log_loss": chosen["validation_log_loss"]}}


def free_parameters(model: TRM, reply_start: int) -> int:
    """Weights the reader can set independently: a shared diagonal of a token-mixing block counts once."""
    _, count = _offsets(model.spec.seq_len, reply_start)
    tied = sum(len(_reply_blocks(model.params[name], reply_start)) * (count.sum() - len(count))
               for name in _token_mixing(model.params))
    return model.n_parameters - int(tied)


def flops_per_step(spec: TRMSpec) -> float:
    """Multiply-adds x2 of one supervision step's forward pass for one row (what a read costs per step)."""
    d, length, e = spec.hidden_size, spec.seq_len, spec.expansion
    gate = 2 if spec.activation == "swiglu" else 1
    tokens = d * (length * gate * e * length + e * length * length)
    channels = length * (d * gate * e * d + e * d * d)
    return 2.0 * spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks * (tokens + channels)

