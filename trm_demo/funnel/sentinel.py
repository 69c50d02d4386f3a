"""Sentinel: the guardrails around the cascade's LLM calls and the TRM.

  budget      the period's LLM budget (per opportunity x opportunities planned): a read is
              approved only if it still fits, so spend never exceeds it, exactly;
  latency     a decision may wait at most `max_latency_ms` on LLM rounds (the reads of one
              round run in parallel and count once; a failed round waits the timeout); each second
              waited costs `latency_cost_per_s` (simulation.waiting_cost books it);
  breaker     LLM failures: when the failure share of the last `breaker_window` calls (or of
              a larger round, judged whole) reaches `breaker_failure_rate` it opens and the
              TRM alone decides; after `breaker_cooldown` opportunities it goes half-open and
              lets `breaker_probes` reads through (the round's highest VOI): one answer closes
              it, none reopens it. Why it barely earns: a failed call costs its price and its
              wait, a blocked read that would have answered costs its whole VOI (at least
              hurdle x price), so the breaker pays only where it is sure the LLM is down; an
              outage ending mid-chunk is where its probes can miss (several probes, and a
              round judged whole, cut that loss; an exponential cool-down would lengthen it);
  TRM guard   a non-finite TRM output or a modelled TRM latency above `trm_max_latency_ms`
              hands the decision to the logistic model.
Every transition goes into `events`; every fallback decision carries its reason in the
telemetry. All inputs are modelled numbers, never the wall clock.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from trm_demo.config import SentinelConfig

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Sentinel:
    """`budget` may be inf (no limit). For the counterfactual replays: `guardrails` False turns off the
    breaker and the TRM guard (the reactive controls), `latency_limit` False the latency limit (a
    service level, like the budget, that can only cost)."""

    def __init__(self, cfg: SentinelConfig, budget: float, llm_latency_ms: float, llm_timeout_ms: float,
                 guardrails: bool = True, latency_limit: bool = True):
        self.cfg = cfg
        self.guardrails = guardrails and cfg.enabled
        self.latency_limit = latency_limit and cfg.enabled
        self.budget = budget
        self.spent = 0.0
        self.state = CLOSED
        self.events: list[dict] = []
        self._calls: deque[bool] = deque(maxlen=cfg.breaker_window)   # True = failed
        self._opened_at = 0
        self._latency = (llm_latency_ms, llm_timeout_ms)

    # --- before reading ---

    def reads_allowed(self, opportunity: int) -> int | None:
        """How many reads the breaker lets through now: None = no limit, 0 = TRM alone, `breaker_probes` when
        half-open (the highest-VOI reads: the caller ranks them)."""
        if not self.guardrails or self.state == CLOSED:
            return None
        if self.state == OPEN and opportunity - self._opened_at >= self.cfg.breaker_cooldown:
            self._enter(HALF_OPEN, opportunity, "cooldown over: probe reads")
        return self.cfg.breaker_probes if self.state == HALF_OPEN else 0

    def affordable(self, costs: np.ndarray) -> np.ndarray:
        """Which of these reads, in this order, fit in what is left of the budget (a prefix). (R,) -> (R,) bool"""
        # Compared exactly as they will be booked: the running total of the same additions.
        totals = np.cumsum(np.concatenate(([self.spent], costs)))[1:]   # np.r_ cost 0.3 ms a call
        return totals <= self.budget

    def round_fits(self, waited_ms: np.ndarray, failed_before: np.ndarray) -> np.ndarray:
        """Which decisions, having waited `waited_ms` on LLM rounds, may start another (that may time out)?"""
        if not self.latency_limit:
            return np.ones(len(waited_ms), bool)
        latency, timeout = self._latency
        # A decision whose reads already failed once plans for the timeout: the LLM may still be down.
        return waited_ms + np.where(failed_before, max(latency, timeout), latency) <= self.cfg.max_latency_ms

    # --- after reading ---

    def book(self, costs: np.ndarray) -> None:
        """Charge approved reads (a prefix `affordable` said yes to, so the budget holds exactly)."""
        if len(costs):   # the same additions, in the same order, as `affordable` (a running sum adds left to right)
            self.spent = float(np.cumsum(np.r_[self.spent, costs])[-1])

    def record_calls(self, opportunity: int, failed: np.ndarray) -> None:
        """Feed the breaker the outcome of each LLM call of a round, in order."""
        if not self.guardrails or len(failed) == 0:
            return
        # Only the window's last calls survive the deque: the rest are not converted one by one (the llm rival's
        # rounds are a chunk's every candidate: 118k Python bools a 10k run).
        self._calls.extend(failed[-self._calls.maxlen:].tolist())
        if self.state == HALF_OPEN:
            if failed.all():
                self._open(opportunity, "the half-open probes failed")
            else:   # one answer is enough: the LLM is back
                self._enter(CLOSED, opportunity, "a half-open probe succeeded")
                self._calls.clear()
            return
        # A round's calls run in parallel and end together: a round larger than the window is judged whole, so
        # the order its calls are listed in cannot open the breaker on half a round (an outage ending mid-chunk).
        judged = failed if len(failed) > len(self._calls) else self._calls
        rate = int(np.count_nonzero(judged)) / len(judged)
        if self.state == CLOSED and len(judged) >= self._calls.maxlen and rate >= self.cfg.breaker_failure_rate:
            self._open(opportunity, f"{rate:.0%} of the last {len(judged)} LLM calls failed")

    def trm_guard(self, estimate: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
        """Which opportunities the TRM may not decide, (n, K) estimates and (n,) latency -> (n,) reason or ''."""
        if not self.guardrails:
            return np.full(len(latency_ms), "", dtype=object)
        bad = ~np.isfinite(estimate).all(axis=1)
        slow = latency_ms > self.cfg.trm_max_latency_ms
        return np.where(bad, "trm_non_finite", np.where(slow, "trm_latency", "")).astype(object)

    # --- transitions ---

    def _open(self, opportunity: int, reason: str) -> None:
        self._opened_at = opportunity
        self._enter(OPEN, opportunity, reason)

    def _enter(self, state: str, opportunity: int, reason: str) -> None:
        self.events.append({"opportunity": int(opportunity), "state": state, "from": self.state, "reason": reason})
        self.state = state
