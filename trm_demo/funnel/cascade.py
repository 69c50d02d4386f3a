"""The TRM -> keyword reader -> LLM cascade: read a candidate's reply only where the reading is worth its price.

The TRM sees the structured fields; the free keyword reader (keyword.py) adds keyword
flags of the reply to the TRM's logit; the LLM reads fields and reply. A deployment
knows neither the truth nor the hidden factors, only the keyword reader's estimate
(the best free belief: it decides everything the LLM is not paid to read) and what
readings with known outcomes taught it (calibration.py). So every estimate is a
Gaussian belief about the true conversion logit:

    before reading  logit ~ N(mean, error_var)   mean from the keyword reader's P(convert),
                    error_var its error variance (fitted)
    a reading r     r = logit + bias + noise, noise ~ N(0, reading_var) (both fitted)
    after reading   the inverse-variance combination of the two: a noisy reading never
                    simply replaces the base belief (measured: replacing loses money).

Value of information of reading candidate j: the expected net value of the job's
decision after seeing r_j (averaged over r_j's predictive distribution by
Gauss-Hermite quadrature), minus its value now. It is zero where no plausible
reading could change the decision and largest near break-even and near ties.
The cascade reads in rounds: each round, in every job, the candidate with the
highest VOI is read if its VOI beats the hurdle (price x the thermostat's
multiplier); beliefs update and VOI is recomputed before the next round.
"""

from __future__ import annotations

import math
import numpy as np

from trm_demo.trm.engine import sigmoid

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(20)   # E[f(Z)], Z ~ N(0, 1)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def logit(p):
    return np.log(p) - np.log1p(-p)


def expected_probability(mean, var):
    """E[sigmoid(logit)] for logit ~ N(mean, var): the probit approximation (error < 0.02)."""
    return sigmoid(mean / np.sqrt(1.0 + math.pi * var / 8.0))


def belief_from_estimate(p, error_var):
    """The Gaussian belief whose expected probability is the base's (calibrated) P(convert): mean, var.
    error_var: a number, or one per candidate (broadcast against p)."""
    # Each factor at its own shape, then broadcast: calibration's grid (W, 1) x (1, m) takes m logs, not W x m.
    error_var = np.asarray(error_var, float)
    mean = logit(np.clip(p, 1e-6, 1 - 1e-6)) * np.sqrt(1.0 + math.pi * error_var / 8.0)
    return mean, np.broadcast_to(error_var, mean.shape).copy()


def combine(mean, var, reading, reading_var: float):
    """Inverse-variance combination of a belief and a reading of the same logit."""
    posterior_var = 1.0 / (1.0 / var + 1.0 / reading_var)
    return posterior_var * (mean / var + reading / reading_var), posterior_var


def value_of_reading(mean, var, reading_var: float, conversion_value: float, outreach_cost: float):
    """VOI of reading each candidate, ($) (N, K): expected gain of the job's decision from that one reading.

    mean, var: (N, K) beliefs. The job's decision is the shared rule: pursue the best
    candidate if its expected value beats outreach, else skip (worth 0)."""
    value = expected_probability(mean, var) * conversion_value - outreach_cost          # (N, K)
    now = np.maximum(value.max(axis=1), 0.0)                                            # (N,)
    # The best alternative to each candidate: the job's best other candidate, or skipping.
    top2 = -np.sort(-value, axis=1)[:, :2] if value.shape[1] > 1 else np.c_[value, np.full(len(value), -np.inf)]
    other = np.where(value >= top2[:, :1], top2[:, 1:2], top2[:, :1])
    other = np.maximum(other, 0.0)                                                      # (N, K)
    # Predictive distribution of the reading, and the belief after each quadrature point.
    spread = np.sqrt(var + reading_var)[..., None]                                      # (N, K, 1)
    readings = mean[..., None] + spread * _NODES                                        # (N, K, Q)
    post_mean, post_var = combine(mean[..., None], var[..., None], readings, reading_var)
    after = expected_probability(post_mean, post_var) * conversion_value - outreach_cost
    expected = (np.maximum(other[..., None], after) * _WEIGHTS).sum(axis=-1)            # (N, K)
    return np.maximum(expected - now[:, None], 0.0)
