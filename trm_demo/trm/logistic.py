"""Logistic regression on the recent log: the baseline a data scientist builds first.

Same features and same observed 0/1 outcomes as the TRM's fine-tuning, fitted by
Newton's method (iteratively reweighted least squares) with a small L2 penalty
on the weights, which keeps it finite when a feature separates the outcomes.
It also stands in for the TRM when a TRM guardrail trips (sentinel.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Logistic:
    weights: np.ndarray   # (F,)
    bias: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        # x: (..., F) -> (...,) P(convert)
        return 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ self.weights + self.bias)))


def fit_logistic(x: np.ndarray, outcome: np.ndarray, l2: float = 1e-3, iterations: int = 25) -> Logistic:
    """Newton steps on the mean log-loss + l2/2 |w|^2; stops when a step moves nothing."""
    # x: (B, F), outcome: (B,) 0/1
    design = np.c_[x.astype(np.float64), np.ones(len(x))]                 # (B, F+1), bias last
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0                                                       # the bias is not shrunk
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (p - outcome) / len(x) + penalty * beta
        hessian = (design.T * (p * (1 - p))) @ design / len(x) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return Logistic(beta[:-1], float(beta[-1]))
