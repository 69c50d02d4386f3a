"""Timing and interval helpers: every figure is a median of repeats with its spread.

The machine is shared, so a single timing says little: we repeat, report the
median, and show the min-max range so a noisy figure looks noisy.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable


@dataclass
class Timing:
    """Seconds per call: median of `repeats` repeats, with the fastest and slowest."""
    median: float
    low: float
    high: float
    repeats: int

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: 0.1 means the repeats varied by 10 %."""
        return (self.high - self.low) / self.median if self.median > 0 else 0.0

    def scaled(self, factor: float) -> "Timing":
        return Timing(self.median * factor, self.low * factor, self.high * factor, self.repeats)

    def rate(self, work: float) -> "Timing":
        """work per second, e.g. samples/s; fastest time gives the highest rate."""
        return Timing(work / self.median, work / self.high, work / self.low, self.repeats)

    def to_dict(self) -> dict:
        return {**asdict(self), "spread": self.spread}


def from_samples(seconds: list[float]) -> Timing:
    return Timing(statistics.median(seconds), min(seconds), max(seconds), len(seconds))


def time_calls(fn: Callable[[], object], repeats: int, calls_per_repeat: int = 1, warmup: int = 1) -> Timing:
    """Seconds per call of fn(), median over repeats of `calls_per_repeat` back-to-back calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls_per_repeat):
            fn()
        samples.append((time.perf_counter() - started) / calls_per_repeat)
    return from_samples(samples)


# Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1..30 (standard tables).
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
       2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
       2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df: int) -> float:
    """t(0.975, df); beyond the table, the Cornish-Fisher expansion around z = 1.96 (error < 1e-3)."""
    if df < 1:
        raise ValueError("a confidence interval needs at least 2 values (df >= 1)")
    if df <= len(T95):
        return T95[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci95(values: list[float]) -> dict:
    """Mean and the half-width of its 95 % t interval (None with fewer than 2 values)."""
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n}
    sd = statistics.stdev(values)
    return {"mean": mean, "ci95": t95(n - 1) * sd / math.sqrt(n), "n": n}
