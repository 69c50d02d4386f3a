"""The reading TRM as a tier of the funnel (issue 25): a tiny local reader of the reply, between the fields and the LLM.

The reading TRM (trm/reader.py over funnel/tokens.py) is loaded from its checkpoint as shipped: it is not fine-tuned
in a run (its training takes ~309 CPU s a seed: `python -m bench.reader`, see docs/BENCHMARKS.md). It runs at the step cap
and halting threshold its checkpoint selected (the one-step reader); the thermostat does not pace its depth, because
depth does not pay (the benchmark page: a reader trained over 4 steps is best at step 2 and still below it).

Two strategies use it (strategies.py):
- `trm_reader` reads every candidate and decides on its calibrated probability alone (no LLM);
- `cascade3` starts from that same belief (every candidate read locally, paid as trm_reader pays) and hands it to
  the cascade's LLM step (simulation.run_cascade), which reads where the value of reading given that belief beats
  `reading_trm.llm_hurdle` x the thermostat's hurdle x the LLM's price.

What a deployment knows, never the truth:
- its probability: a logistic regression of the set-up rows' observed outcomes on the fields-only TRM logit and
  the reading TRM's own logit (what the text adds to its offset), fitted as the keyword reader is (on outcomes);
- cascade3's trust: the LLM's bias and noise and the belief's error, fitted as the cascade's are
  (calibration.trusted_on) on the set-up rows' LLM readings and outcomes, against the tier's belief of each row
  calibrated out of fold (two halves, each by a fit on the other: a row calibrated on its own outcome looks surer
  than it is, and the LLM would then look worth less than it is).
Why this design (issue 25's diagnosis on held-out seeds 101-110; the hurdle's table: `python -m bench.tier_hurdle`): the earlier cascade3 read
the reading TRM only where its value of information over the keyword reader's belief beat its price, then
Gaussian-combined the two; its belief after the local read was assumed far surer than it was (seed 101: error
variance 0.019 assumed against 0.239 realised, logit^2), so the LLM was read where it did not pay and not where
it did, and trm_reader, which never calls the LLM, beat it. Starting from trm_reader's calibrated belief (excess
log-loss 0.018 against the combined belief's 0.020, seed 101), the LLM adds little: even reading every candidate
and combining with weights fitted on the truth would gain -$2 to +$73 per run (seeds 101-105) before its ~$320 of reads. So the
LLM's hurdle is chosen on the held-out seeds among multiples of the thermostat's, "never read" (equal to
trm_reader) included: x4 was best, +$3 +- 15 per run against never reading (x1: -$40 +- 52, x2: -$11 +- 33).
A read is priced as the TRM's own steps are (simulation.trm_cost_per_step), scaled by its FLOPs per step against
the tabular TRM's: `price_per_read`, which bench/reader.py uses too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import Callable

import numpy as np

from trm_demo.config import Config, SimulationConfig
from trm_demo.errors import CheckpointError
from trm_demo.funnel.calibration import Labelled
from trm_demo.funnel.cascade import logit
from trm_demo.funnel.market import Market, squash
from trm_demo.funnel.messages import CONSTRUCTIONS, FACTS
from trm_demo.funnel.tokens import SEQ_LEN, VOCAB_SIZE, encode_market
from trm_demo.trm.engine import TRMSpec, sigmoid
from trm_demo.trm.logistic import Logistic, fit_logistic
from trm_demo.trm.reader import at_halt, flops_per_step, predict, read_outs
from trm_demo.trm.training import PROB_EPS, excess_log_loss
from trm_demo.trm.weights import TRM, load_checkpoint, resolve_checkpoint

SUB_BATCH = 2048   # rows per reading-TRM call: a (2048, 60, 24) float32 activation is 12 MB
MIN_ROWS = 8       # set-up rows below which nothing is fitted: the reading is taken as it is
REBUILD = "give one written by python -m bench.reader --out PATH, or set reading_trm.enabled: false"
DEPTH_OPPORTUNITIES = 100   # the run's first opportunities the report's depth chart reads at every trained step


def tabular_flops_per_step(spec: TRMSpec) -> float:
    """Multiply-adds x2 of one supervision step of the tabular TRM for one candidate (the unit its price is in)."""
    d, e = spec.hidden_size, spec.expansion
    gate = 2 if spec.activation == "swiglu" else 1
    return 2.0 * spec.outer_steps * (spec.n_cycles + 1) * spec.n_blocks * (d * gate * e * d + e * d * d)


def price_per_read(sim: SimulationConfig, tabular: TRMSpec, reading: TRMSpec, step_cap: float) -> float:
    """$ per read: the TRM's base cost plus its per-step cost for `step_cap` steps, each as many tabular steps as
    the reading TRM's step has FLOPs."""
    return price_of_flops(sim, tabular, flops_per_step(reading), step_cap)


