"""The conversion funnel: every strategy decides every opportunity; the ledger keeps the score.

For each job the strategies pick their best candidate and pursue it only when
the estimated expected value beats the outreach cost (greedy has no estimate
and always pursues). One uniform draw per (opportunity, candidate) decides
whether a pursued candidate converts, for every strategy alike (common random
numbers), so the differences between strategies are paired, not noise.

  greedy  lowest ask relative to budget; near-free compute.
  llm     SIMULATED: the true probability plus Gaussian noise (`llm_noise`), at
          `llm_cost` per candidate and a modelled latency. No network.
  trm     the trained model's EMA weights, adaptive halting, under the
          thermostat (depth) and the sentinel (guardrails, greedy fallback).
  oracle  the true probability at zero compute cost: the upper bound.

The market is generated in fixed blocks. The TRM decides `chunk_size`
opportunities at a time; the thermostat and sentinel act between chunks on
the TRM's rolling ROI and on *modelled* latency, never on the wall clock, so
the same seed, config and numerics (process.py) give the same decisions.

Speed: the recursion never depends on when a candidate will stop, so one
batched full-depth pass per block records every candidate's answer and halt
logit after each step. Each chunk's adaptive halting then reads off where the
halting head stops it under the thermostat's current settings
(`engine.halting_steps`): the same decisions as calling the model chunk by
chunk, and the same pass gives the fixed-depth frontier. Cost and latency are
charged for the steps each candidate actually uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .config import FUNNEL_BLOCK, Config
from .economic import Ledger
from .engine import halting_steps, sigmoid
from .market import Market, greedy_scores, outcome_uncertainty, sample_market
from .rng import rng_for
from .sentinel import Sentinel
from .subgraph import CallLog
from .training import PROB_EPS
from .thermostat import Thermostat
from .weights import TRM

STRATEGIES = ("trm", "llm", "greedy", "oracle")
SUB_BATCH = 2048   # candidates per model call in the full-depth pass: 3.3x less peak memory, a little faster


@dataclass
class FunnelResult:
    ledger: Ledger
    thermostat: Thermostat
    sentinel: Sentinel
    frontier: list[dict]        # the TRM at each fixed step cap, replayed on the same opportunities
    halting: dict               # steps histogram and how steps relate to difficulty
    pass_ms_per_candidate: float   # wall clock of the block's full-depth pass, per candidate scored


def decide(estimate: np.ndarray, conversion_value: float, outreach_cost: float):
    """Shared rule: best candidate by estimate; pursue when expected value beats outreach. (N, K) -> (N,), (N,)"""
    pick = estimate.argmax(axis=1)
    best = np.take_along_axis(estimate, pick[:, None], axis=1)[:, 0]
    return pick, best * conversion_value > outreach_cost


def settle(market: Market, draws: np.ndarray, pick: np.ndarray, pursue: np.ndarray, conversion_value: float,
           outreach_cost: float) -> dict[str, np.ndarray]:
    """Outcome and money of each decision, with the shared uniform draws. (N,) columns."""
    rows = np.arange(len(pick))
    converted = pursue & (draws[rows, pick] < market.p_true[rows, pick])
    return {"pursued": pursue, "converted": converted, "value": converted * conversion_value,
            "outreach_cost": pursue * outreach_cost}


def run_funnel(cfg: Config, model: TRM, calls: CallLog, validated_cap: int | None = None,
               on_progress: Callable[[int, float | None], None] | None = None) -> FunnelResult:
    """`validated_cap`: the step cap fine-tuning's validation split chose; the thermostat starts there."""
    sim = cfg.simulation
    n, k = sim.opportunities, cfg.market.candidates_per_opportunity
    ledger = Ledger(STRATEGIES, n)
    thermostat, sentinel = Thermostat(cfg.thermostat, validated_cap), Sentinel(cfg.sentinel)
    frontier_caps = cfg.model.supervision_steps
    frontier = np.zeros((frontier_caps, 5))     # per cap: conversions, value, compute, outreach, pursued
    halting = _HaltingStats(frontier_caps)
    rngs = {purpose: rng_for(sim.seed, purpose) for purpose in ("market", "outcomes", "llm")}
    last_latency, measured = None, [0.0, 0]   # measured: wall-clock ms of the model, calls
    for block_start in range(0, n, FUNNEL_BLOCK):
        size = min(FUNNEL_BLOCK, n - block_start)
        market = sample_market(rngs["market"], size, k, cfg.market.drift)
        draws = rngs["outcomes"].random((size, k))
        llm_estimate = np.clip(market.p_true + sim.llm_noise * rngs["llm"].standard_normal((size, k)), 0, 1)
        ids = block_start + np.arange(size)
        _record_baselines(cfg, ledger, market, draws, llm_estimate, ids)
        depth, elapsed_ms = _full_depth_pass(model, market, frontier_caps)
        measured[0] += elapsed_ms
        measured[1] += market.features[..., 0].size
        _record_frontier(cfg, market, draws, depth, frontier)
        for start in range(0, size, sim.chunk_size):
            rows = slice(start, min(start + sim.chunk_size, size))
            opportunity = block_start + start
            step_cap, threshold = thermostat.state
            step_cap = sentinel.cap_steps(step_cap)
            worst_case = (rows.stop - rows.start) * k * (sim.trm_base_cost + sim.trm_cost_per_step * step_cap)
            window_roi = ledger.rolling_roi("trm", cfg.sentinel.window)
            done = block_start + rows.stop
            if sentinel.check(opportunity, worst_case, window_roi, last_latency):
                last_latency = _trm_chunk(cfg, market, draws, depth, rows, ids, step_cap, threshold,
                                          ledger, sentinel, calls, halting, elapsed_ms / depth.n_calls)
                thermostat.update(done, ledger.rolling_roi("trm", cfg.thermostat.window))
            else:   # greedy's results say nothing about the TRM's depth: the thermostat waits
                _greedy_fallback(cfg, ledger, market, draws, rows, ids)
            if on_progress:
                on_progress(done, ledger.rolling_roi("trm", cfg.thermostat.window))
    return FunnelResult(ledger, thermostat, sentinel, _frontier_rows(frontier, n, sim.conversion_value),
                        halting.summary(), measured[0] / max(measured[1], 1))


