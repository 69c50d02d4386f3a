"""The ledger: every strategy's running totals of decisions and the money they made or lost.

The product reads only the totals (`summary()`), so the ledger keeps running
sums and counts per strategy, a few dozen numbers whatever the run's length;
the per-decision rows live only in the telemetry (telemetry.py). Money sums are
exact: each chunk's values are summed with math.fsum and the chunk sums are kept
as Shewchuk partials, so the totals do not depend on how the run was chunked.
Definitions used everywhere (report, UI, evaluation):
  total_cost         = compute_cost + outreach_cost  (compute_cost includes llm_cost and latency_cost)
  net_value          = total_value - total_cost      (on the drawn outcomes)
  expected_net_value = sum of expected_value - total_cost (from the true P(convert): the yardstick)
  ROI                = net_value / total_cost
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# Columns every record fills, and the optional ones only some strategies have
# (greedy and the oracle take no steps); an optional column's average covers the
# chunks that reported it.
_REQUIRED = {"opportunity": np.int64, "pursued": np.bool_, "converted": np.bool_,
             "value": np.float64, "expected_value": np.float64, "compute_cost": np.float64,
             "outreach_cost": np.float64, "fallback": np.bool_}
# llm_cost is the part of compute_cost paid for LLM reads, latency_cost the part paid for waiting on them
# (sentinel.latency_cost_per_s); llm_reads counts candidates read.
_OPTIONAL = {"steps": np.float32, "latency_ms": np.float64, "llm_cost": np.float64, "llm_reads": np.float64,
             "latency_cost": np.float64}
_DTYPES = {**_REQUIRED, **_OPTIONAL}
_SUMMED = [name for name in _DTYPES if name != "opportunity"]


class Ledger:
    def __init__(self, strategies: Sequence[str], capacity: int):
        if capacity < 0:
            raise ValueError(f"ledger capacity must be >= 0 (the number of opportunities), got {capacity}")
        self.strategies = list(strategies)
        self.capacity = capacity
        # per strategy and column: the exact sum's partials and how many entries reported it
        self._sums = {s: {name: [] for name in _SUMMED} for s in self.strategies}
        self._counts = {s: dict.fromkeys(_SUMMED, 0) for s in self.strategies}
        self._count = dict.fromkeys(self.strategies, 0)

    def record(self, strategy: str, opportunity, pursued, converted, value, compute_cost, outreach_cost,
               expected_value, steps=None, latency_ms=None, fallback=None, llm_cost=None, llm_reads=None,
               latency_cost=None) -> None:
        """Add one chunk of decisions (one entry per opportunity) for `strategy` to its totals.

        expected_value: P(convert) of the pursued candidate x conversion value (0 when skipped),
        from the true probability: the yardstick free of outcome luck."""
        sums, counts = self._strategy_sums(strategy)
        if fallback is None:
            fallback = np.zeros(np.size(opportunity), bool)
        chunk = {"opportunity": opportunity, "pursued": pursued, "converted": converted, "value": value,
                 "expected_value": expected_value, "compute_cost": compute_cost, "outreach_cost": outreach_cost,
                 "fallback": fallback, "steps": steps, "latency_ms": latency_ms, "llm_cost": llm_cost,
                 "llm_reads": llm_reads, "latency_cost": latency_cost}
        chunk = {name: np.asarray(data, _DTYPES[name])
                 for name, data in chunk.items() if data is not None}
        size = np.size(chunk["opportunity"])
        if any(data.shape != (size,) for data in chunk.values()):
            raise ValueError(f"every column of a {strategy!r} chunk must be 1-D with {size} entries, got shapes "
                             f"{ {name: data.shape for name, data in chunk.items()} }")
        start = self._count[strategy]
        if start + size > self.capacity:
            raise ValueError(f"ledger for {strategy!r} holds {self.capacity} entries and already has {start}; "
                             f"cannot add {size} more (create the Ledger with capacity = number of opportunities)")
        if np.any(chunk["converted"] & ~chunk["pursued"]):
            raise ValueError(f"{strategy!r} recorded a conversion on an opportunity it did not pursue; "
                             "a conversion needs outreach, so set pursued=True wherever converted=True")
        if np.any((chunk["value"] != 0) & ~chunk["converted"]):
            raise ValueError(f"{strategy!r} recorded value on an opportunity that did not convert; "
                             "only conversions earn value")
        names = [name for name in _SUMMED if name in chunk]
        # one float64 matrix and one tolist for every column: a chunk of 10 costs the calls, not the sums
        for name, column in zip(names, np.array([chunk[name] for name in names], np.float64).tolist()):
            _add_exact(sums[name], math.fsum(column))
            counts[name] += size
        self._count[strategy] = start + size

    def totals(self, strategy: str) -> dict:
        sums, counts = self._strategy_sums(strategy)
        total = {name: math.fsum(partials) for name, partials in sums.items()}
        attempts, pursued, conversions = self._count[strategy], int(total["pursued"]), int(total["converted"])
        total_value, compute, outreach = total["value"], total["compute_cost"], total["outreach_cost"]
        total_cost = compute + outreach
        net_value = total_value - total_cost
        expected_net_value = total["expected_value"] - total_cost
        return {
            "attempts": attempts, "pursued": pursued, "skipped": attempts - pursued, "conversions": conversions,
            "total_value": total_value, "compute_cost": compute, "outreach_cost": outreach,
            "total_cost": total_cost, "net_value": net_value, "expected_net_value": expected_net_value,
            "llm_cost": total["llm_cost"], "latency_cost": total["latency_cost"],
            "llm_reads": int(total["llm_reads"]),
            "success_rate": conversions / attempts if attempts else None,
            "conversion_rate": conversions / pursued if pursued else None,
            "roi": net_value / total_cost if total_cost > 0 else None,
            "avg_steps": total["steps"] / counts["steps"] if counts["steps"] else None,
            "avg_latency_ms": total["latency_ms"] / counts["latency_ms"] if counts["latency_ms"] else None,
            "fallback_decisions": int(total["fallback"]),
        }

    def summary(self, oracle: str = "oracle") -> dict[str, dict]:
        """Totals per strategy plus share_of_oracle_expected = expected net value / the oracle's (a true bound:
        the oracle maximises expected value), and the realised share beside it (None if the oracle made none)."""
        rows = {s: self.totals(s) for s in self.strategies}
        for key, share in (("expected_net_value", "share_of_oracle_expected"), ("net_value", "share_of_oracle")):
            best = rows[oracle][key] if oracle in rows else 0.0
            for row in rows.values():
                row[share] = row[key] / best if best > 0 else None
        return rows

    def _strategy_sums(self, strategy: str) -> tuple[dict[str, list], dict[str, int]]:
        if strategy not in self._sums:
            raise KeyError(f"unknown strategy {strategy!r}; the ledger was created for: {', '.join(self.strategies)}")
        return self._sums[strategy], self._counts[strategy]


def _add_exact(partials: list[float], x: float) -> None:
    """Add x to the non-overlapping partials whose exact sum is the running total (Shewchuk's algorithm, the one
    math.fsum uses): the list stays a few floats long however many chunks are added."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]