def price_of_flops(sim: SimulationConfig, tabular: TRMSpec, flops: float, steps: float = 1.0) -> float:
    """$ per read of a local reader doing `steps` x `flops`: the TRM's base cost plus its per-step cost for as many
    tabular steps as that has FLOPs (any local reader: bag_of_words.py's too)."""
    return sim.trm_base_cost + sim.trm_cost_per_step * steps * flops / tabular_flops_per_step(tabular)


@dataclass(frozen=True)
class ReadingTier:
    model: TRM
    step_cap: int               # the checkpoint's selected cap
    depth: int                  # the steps it was trained to (the report's depth chart)
    halt_threshold: float       # the checkpoint's (1.0: never halts before the cap)
    price: float                # $ per read (price_per_read)
    calibration: Logistic       # P(convert) from [fields-only logit, the reading TRM's own logit]
    setup_belief: np.ndarray | None   # (m,) its P(convert) of each set-up row calibrated out of fold (None: too few)
    setup_reads: int            # history replies it read at set-up

    def own_logit(self, market: Market) -> np.ndarray:
        """What the text adds: the reading TRM's logit minus its offset, for every candidate. (n, K) -> (n, K)
        The read-out is added to the offset, so reading at offset 0 gives it for any fields-only logit."""
        n, k = market.messages.shape
        ids = encode_market(market).ids
        p = np.concatenate([predict(self.model, ids[at:at + SUB_BATCH], np.zeros(len(ids[at:at + SUB_BATCH])),
                                    self.step_cap, self.halt_threshold)[0] for at in range(0, len(ids), SUB_BATCH)])
        return logit(np.clip(p, PROB_EPS, 1 - PROB_EPS)).reshape(n, k)

    def probability(self, fields_logit: np.ndarray, own: np.ndarray) -> np.ndarray:
        """The calibrated P(convert) of each candidate: (...), (...) -> (...)"""
        return calibrated(self.calibration, fields_logit, own)


def calibrated(calibration: Logistic, fields_logit: np.ndarray, own: np.ndarray) -> np.ndarray:
    """A local reader's P(convert) from the fields-only logit and its own logit (fit_reading's fit): (...) -> (...)"""
    return sigmoid(_design(fields_logit, own) @ calibration.weights + calibration.bias)


def _design(fields_logit, own):
    return np.stack([fields_logit, own], axis=-1)


@cache
def reading_trm(raw_path: str) -> tuple[TRM, dict]:
    """The reading TRM's checkpoint and its metadata, checked: the command line calls this before anything on
    disk changes (a bad path is one line naming its key, and no fine-tuning or memo first), the run again (cached:
    loaded once per process; the run never trains it)."""
    path = resolve_checkpoint(raw_path)
    try:
        model, meta = load_checkpoint(path)
    except CheckpointError as err:
        raise CheckpointError(f"config key 'reading_trm.checkpoint': {err}; {REBUILD}", err.fix) from None
    spec = model.spec
    if not spec.is_sequence or spec.seq_len != SEQ_LEN or spec.n_inputs != VOCAB_SIZE or spec.n_classes != 1:
        raise CheckpointError(f"config key 'reading_trm.checkpoint': '{path}' is not a reading TRM for this "
                              f"vocabulary ({VOCAB_SIZE} tokens, {SEQ_LEN} positions); {REBUILD}", fix="size")
    return model, meta


def load_tier(cfg: Config, tabular: TRMSpec, fields_logit: np.ndarray, labelled: Labelled) -> ReadingTier:
    """The reading TRM of `reading_trm.checkpoint`, calibrated on the set-up rows (`labelled`, with the fields-only
    TRM logit of each (m,); the rows the LLM reader's trust is fitted on: calibration.set_up); priced against the
    `tabular` TRM's step."""
    model, meta = reading_trm(cfg.reading_trm.checkpoint)
    spec = model.spec
    selected = meta.get("selected", {})
    cap = int(selected.get("step_cap", meta.get("supervision_steps", 1)))   # else the depth it was trained to
    depth = int(meta.get("supervision_steps", cap))
    tier = ReadingTier(model, cap, depth, float(meta.get("halt_threshold", 1.0)),
                       price_per_read(cfg.simulation, tabular, spec, cap), Logistic(np.ones(2), 0.0), None,
                       len(labelled.outcome))
    calibration, setup_belief = fit_reading(tier.own_logit, fields_logit, labelled)
    return dataclasses.replace(tier, calibration=calibration, setup_belief=setup_belief)


