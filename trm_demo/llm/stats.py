"""Running totals of a reader: what the telemetry, the report and a breaker need."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .request import Reading


@dataclass
class ReaderStats:
    """hits: readings served from the cache; misses: reads that went to the model (failures included);
    unsent: reads never sent (the time budget had run out, or a stop had come).

    latencies_ms holds the misses only: a cache lookup or a read never sent says nothing about the model's speed."""
    hits: int = 0
    misses: int = 0
    unsent: int = 0
    failures: Counter = field(default_factory=Counter)
    spend: float = 0.0
    latencies_ms: list = field(default_factory=list)

    def record(self, reading: Reading) -> None:
        if reading.cached:
            self.hits += 1
        elif not reading.sent:
            self.unsent += 1
        else:
            self.misses += 1
            self.latencies_ms.append(reading.latency_ms)
        if reading.failure is not None:
            self.failures[reading.failure] += 1
        self.spend += reading.cost

    @property
    def reads(self) -> int:
        return self.hits + self.misses + self.unsent

    def to_dict(self) -> dict:
        """Plain JSON-ready figures; latency quantiles by nearest rank over the misses."""
        ordered = sorted(self.latencies_ms)
        quantiles = {f"p{q}": _nearest_rank(ordered, q) for q in (50, 90, 99)}
        return {"reads": self.reads, "hits": self.hits, "misses": self.misses, "unsent": self.unsent,
                "failures": dict(sorted(self.failures.items())), "spend": self.spend,
                "latency_ms": {"count": len(ordered), **quantiles}}


def _nearest_rank(ordered: list, q: int) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, -(-q * len(ordered) // 100) - 1))]