@dataclass
class _Depth:
    """A block's full-depth pass: every candidate's P(convert) and halt logit after each step, (S, N, K)."""
    probability: np.ndarray
    halt_logits: np.ndarray

    @property
    def n_calls(self) -> int:
        return self.probability[0].size


def _full_depth_pass(model: TRM, market: Market, max_steps: int) -> tuple[_Depth, float]:
    """All steps for every candidate of the block, in sub-batches that keep activations in cache."""
    n, k = market.n_opportunities, market.n_candidates
    x = market.features.reshape(n * k, -1)
    probability, halt_logits = np.zeros((max_steps, n * k)), np.zeros((max_steps, n * k))
    started = time.perf_counter()
    for start in range(0, n * k, SUB_BATCH):
        rows = slice(start, start + SUB_BATCH)
        result = model.infer(x[rows], max_steps, halt_threshold=1.0, trajectory=True)
        probability[:, rows], halt_logits[:, rows] = result.trajectory, result.halt_logits
    elapsed_ms = (time.perf_counter() - started) * 1000
    return _Depth(probability.reshape(max_steps, n, k), halt_logits.reshape(max_steps, n, k)), elapsed_ms


def _trm_chunk(cfg, market, draws, depth: _Depth, rows, ids, step_cap, threshold, ledger, sentinel, calls,
               halting, pass_ms_per_candidate) -> float:
    """The TRM decides one chunk with adaptive halting. Returns the worst modelled latency of its calls."""
    sim = cfg.simulation
    q = depth.halt_logits[:, rows]                                    # (S, n, K)
    steps, halted = halting_steps(q, step_cap, threshold)            # (n, K) each
    estimate = np.take_along_axis(depth.probability[:, rows], steps[None] - 1, axis=0)[0]
    halt_prob = sigmoid(np.take_along_axis(q, steps[None] - 1, axis=0)[0])
    call_cost = sim.trm_base_cost + sim.trm_cost_per_step * steps
    call_latency = sim.trm_latency_base_ms + sim.trm_latency_per_step_ms * steps
    sentinel.charge(float(call_cost.sum()))
    pick, pursue = decide(estimate, sim.conversion_value, sim.outreach_cost)
    money = settle(_slice(market, rows), draws[rows], pick, pursue, sim.conversion_value, sim.outreach_cost)
    ledger.record("trm", ids[rows], compute_cost=call_cost.sum(axis=1), steps=steps.max(axis=1),
                  latency_ms=call_latency.max(axis=1), fallback=np.zeros(len(pick), bool), **money)
    halting.add(steps.ravel(), halted.ravel(), market.p_true[rows].ravel())
    _log_calls(calls, ids[rows], estimate, halt_prob, steps, halted, call_latency, call_cost, pick, pursue,
               money["converted"], pass_ms_per_candidate,
               {"step_cap": step_cap, "halt_threshold": round(threshold, 6), "breaker": sentinel.state})
    return float(call_latency.max())


def _log_calls(calls, opportunity, estimate, halt_prob, steps, halted, latency, cost, pick, pursue, converted,
               pass_ms, context) -> None:
    """One telemetry record per candidate scored, (n, K) arrays flattened row by row."""
    n, k = estimate.shape
    picked = np.zeros((n, k), dtype=bool)
    picked[np.arange(n), pick] = True
    decision = np.where(picked & pursue[:, None], "pursue", np.where(picked, "skip", "not_picked"))
    outcome = np.where(picked & pursue[:, None], converted[:, None], None)
    calls.write({"opportunity": np.repeat(opportunity, k), "candidate": np.tile(np.arange(k), n),
                 "probability": np.round(np.clip(estimate, PROB_EPS, 1 - PROB_EPS), 6).ravel(),
                 "halt_probability": np.round(np.clip(halt_prob, PROB_EPS, 1 - PROB_EPS), 6).ravel(),
                 "steps": steps.ravel(), "halted": halted.ravel(), "latency_ms": np.round(latency, 6).ravel(),
                 "cost": np.round(cost, 9).ravel(), "decision": decision.ravel(), "outcome": outcome.ravel(),
                 "pass_ms_per_candidate": np.full(n * k, pass_ms)}, context)