def fit_reading(own_logit: Callable[[Market], np.ndarray], fields_logit: np.ndarray,
                labelled: Labelled) -> tuple[Logistic, np.ndarray | None]:
    """A local reader's calibration on the set-up rows `labelled` (fields_logit: the fields-only TRM logit of each
    (m,)), from its own logit (own_logit: Market (n, K) -> (n, K), what its text adds), and its P(convert) of each
    row calibrated out of fold (m,): two halves, each by a fit on the other (a row calibrated on its own outcome
    looks surer than it is, and a trust fitted on it would undervalue every LLM reading). Below MIN_ROWS rows
    nothing is read or fitted: the reading is taken as it is (None for the rows' belief)."""
    if len(labelled.outcome) < MIN_ROWS:
        return Logistic(np.ones(2), 0.0), None
    own, y = own_logit(labelled.market)[:, 0], labelled.outcome
    x = _design(fields_logit, own)
    half = len(y) // 2
    out_of_fold = np.empty(len(y))
    for fit, apply in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        out_of_fold[apply] = fit_logistic(x[fit], y[fit]).predict(x[apply])
    return fit_logistic(x, y), out_of_fold


# --- what the report shows of it (the truth is used to score only) ---

def _through(market: Market) -> dict[str, np.ndarray]:
    """construction -> (n, K) bool: the reply states a fact through it."""
    h = market.hidden
    return {name: np.any([h.construction[f] == c for f in FACTS], axis=0) for c, name in enumerate(CONSTRUCTIONS)}


def read_with_depth(tier: ReadingTier, market: Market, opportunities: int) -> tuple[np.ndarray, np.ndarray]:
    """The reading TRM's own logit of every candidate of `market` (n, K), as tier.own_logit gives it, and the
    read-outs after each trained step (S, m) of the first `opportunities`' m candidates: those are read to full
    depth once, for the depth chart, and their own logit is that pass's at the cap (the run reads at the cap only)."""
    n, k = market.messages.shape
    deep, halt = read_outs(tier.model, encode_market(market.rows(slice(0, opportunities))).ids, tier.depth)
    p = at_halt(sigmoid(deep), halt, tier.step_cap, tier.halt_threshold)[0]
    head = logit(np.clip(p, PROB_EPS, 1 - PROB_EPS)).reshape(-1, k)
    rest = tier.own_logit(market.rows(slice(opportunities, None))) if n > opportunities else np.empty((0, k))
    return np.concatenate([head, rest]), deep


def depth_by_construction(market: Market, fields_logit: np.ndarray, read: np.ndarray) -> list[dict]:
    """The reading TRM's share of a perfect reading's gain after each trained step, on `market`'s candidates
    (fields_logit (n, K) the TRM's; read (S, n x K) the reading TRM's read-outs, read_with_depth): excess log-loss
    against the true P(convert) of the fields-only TRM, of the reading TRM at that offset (uncalibrated, as
    bench/reader.py scores it) and of a perfect reading (market.read_logit), over every candidate and over those
    stating a fact through each construction."""
    truth = market.p_true.ravel()
    path = sigmoid(fields_logit.ravel() + read)                                                     # (S, m)
    fields = excess_log_loss(sigmoid(fields_logit.ravel()), truth)
    perfect = excess_log_loss(squash(market.read_logit.ravel()), truth)
    reading = excess_log_loss(path, truth)                                                          # (S, m)
    out = []
    for name, rows in {"all": np.ones(truth.size, bool), **{c: r.ravel() for c, r in _through(market).items()}}.items():
        gain = fields[rows].mean() - perfect[rows].mean() if rows.any() else 0.0
        out.append({"construction": name, "candidates": int(rows.sum()),
                    "share_of_perfect_gain": [float((fields[rows].mean() - step[rows].mean()) / gain) if gain > 0
                                              else None for step in reading]})
    return out


def reading_examples(tier: ReadingTier, market: Market, fields_logit: np.ndarray, keyword: np.ndarray,
                     llm_logit: np.ndarray, own: np.ndarray) -> list[dict]:
    """The first reply of `market` stating a fact through each construction (one not shown for an earlier one), with
    each tier's P(convert) beside the true one: the fields-only TRM's, the keyword reader's, the reading TRM's
    (calibrated from its own logit `own`, the run's), the simulated LLM's reading (before its noise). All (n, K) but
    the reply."""
    picks, shown = [], np.zeros(market.messages.shape, bool)
    for name, rows in _through(market).items():
        if (rows & ~shown).any():
            i, j = np.argwhere(rows & ~shown)[0]
            picks.append((name, i, j))
            shown[i, j] = True
    if not picks:
        return []
    rows, cols = np.array([i for _, i, _ in picks]), np.array([j for _, _, j in picks])
    reading = tier.probability(fields_logit[rows, cols], own[rows, cols])
    return [{"construction": name, "reply": str(market.messages[i, j]),
             "fields_only": float(sigmoid(fields_logit[i, j])), "keyword": float(keyword[i, j]),
             "reading_trm": float(p), "llm": float(squash(llm_logit[i, j])), "truth": float(market.p_true[i, j])}
            for (name, i, j), p in zip(picks, reading)]
