"""Trust from outcomes: how far the cascade believes the reader and its base belief, fitted on what was observed.

The cascade's belief (cascade.py) about a candidate's true conversion logit t:
    the base    t ~ N(m, s2)                 m from the keyword reader's P(convert) (the TRM's logit + keyword
                                             flags of the reply, keyword.py: the best free belief), s2 its error
    a reading   r = t + bias + e, e ~ N(0, reading_var)
None of bias, reading_var or s2 is configured. They are fitted on readings whose outcomes are known: at
set-up the reader reads `cascade.calibration_reads` replies of the recent log's validation fifth (rows the
TRM never trained on, with their observed 0/1 outcomes, and their keyword belief from a keyword reader
refitted without them: simulation.history_beliefs), and in the run every read candidate adds its gap and
every read-and-pursued one its outcome (the cascade refits after each chunk):

1. The gap g = r - m ~ N(bias, s2 + reading_var): its mean is the reader's bias (relative to the base,
   which is fitted on outcomes and so calibrated), its variance `spread` the two errors together.
2. The outcomes split the spread: with w the base's share (s2 = w spread, reading_var = (1 - w) spread),
   the belief after the reading predicts P(y = 1 | m, r) = E[sigmoid(t)]; the w on a grid whose
   predictions give the observed outcomes the highest likelihood is the fit. A reader that adds nothing
   predicts them no better than the base: w -> 0, so the reading gets no weight and no value of
   information, and the cascade degrades into the keyword reader; a biased reader is corrected, not trusted
   less. With blank replies the keyword reader is the TRM (recalibrated), and so is what it degrades into.

One spread for every candidate: two per-candidate error models were measured and neither earned its keep.
- Surface cues of where the keyword reader cannot read (two or more negation cues in a clause, a
  contrast or concession, a past-time cue, a quantity or range, someone else's situation, a reply over 25
  words), the squared gap regressed on them (ridge 1.0, the 512 set-up readings) and scaling s2 per
  candidate: on held-out seeds 600-609 (first 500 opportunities, the deferral curve) the VOI order reached
  96.03 / 95.98 / 96.10 % of the oracle at 10 / 20 / 40 % read against 96.31 / 96.46 / 96.45 % with the one
  spread (paired: -0.28 +- 0.40, -0.49 +- 0.44, -0.35 +- 0.38 points); the base-top-k order 95.31 / 96.11 /
  96.43 %, random 94.97 / 95.37 / 95.79 %, hindsight 97.91 / 97.84 / 97.72 %. The cue coefficients change
  sign from seed to seed: 512 readings do not pin them, and the LLM errs on the same constructions.
- Before, on the TRM base: a ridge regression of the squared gap on the 17 fields (seeds 600-604: VOI at
  40 % read 93.5 % vs 95.0 %): the gap's spread by field is as much the reader's as the base's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from trm_demo.config import Config
from trm_demo.funnel.cascade import belief_from_estimate, combine, expected_probability
from trm_demo.funnel.market import Market
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulated_llm import text_readings

SHARES = np.linspace(0.0, 0.98, 50)   # the grid of w, the TRM's share of the gap's spread
MIN_VAR = 0.01                        # floor on either variance (logit^2): a zero would divide by zero
WINDOW = 2048                         # readings kept for the fit, the latest: memory and refit time stay flat


@dataclass(frozen=True)
class Trust:
    """The fitted trust: reader bias and noise, and the TRM's error variance."""
    bias: float             # the reader's logit minus the truth's, on average (relative to the TRM)
    reading_var: float      # the reader's noise variance (logit^2)
    spread: float           # variance of reading - TRM: the TRM's error and the reader's noise together
    share: float            # w, the TRM's error's share of the spread
    readings: int           # readings it was fitted on
    outcomes: int           # of them, with an observed outcome

    @property
    def error_var(self) -> float:
        """The TRM's error variance (logit^2)."""
        return max(self.share * self.spread, MIN_VAR)

    @property
    def error_sd(self) -> float:
        return math.sqrt(self.error_var)


def prior_trust(error_sd: float) -> Trust:
    """Before any reading: the configured TRM error, and a reader trusted with nothing (its noise 10^6)."""
    spread = error_sd ** 2 + 1e6
    return Trust(0.0, 1e6, spread, error_sd ** 2 / spread, 0, 0)


def fit_trust(p: np.ndarray, reading: np.ndarray, outcome: np.ndarray, start: Trust) -> Trust:
    """Fit on readings (m,) of candidates with the TRM's P(convert) (m,) and 0/1 outcomes (m,) (NaN where not
    observed). `start` gives the TRM's error variance for its belief's mean (the fit moves it only a little:
    refit with the result to converge)."""
    if len(reading) < 2:
        return start
    mean, _ = belief_from_estimate(p, start.error_var)
    gap = reading - mean                                                       # (m,)
    bias = float(gap.mean())
    spread = max(float(np.mean((gap - bias) ** 2)), 2 * MIN_VAR)
    seen = ~np.isnan(outcome)
    if not seen.any():   # nothing yet splits the spread: keep the TRM's share
        return Trust(bias, max((1 - start.share) * spread, MIN_VAR), spread, start.share, len(gap), 0)
    reading_var = np.maximum((1.0 - SHARES) * spread, MIN_VAR)                 # (W,)
    error_var = np.maximum(SHARES * spread, MIN_VAR)[:, None]                  # (W, 1)
    loglik = outcome_loglik(p[seen], reading[seen] - bias, outcome[seen], error_var, reading_var[:, None])
    best = int(np.argmax(loglik))
    return Trust(bias, float(reading_var[best]), spread, float(SHARES[best]), len(gap), int(seen.sum()))


