"""A simulated reader with the real reader's interface, for runs without a model.

It reads the true probability p from a callable (the market supplies it) and
reports sigmoid(logit(p) + bias + noise_sd * e), e ~ N(0, 1) drawn from the
caller's generator, one draw per request in order. Noise in logit space keeps
every reading in (0, 1) and shrinks it near 0 and 1, where a reader's errors in
probability are small, instead of clipping; bias > 0 models a reader that is
over-optimistic about acceptance (a calibration bias). Each read costs
cost_per_read and takes latency_ms (modelled, never slept), and is labelled
"simulated" in describe().
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .request import ReadRequest, Reading
from .stats import ReaderStats

_EDGE = 1e-9   # p is kept this far from 0 and 1 so that its logit is finite


class SimulatedReader:
    def __init__(self, probability: Callable[[ReadRequest], float], rng: np.random.Generator, *,
                 noise_sd: float = 0.0, bias: float = 0.0, cost_per_read: float = 0.0, latency_ms: float = 0.0):
        self.probability, self.rng = probability, rng
        self.noise_sd, self.bias = float(noise_sd), float(bias)
        self.cost_per_read, self.latency_ms = float(cost_per_read), float(latency_ms)
        self.stats = ReaderStats()

    def describe(self) -> dict:
        return {"provider": "simulated", "real": False, "noise_sd": self.noise_sd, "bias": self.bias}

    def close(self) -> None:
        """Nothing to release; here so that the funnel closes either reader the same way."""

    def read_many(self, requests: list[ReadRequest]) -> list[Reading]:
        p = np.clip(np.array([self.probability(r) for r in requests], dtype=float), _EDGE, 1.0 - _EDGE)
        logit = np.log(p) - np.log1p(-p) + self.bias + self.noise_sd * self.rng.standard_normal(len(requests))
        readings = [Reading(probability=float(q), cost=self.cost_per_read, latency_ms=self.latency_ms,
                            method="simulated") for q in 1.0 / (1.0 + np.exp(-logit))]
        for reading in readings:
            self.stats.record(reading)
        return readings
