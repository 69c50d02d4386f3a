"""Thermostat: paces the cascade's LLM spend by raising its escalation hurdle to the budget's shadow price.

The cascade reads a candidate when the value of that reading (VOI) beats hurdle x price.
Two things set the right hurdle:

  the floor     `min_hurdle`, the best fixed hurdle chosen on held-out seeds (see the config):
                above 1 because the cascade's VOI is optimistic on a steady market: the
                candidates it reads (near break-even) are closer to the base belief than the
                belief's fitted error spread says (their squared standardised gaps,
                calibration.surprise, average `steady_surprise` < 1). Where the latest
                `surprise_window` readings' gaps are wider than that (a drift: the base belief
                is more wrong than its fit, which remembers the set-up's readings, says), the
                VOI is pessimistic instead and the floor falls in proportion:
                  floor = min_hurdle / max(1, mean surprise / steady_surprise), never below 1
                (VOI = price). With a budget that does not bind, the floor is the hurdle.
  the shadow    when the budget binds, a read is worth taking only if it beats the reads the
  price         money would buy later. The shadow hurdle is the one at which the rest of the
                budget buys the reads the rest of the period would want: from the VOIs of the
                last `window` opportunities (each candidate's VOI before any reading), the
                price now, and the opportunities still to come at the pace seen so far,

                  find h:  remaining budget = remaining opportunities x price x c
                                              x (reads per opportunity with VOI > h x price)

                where c = spend so far / the spend those VOIs predicted at the hurdles used
                (later rounds of the cascade read after earlier readings moved the belief).

hurdle = min(max(floor, shadow), max_hurdle), from `warmup` opportunities on (before: `initial_hurdle`).
It needs no model of the market: only the VOIs the cascade computed, its own spend, the
price, the clock and its readings' gaps, which any deployment has. A price rise raises the
shadow (each read costs more of what is left), a traffic surge too (more opportunities share
it), a drift shows in the window's VOIs and lowers the floor.
"""

from __future__ import annotations

import numpy as np

from trm_demo.config import ThermostatConfig

RAISE, LOWER, HOLD = "raise", "lower", "hold"


class Thermostat:
    def __init__(self, cfg: ThermostatConfig, budget: float):
        self.cfg = cfg
        self.budget = budget
        self.hurdle = cfg.initial_hurdle
        self.history: list[dict] = []
        self._vois: np.ndarray | None = None   # (opportunities seen, up to `window`, K) VOI of each candidate, $
        self._price = np.nan                   # the LLM price of the last opportunity seen, $ per read
        self._predicted = 0.0                  # spend those VOIs predicted at the hurdle and price in force
        self._surprise = np.empty(0)           # the latest readings' squared standardised gaps (calibration.surprise)

    def observe(self, voi: np.ndarray, price: np.ndarray) -> None:
        """Before reading a chunk: (n, K) VOI of each candidate ($) and (n,) price per read."""
        # One (window, K) array, not a list of rows: splitting a chunk of 1,000 into row views cost 0.25 ms a call.
        self._vois = (voi if self._vois is None else np.concatenate([self._vois, voi]))[-self.cfg.window:]
        self._price = float(price[-1])
        self._predicted += float((price[:, None] * (voi > self.hurdle * price[:, None])).sum())

    def observe_readings(self, surprise: np.ndarray) -> None:
        """After a chunk: (m,) each reading's squared standardised gap to the base belief (calibration.surprise)."""
        window = self.cfg.surprise_window
        self._surprise = np.concatenate([self._surprise, surprise])[-window:] if window else self._surprise

    @property
    def floor(self) -> float:
        """min_hurdle, lowered in proportion where the latest readings' gaps are wider than on a steady market."""
        c = self.cfg
        if c.surprise_window == 0 or len(self._surprise) < c.surprise_window:
            return c.min_hurdle
        widening = self._surprise.mean() / c.steady_surprise
        return max(c.min_hurdle / max(widening, 1.0), min(1.0, c.min_hurdle))

    def update(self, opportunity: int, elapsed: float, spent: float) -> str:
        """Between chunks: `elapsed` is the share of the period gone by (0..1], `spent` the LLM spend so far."""
        shadow = self._shadow_hurdle(opportunity, elapsed, spent)
        action = self._decide(opportunity, shadow)
        self.history.append({"opportunity": int(opportunity), "elapsed": float(elapsed), "spent": float(spent),
                             "shadow_hurdle": shadow, "hurdle": self.hurdle, "action": action})
        return action

    def _shadow_hurdle(self, opportunity: int, elapsed: float, spent: float) -> float | None:
        """The hurdle that spends the rest of the budget on the rest of the period; None when undefined."""
        if not np.isfinite(self.budget) or self._price <= 0:   # no budget or free reads: nothing to pace
            return 0.0
        nothing_seen = self._vois is None or not len(self._vois)
        if nothing_seen or not 0.0 < elapsed < 1.0 or self._predicted <= 0:   # or the period over
            return None
        recent = self._vois.ravel()                                                    # (window x K,)
        seen = float(len(self._vois))                                                  # opportunities in the window
        to_come = opportunity * (1.0 - elapsed) / elapsed                               # at the pace seen so far
        correction = spent / self._predicted
        reads_wanted = max(self.budget - spent, 0.0) / (self._price * max(correction, 1e-9))   # the budget's reads
        affordable_share = reads_wanted / to_come * seen   # of the window's VOIs, how many the budget could buy
        ranked = np.sort(recent)[::-1]
        if affordable_share >= len(ranked):
            return 0.0
        return float(ranked[int(affordable_share)] / self._price)

    def _decide(self, opportunity: int, shadow: float | None) -> str:
        c = self.cfg
        if not c.enabled or shadow is None or opportunity < c.warmup:
            return HOLD
        moved = min(max(self.floor, shadow), c.max_hurdle)
        if moved == self.hurdle:
            return HOLD
        action = RAISE if moved > self.hurdle else LOWER
        self.hurdle = moved
        return action
