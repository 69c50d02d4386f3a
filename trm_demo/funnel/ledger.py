"""The ledger: every strategy's decision on every opportunity, and the money it made or lost.

One entry per (strategy, opportunity) in NumPy columns preallocated for the whole
run: about 43 bytes per entry (more with steps, latency and LLM columns), with no
Python object per entry. Definitions used everywhere (report, UI, evaluation):
  total_cost         = compute_cost + outreach_cost  (compute_cost includes llm_cost and latency_cost)
  net_value          = total_value - total_cost      (on the drawn outcomes)
  expected_net_value = sum of expected_value - total_cost (from the true P(convert): the yardstick)
  ROI                = net_value / total_cost
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Columns every record fills, and the optional ones only some strategies have
# (greedy and the oracle take no steps). Optional columns are allocated on first
# use and hold NaN where a chunk did not report them, so averages skip those.
_REQUIRED = {"opportunity": np.int64, "pursued": np.bool_, "converted": np.bool_,
             "value": np.float64, "expected_value": np.float64, "compute_cost": np.float64,
             "outreach_cost": np.float64, "fallback": np.bool_}
# llm_cost is the part of compute_cost paid for LLM reads, latency_cost the part paid for waiting on them
# (sentinel.latency_cost_per_s); llm_reads counts candidates read.
_OPTIONAL = {"steps": np.float32, "latency_ms": np.float64, "llm_cost": np.float64, "llm_reads": np.float64,
             "latency_cost": np.float64}
_DTYPES = {**_REQUIRED, **_OPTIONAL}


class Ledger:
    def __init__(self, strategies: Sequence[str], capacity: int):
        if capacity < 0:
            raise ValueError(f"ledger capacity must be >= 0 (the number of opportunities), got {capacity}")
        self.strategies = list(strategies)
        self.capacity = capacity
        self._columns = {s: {name: np.zeros(capacity, dtype) for name, dtype in _REQUIRED.items()}
                         for s in self.strategies}
        self._count = dict.fromkeys(self.strategies, 0)

    def record(self, strategy: str, opportunity, pursued, converted, value, compute_cost, outreach_cost,
               expected_value, steps=None, latency_ms=None, fallback=None, llm_cost=None, llm_reads=None,
               latency_cost=None) -> None:
        """Append one chunk of decisions (one entry per opportunity) for `strategy`.

        expected_value: P(convert) of the pursued candidate x conversion value (0 when skipped),
        from the true probability: the yardstick free of outcome luck."""
        columns = self._strategy_columns(strategy)
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
        for name, data in chunk.items():
            if name not in columns:
                columns[name] = np.full(self.capacity, np.nan, _OPTIONAL[name])
            columns[name][start:start + size] = data
        self._count[strategy] = start + size

    def series(self, strategy: str, field: str) -> np.ndarray:
        """The recorded column (a read-only view), e.g. for charts; optional columns never recorded are all NaN."""
        columns = self._strategy_columns(strategy)
        if field not in _DTYPES:
            raise KeyError(f"unknown ledger field {field!r}; fields are: {', '.join(_DTYPES)}")
        data = columns.get(field)
        if data is None:
            return np.full(self._count[strategy], np.nan, _OPTIONAL[field])
        view = data[:self._count[strategy]].view()
        view.flags.writeable = False
        return view

    def totals(self, strategy: str) -> dict:
        c = {name: self.series(strategy, name) for name in _DTYPES}
        attempts, pursued, conversions = len(c["pursued"]), int(c["pursued"].sum()), int(c["converted"].sum())
        total_value, compute, outreach = (float(c[name].sum()) for name in ("value", "compute_cost", "outreach_cost"))
        total_cost = compute + outreach
        net_value = total_value - total_cost
        expected_net_value = float(c["expected_value"].sum()) - total_cost
        return {
            "attempts": attempts, "pursued": pursued, "skipped": attempts - pursued, "conversions": conversions,
            "total_value": total_value, "compute_cost": compute, "outreach_cost": outreach,
            "total_cost": total_cost, "net_value": net_value, "expected_net_value": expected_net_value,
            "llm_cost": float(np.nansum(c["llm_cost"])), "latency_cost": float(np.nansum(c["latency_cost"])),
            "llm_reads": int(np.nansum(c["llm_reads"])),
            "success_rate": conversions / attempts if attempts else None,
            "conversion_rate": conversions / pursued if pursued else None,
            "roi": net_value / total_cost if total_cost > 0 else None,
            "avg_steps": _mean_recorded(c["steps"]), "avg_latency_ms": _mean_recorded(c["latency_ms"]),
            "fallback_decisions": int(c["fallback"].sum()),
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

    def _strategy_columns(self, strategy: str) -> dict[str, np.ndarray]:
        if strategy not in self._columns:
            raise KeyError(f"unknown strategy {strategy!r}; the ledger was created for: {', '.join(self.strategies)}")
        return self._columns[strategy]


def _mean_recorded(column: np.ndarray) -> float | None:
    recorded = column[~np.isnan(column)]
    return float(recorded.mean(dtype=np.float64)) if len(recorded) else None
