"""Timing and interval helpers: every figure is a median of repeats with its spread.

The machine is shared, so a single timing says little: we repeat, report the
median, and show the min-max range so a noisy figure looks noisy.
"""

from __future__ import annotations

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


