"""The reading TRM as a tier of the funnel (issue 25): a tiny local reader of the reply, between the fields and the LLM.

The reading TRM (trm/reader.py over funnel/tokens.py) is loaded from its checkpoint as shipped: it is not fine-tuned
in a run (its training takes ~436 CPU s: `python -m bench.reader`, see docs/BENCHMARKS.md). It runs at the step cap
and halting threshold its checkpoint selected; the thermostat does not pace its depth, because depth does not pay
(the benchmark page: its share of a perfect reading's gain falls with every step after the first).

Two strategies use it (strategies.py):
- `trm_reader` reads every candidate and decides on its calibrated probability alone (no LLM);
- `cascade3` starts from the cascade's free belief (the keyword reader's), reads a candidate with the reading TRM
  where that reading's value of information beats its price, then hands the updated belief to the cascade's LLM
  step (simulation.run_cascade), which reads where the value of reading given that belief beats the LLM's price.

What a deployment knows, never the truth:
- its probability: a logistic regression of the set-up rows' observed outcomes on the fields-only TRM logit and
  the reading TRM's own logit (what the text adds to its offset), fitted as the keyword reader is (on outcomes);
- its trust: bias and noise against the cascade's base belief, fitted on the same rows' outcomes as the LLM
  reader's (calibration.py), from readings calibrated out of fold (two halves, each calibrated by a fit on the
  other: a reading calibrated on its own outcome looks surer than it is), once, at set-up. The base's error is the
  cascade's (fitted with the LLM's readings), not refitted here: the reading TRM reads the fields the base already
  holds, so a split of its own gaps' spread (calibration.fit_trust) finds the base nearly exact (measured, seed 7:
  base error 0.035 against the cascade's 0.39, logit^2), the belief after a local read looks far surer than it is
  and the LLM is then read too little (-$41 +- 29 per run against the cascade over seeds 500-519). Its noise is
  chosen on a grid by the outcomes' likelihood, "never trusted" (READER_UNTRUSTED) included and preferred unless
  a noise raises the log-likelihood by more than one (Akaike's price of the one fitted number): a reading that
  adds nothing gets no weight, no value of information, and is never read (a pure-noise reader, seed 7: noise
  20 logit^2 chosen without the penalty, 174 reads at a VOI above its price; untrusted with it). With both, over
  seeds 500-519: cascade3 - cascade -$2 +- 7 per run (a tie), 108 LLM reads per run against 119.
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
from trm_demo.funnel.calibration import MIN_VAR, Labelled, Trust, outcome_loglik
from trm_demo.funnel.cascade import belief_from_estimate, combine, logit, value_of_reading
from trm_demo.funnel.market import Market, squash
from trm_demo.funnel.messages import CONSTRUCTIONS, FACTS
from trm_demo.funnel.tokens import SEQ_LEN, VOCAB_SIZE, encode_market
from trm_demo.trm.engine import TRMSpec, sigmoid
from trm_demo.trm.logistic import Logistic, fit_logistic
from trm_demo.trm.reader import at_halt, flops_per_step, predict, read_outs
from trm_demo.trm.training import PROB_EPS, excess_log_loss
from trm_demo.trm.weights import TRM, load_checkpoint, resolve_checkpoint

SUB_BATCH = 2048   # rows per reading-TRM call: a (2048, 60, 24) float32 activation is 12 MB
MIN_ROWS = 8       # set-up rows below which nothing is fitted: the reading is taken as it is and never trusted
READER_UNTRUSTED = 1e6   # noise variance (logit^2) of a reading given no weight (calibration.prior_trust's)
NOISE_VARS = np.r_[np.geomspace(MIN_VAR, 100.0, 41), READER_UNTRUSTED]   # the grid its noise is chosen on
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
    trust: Trust                # its bias and noise against the cascade's base belief (error_var: the base's at set-up)
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


def load_tier(cfg: Config, tabular: TRMSpec, fields_logit: np.ndarray, labelled: Labelled,
              cascade: Trust) -> ReadingTier:
    """The reading TRM of `reading_trm.checkpoint`, calibrated and trusted on the set-up rows (`labelled`, with the
    fields-only TRM logit of each (m,); the rows the LLM reader's trust is fitted on: calibration.set_up) beside
    the base error of the cascade's trust fitted there; priced against the `tabular` TRM's step."""
    model, meta = reading_trm(cfg.reading_trm.checkpoint)
    spec = model.spec
    selected = meta.get("selected", {})
    cap = int(selected.get("step_cap", meta.get("supervision_steps", 1)))   # else the depth it was trained to
    depth = int(meta.get("supervision_steps", cap))
    tier = ReadingTier(model, cap, depth, float(meta.get("halt_threshold", 1.0)),
                       price_per_read(cfg.simulation, tabular, spec, cap), Logistic(np.ones(2), 0.0),
                       _trust(cascade.error_var, 0.0, READER_UNTRUSTED, 0), len(labelled.outcome))
    calibration, trust = fit_reading(tier.own_logit, fields_logit, labelled, cascade.error_var)
    return dataclasses.replace(tier, calibration=calibration, trust=trust)


def fit_reading(own_logit: Callable[[Market], np.ndarray], fields_logit: np.ndarray, labelled: Labelled,
                error_var: float) -> tuple[Logistic, Trust]:
    """A local reader's calibration and trust on the set-up rows `labelled` (fields_logit: the fields-only TRM logit
    of each (m,); error_var: the base error of the cascade's trust fitted there), from its own logit
    (own_logit: Market (n, K) -> (n, K), what its text adds). Below MIN_ROWS rows nothing is read or fitted: the
    reading is taken as it is and never trusted."""
    if len(labelled.outcome) < MIN_ROWS:
        return Logistic(np.ones(2), 0.0), _trust(error_var, 0.0, READER_UNTRUSTED, 0)
    own, y = own_logit(labelled.market)[:, 0], labelled.outcome
    x = _design(fields_logit, own)
    half = len(y) // 2
    out_of_fold = np.empty(len(y))
    for fit, apply in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        out_of_fold[apply] = logit(np.clip(fit_logistic(x[fit], y[fit]).predict(x[apply]), PROB_EPS, 1 - PROB_EPS))
    return fit_logistic(x, y), fit_local_trust(labelled.base, out_of_fold, y, error_var)


def fit_local_trust(base: np.ndarray, reading: np.ndarray, outcome: np.ndarray, error_var: float) -> Trust:
    """Bias and noise of readings (m,) logits against the base belief (m,) P(convert) of error `error_var`, from
    the 0/1 outcomes (m,): the bias is the mean gap, the noise the NOISE_VARS entry whose belief after reading
    gives the outcomes the highest likelihood, less one for a trusted entry (AIC: the noise is fitted)."""
    mean, _ = belief_from_estimate(base, error_var)
    bias = float(np.mean(reading - mean))
    loglik = outcome_loglik(base, reading - bias, outcome, error_var, NOISE_VARS[:, None]) \
        - (NOISE_VARS < READER_UNTRUSTED)
    return _trust(error_var, bias, float(NOISE_VARS[int(np.argmax(loglik))]), len(reading))


def _trust(error_var: float, bias: float, reading_var: float, readings: int) -> Trust:
    """A Trust whose spread is the two variances' sum and the base's share its error's (calibration.Trust)."""
    spread = error_var + reading_var
    return Trust(bias, reading_var, spread, error_var / spread, readings, readings)


def read_first(base: np.ndarray, reading_logit: np.ndarray, cascade_trust: Trust, tier: ReadingTier,
               allowed: np.ndarray, sim: SimulationConfig):
    """cascade3's first paid tier: each candidate whose reading's value of information beats its price is read
    (all in one go: a local read waits on nothing, so there are no rounds), and its belief becomes the local
    reading combined with the base. base (n, K) P(convert); reading_logit (n, K) the tier's calibrated logit;
    allowed (n,) False where the base is not the keyword reader's (the TRM guard tripped).
    -> the belief (mean, var) (n, K) the LLM step starts from, and which candidates were read (n, K) bool.
    The belief before is the cascade's (its trust's base error: refitted in the run); a candidate not read keeps
    it, bit for bit."""
    trust = tier.trust
    mean, var = belief_from_estimate(base, cascade_trust.error_var)
    voi = value_of_reading(mean, var, trust.reading_var, sim.conversion_value, sim.outreach_cost)
    read = (voi > tier.price) & allowed[:, None]
    mean[read], var[read] = combine(mean[read], var[read], reading_logit[read] - trust.bias, trust.reading_var)
    return mean, var, read


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
