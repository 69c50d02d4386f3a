"""Sentinel: guardrails checked before every TRM chunk; when one trips, greedy decides instead.

States of the circuit breaker:
  closed            the TRM decides;
  open              greedy decides for `cooldown` opportunities;
  half_open         the TRM decides again on trial: passing the guardrails closes the
                    breaker, a latency breach reopens it at once, an ROI floor breach only
                    after another `cooldown` opportunities (the rolling window needs time
                    to refill with the TRM's own decisions before it can judge them);
  budget_exhausted  permanent: the next chunk's worst-case cost would break the budget.
Every transition is recorded in `events`. All inputs are modelled numbers, never the
wall clock, so the same seed always takes the same path.
"""

from __future__ import annotations

from trm_demo.config import SentinelConfig

# Summing per-candidate costs can exceed their worst-case product by a few ulps:
# that is rounding, not overspend, so it must not stop the run (and is not booked, see charge).
_ROUNDING_SLACK = 1e-9


class Sentinel:
    def __init__(self, cfg: SentinelConfig):
        self.cfg = cfg
        self.state = "closed"
        self.events: list[dict] = []
        self._spent = 0.0
        self._approved = 0.0   # the worst case check() last allowed: the most charge() may book
        self._state_since = 0  # opportunity at which the current state began (cooldown timers)

    @property
    def spent(self) -> float:
        return self._spent

    def check(self, opportunity: int, worst_case_cost: float, rolling_roi: float | None,
              last_latency_ms: float | None) -> bool:
        """True: the TRM may decide the chunk starting at `opportunity`; False: greedy decides it."""
        c = self.cfg
        if not c.enabled:
            return True
        if self.state == "budget_exhausted":
            return False
        # The worst case is checked before spending, which is why spend can never pass the cap.
        if self._spent + worst_case_cost > c.max_cost:
            self._enter("budget_exhausted", opportunity, "budget", self._spent + worst_case_cost, c.max_cost)
            return False
        self._approved = worst_case_cost
        if self.state == "open":
            waited = opportunity - self._state_since
            if waited < c.cooldown:
                return False
            # The latency and ROI passed in still describe decisions made before the
            # pause, so the trial chunk is judged at the next check, not this one.
            self._enter("half_open", opportunity, "half_open", waited, c.cooldown)
            return True
        breach = self._breach(opportunity, rolling_roi, last_latency_ms)
        # On trial the ROI window still holds greedy's fallback decisions, so neither a
        # recovery nor a new ROI breach counts until `cooldown` opportunities of the TRM's
        # own decisions have refilled it; a slow call reopens at once.
        on_trial = self.state == "half_open" and opportunity - self._state_since < c.cooldown
        if breach is None:
            if self.state == "half_open" and not on_trial:
                self._enter("closed", opportunity, "recovered", rolling_roi, c.roi_floor)
            return True
        if on_trial and breach[0] == "roi_floor":
            return True
        self._enter("open", opportunity, *breach)
        return False

    def charge(self, cost: float) -> None:
        """Record the TRM compute actually spent on a chunk that check() allowed.

        Books at most the worst case check() allowed: check() saw fl(spent + worst) <= max_cost, and
        rounded addition is monotonic, so fl(spent + min(cost, worst)) <= max_cost exactly. A cost above
        the worst case by rounding only (per-candidate sums) is not booked; above it by more is a bug."""
        if not self.cfg.enabled:
            self._spent += cost
            return
        if cost < 0 or cost > self._approved * (1 + _ROUNDING_SLACK):
            raise ValueError(f"TRM charge ${cost:g} on top of ${self._spent:g} spent breaks the "
                             f"${self.cfg.max_cost:g} budget; charge at most the worst case passed to check()")
        self._spent += min(cost, self._approved)
        self._approved = 0.0   # one charge per allowed chunk

    def cap_steps(self, step_cap: int) -> int:
        """The step cap the engine must use: the thermostat's wish, never above the hard cap."""
        return min(step_cap, self.cfg.max_steps) if self.cfg.enabled else step_cap

    def _breach(self, opportunity: int, rolling_roi: float | None,
                last_latency_ms: float | None) -> tuple[str, float, float] | None:
        c = self.cfg
        if last_latency_ms is not None and last_latency_ms > c.max_latency_ms:
            return "latency", last_latency_ms, c.max_latency_ms
        # Before warm-up the window holds a handful of decisions: one unlucky call is not a trend.
        if opportunity >= c.warmup and rolling_roi is not None and rolling_roi < c.roi_floor:
            return "roi_floor", rolling_roi, c.roi_floor
        return None

    def _enter(self, state: str, opportunity: int, guardrail: str, value: float | None, limit: float) -> None:
        self.state, self._state_since = state, opportunity
        self.events.append({"opportunity": int(opportunity), "guardrail": guardrail,
                            "value": None if value is None else float(value), "limit": float(limit),
                            "state": state})