def _greedy_fallback(cfg, ledger, market, draws, rows, ids) -> None:
    """The sentinel said no: greedy decides, and it goes through the ledger like any other decision."""
    sim = cfg.simulation
    part = _slice(market, rows)
    pick = greedy_scores(part).argmax(axis=1)
    money = settle(part, draws[rows], pick, np.ones(len(pick), bool), sim.conversion_value, sim.outreach_cost)
    ledger.record("trm", ids[rows], compute_cost=np.full(len(pick), sim.greedy_cost * part.n_candidates),
                  fallback=np.ones(len(pick), bool), **money)


def _record_baselines(cfg, ledger, market, draws, llm_estimate, ids) -> None:
    sim, k = cfg.simulation, market.n_candidates
    every = np.ones(len(ids), bool)
    choices = {
        "greedy": (greedy_scores(market).argmax(axis=1), every, sim.greedy_cost * k, None),
        "llm": (*decide(llm_estimate, sim.conversion_value, sim.outreach_cost), sim.llm_cost * k, sim.llm_latency_ms),
        "oracle": (*decide(market.p_true, sim.conversion_value, sim.outreach_cost), 0.0, None),
    }
    for name, (pick, pursue, compute, latency) in choices.items():
        money = settle(market, draws, pick, pursue, sim.conversion_value, sim.outreach_cost)
        ledger.record(name, ids, compute_cost=np.full(len(ids), compute),
                      latency_ms=None if latency is None else np.full(len(ids), latency), **money)


def _record_frontier(cfg, market, draws, depth: _Depth, totals) -> None:
    """The block replayed with the TRM at every fixed step cap (no halting, no controllers)."""
    sim = cfg.simulation
    for cap, estimate in enumerate(depth.probability, start=1):
        pick, pursue = decide(estimate, sim.conversion_value, sim.outreach_cost)
        money = settle(market, draws, pick, pursue, sim.conversion_value, sim.outreach_cost)
        compute = depth.n_calls * (sim.trm_base_cost + sim.trm_cost_per_step * cap)
        totals[cap - 1] += (money["converted"].sum(), money["value"].sum(), compute,
                            money["outreach_cost"].sum(), pursue.sum())


def _frontier_rows(totals: np.ndarray, n: int, conversion_value: float) -> list[dict]:
    rows = []
    for cap, (conversions, value, compute, outreach, pursued) in enumerate(totals, start=1):
        cost = compute + outreach
        rows.append({"step_cap": cap, "success_rate": conversions / n, "conversions": int(conversions),
                     "pursued": int(pursued), "total_value": float(value), "compute_cost": float(compute),
                     "total_cost": float(cost), "net_value": float(value - cost),
                     "roi": float((value - cost) / cost) if cost > 0 else None})
    return rows


def _slice(market: Market, rows: slice) -> Market:
    return Market(**{name: getattr(market, name)[rows] for name in market.__dataclass_fields__})


class _HaltingStats:
    """Streaming summary of the adaptive run's halting: steps histogram, steps by difficulty."""
    BANDS = ("easy", "medium", "hard")   # outcome uncertainty 1 - |2p - 1| in thirds

    def __init__(self, max_steps: int):
        self.histogram = np.zeros(max_steps + 1, np.int64)
        self.band_steps = np.zeros(3)
        self.band_count = np.zeros(3, np.int64)
        self.halted = 0
        self.moments = np.zeros(6)   # n, sum x, sum y, sum xx, sum yy, sum xy (x = steps, y = uncertainty)

    def add(self, steps: np.ndarray, halted: np.ndarray, p_true: np.ndarray) -> None:
        uncertainty = outcome_uncertainty(p_true)
        band = np.minimum((uncertainty * 3).astype(int), 2)
        self.histogram += np.bincount(steps, minlength=len(self.histogram))[:len(self.histogram)]
        self.band_steps += np.bincount(band, weights=steps, minlength=3)
        self.band_count += np.bincount(band, minlength=3)
        self.halted += int(halted.sum())
        x, y = steps.astype(float), uncertainty
        self.moments += (len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())

    def summary(self) -> dict:
        n, sx, sy, sxx, syy, sxy = self.moments
        var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
        corr = (n * sxy - sx * sy) / np.sqrt(var_x * var_y) if n > 1 and var_x > 0 and var_y > 0 else None
        return {"steps_histogram": {str(s): int(c) for s, c in enumerate(self.histogram) if s > 0},
                "calls": int(n), "halted_by_head": self.halted,
                "mean_steps_per_call": float(sx / n) if n else None,
                "mean_steps_by_difficulty": {b: (float(self.band_steps[i] / self.band_count[i])
                                                 if self.band_count[i] else None) for i, b in enumerate(self.BANDS)},
                "calls_by_difficulty": {b: int(self.band_count[i]) for i, b in enumerate(self.BANDS)},
                "steps_uncertainty_correlation": None if corr is None else float(corr)}