def outcome_loglik(p: np.ndarray, read: np.ndarray, outcome: np.ndarray, error_var, reading_var) -> np.ndarray:
    """The outcomes' log-likelihood under the belief after each reading, for each pair of variances of a grid:
    p (o,) the base's P(convert), read (o,) the readings with their bias removed, outcome (o,) 0/1;
    error_var, reading_var (W, 1) or numbers -> (W,)"""
    prior_mean, _ = belief_from_estimate(p[None], error_var)                   # (W, o)
    post_mean, post_var = combine(prior_mean, error_var, read[None], reading_var)
    q = np.clip(expected_probability(post_mean, post_var), 1e-6, 1 - 1e-6)     # (W, o)
    # outcome log q + (1 - outcome) log(1 - q) with each logarithm taken only where its outcome is: the same sums
    # (the other term is an exact 0), half the logarithms: 1.3x faster (the refits are half of a chunk-10 run).
    converted, loglik = outcome == 1, np.empty_like(q)
    loglik[:, converted], loglik[:, ~converted] = np.log(q[:, converted]), np.log1p(-q[:, ~converted])
    return loglik.sum(axis=1)


def surprise(p: np.ndarray, reading: np.ndarray, trust: Trust) -> np.ndarray:
    """Each reading's squared standardised gap to the base belief, (m,): (reading - mean - bias)^2 / spread, 1 on
    average where `trust` describes these readings, above 1 where the gaps are wider than it assumed."""
    mean, _ = belief_from_estimate(p, trust.error_var)
    return (reading - mean - trust.bias) ** 2 / trust.spread


@dataclass
class Calibration:
    """The latest WINDOW readings with known gaps (and outcomes, where pursued) and the trust fitted on them;
    one per world. data: (3, m) rows: the TRM's P(convert), the reading (logit), the outcome (NaN: not observed).
    lineage: a digest of every add so far; copies that added the same readings hold the same data (the replays
    share a refit by it, simulation._learn: hashing the whole window per world per chunk cost more)."""
    trust: Trust
    data: np.ndarray = field(default_factory=lambda: np.zeros((3, 0)))
    lineage: bytes = b""

    def add(self, p: np.ndarray, reading: np.ndarray, outcome: np.ndarray) -> None:
        """Readings (m,) with their candidates' TRM P(convert) (m,) and outcomes (m,) (NaN: not observed)."""
        added = np.stack([p, reading, outcome]).astype(float)
        self.data = np.concatenate([self.data, added], axis=1)[:, -WINDOW:]
        self.lineage = hashlib.blake2b(self.lineage + added.tobytes(), digest_size=16).digest()

    def refit(self, rounds: int = 1) -> Trust:
        for _ in range(rounds):
            self.trust = fit_trust(*self.data, self.trust)
        return self.trust

    def copy(self) -> "Calibration":
        return Calibration(self.trust, self.data, self.lineage)   # add() builds a new array: no shared write


# --- the set-up: the reader reads part of the history ---

class HistoryReplies(NamedTuple):
    """History rows as the readers take a block (reading.Readings.read): one candidate per row."""
    ids: np.ndarray             # (m,) negative, so that a real reader's memory never mixes them with the run's
    market: Market              # (m, 1)
    text_reading: np.ndarray    # (m, 1) the simulated LLM's reading of each reply, before its noise
    reading_noise: np.ndarray   # (m, 1) standard normal


class Labelled(NamedTuple):
    """The history rows the reader reads at set-up, with what is known of them before reading."""
    market: Market              # (m, 1)
    outcome: np.ndarray         # (m,) observed 0/1
    base: np.ndarray            # (m,) the base belief's P(convert): the keyword reader's, fitted without these rows


class SetUp(NamedTuple):
    calibration: Calibration
    reads: int                  # history replies read
    cost: float                 # what those reads cost, $ (once per deployment, not per opportunity)
    reading: np.ndarray         # (m,) the reader's logit of each set-up row (cascade3 fits its own trust on them)
    ok: np.ndarray              # (m,) bool: the read answered


def set_up(cfg: Config, rows: Labelled, readings) -> SetUp:
    """The reader reads the set-up rows (the last `cascade.calibration_reads` replies of the recent log's validation
    split: simulation.history_beliefs) and the trust is fitted on their outcomes. The same rows, outcomes and reader
    as the run's, so a biased or noisy reader shows here first."""
    take = len(rows.outcome)
    replies = HistoryReplies(-1 - np.arange(take), rows.market, text_readings(rows.market),
                             rng_for(cfg.simulation.seed, "history_llm").standard_normal((take, 1)))
    reading, ok, cost = readings.read(replies, np.arange(take), np.zeros(take, int), history=True)
    return SetUp(trusted_on(cfg, rows.base[ok], reading[ok], rows.outcome[ok]), take, float(cost.sum()), reading, ok)


def trusted_on(cfg: Config, base: np.ndarray, reading: np.ndarray, outcome: np.ndarray) -> Calibration:
    """The trust fitted on readings (m,) logits of candidates with the base belief's P(convert) (m,) and their 0/1
    outcomes (m,), from the configured prior: the set-up's fit (the cascade's, on the keyword reader's belief, and
    cascade3's, on the reading tier's: local_reading.py)."""
    calibration = Calibration(prior_trust(cfg.cascade.prior_error_sd))
    calibration.add(base, reading, outcome)
    calibration.refit(rounds=3)
    return calibration
