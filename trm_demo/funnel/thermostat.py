"""Thermostat: paces the cascade's LLM spend over the period by moving its escalation hurdle.

The cascade reads a candidate when the value of that reading beats hurdle x price.
With a known price and no budget, hurdle 1 is optimal and needs no controller.
What a controller is for is the classic budget-pacing problem: the period has an
LLM budget, and spending it on the first opportunities that come leaves none for
later ones (after a price rise, or when more opportunities arrive than planned).
So, between chunks, it compares the recent spend rate (the last `window`
opportunities, per unit of the period's clock) with the rate the rest of the
budget allows over the rest of the period:

  ratio = recent rate / ((budget - spent) / (1 - elapsed))
  ratio above 1 + deadband   raise the hurdle by the factor min(1 + gain x (ratio - 1), 2)
  ratio below 1 - deadband   lower it by the factor min(1 + gain x (1 - ratio), 2)

always within [min_hurdle, max_hurdle]. It needs no model of the market: only
its own spend and the clock, which any deployment has. On a steady market whose
spend stays under the budget it sits at min_hurdle (the best fixed hurdle when
the budget does not bind); on a steady market that spends too fast it moves
until the rates agree within the deadband, then holds.
(The other drift, value per reading moving away from predicted VOI, is corrected
inside the cascade, which re-estimates the TRM's error spread from its readings.)
"""

from __future__ import annotations

import numpy as np

from trm_demo.config import ThermostatConfig

RAISE, LOWER, HOLD = "raise", "lower", "hold"


MAX_STEP = 2.0   # the hurdle at most doubles or halves per move: one noisy chunk cannot swing it far
MAX_RATIO = 100.0   # a spend rate this far over what the budget allows moves the hurdle as much as any


class Thermostat:
    def __init__(self, cfg: ThermostatConfig, budget: float):
        self.cfg = cfg
        self.budget = budget
        self.hurdle = cfg.initial_hurdle
        self.history: list[dict] = []
        self._seen: list[tuple[int, float, float]] = []   # (opportunity, clock, spent) after each chunk

    def update(self, opportunity: int, elapsed: float, spent: float) -> str:
        """Between chunks: `elapsed` is the share of the period gone by (0..1], `spent` the LLM spend so far."""
        self._seen.append((opportunity, elapsed, spent))
        ratio = self._rate_ratio()
        action = self._decide(opportunity, ratio)
        self.history.append({"opportunity": int(opportunity), "elapsed": float(elapsed), "spent": float(spent),
                             "rate_ratio": ratio, "hurdle": self.hurdle, "action": action})
        return action

    def _rate_ratio(self) -> float | None:
        """Recent spend rate / the rate the rest of the budget allows; None when undefined."""
        opportunity, clock, spent = self._seen[-1]
        past = next((s for s in reversed(self._seen[:-1]) if opportunity - s[0] >= self.cfg.window), None)
        if past is None or not np.isfinite(self.budget) or clock >= 1.0 or clock <= past[1]:
            return None
        recent = (spent - past[2]) / (clock - past[1])
        allowed = max(self.budget - spent, 0.0) / (1.0 - clock)
        # Nothing left but still spending: as far over pace as it gets (a finite number, for the JSON).
        return min(recent / allowed, MAX_RATIO) if allowed > 0 else (MAX_RATIO if recent > 0 else 1.0)

    def _decide(self, opportunity: int, ratio: float | None) -> str:
        c = self.cfg
        if not c.enabled or ratio is None or opportunity < c.warmup:
            return HOLD
        error = ratio - 1.0
        if abs(error) <= c.deadband:
            return HOLD
        factor = min(1.0 + c.gain * abs(error), MAX_STEP)
        moved = min(max(self.hurdle * factor if error > 0 else self.hurdle / factor, c.min_hurdle), c.max_hurdle)
        if moved == self.hurdle:
            return HOLD
        action = RAISE if moved > self.hurdle else LOWER
        self.hurdle = moved
        return action
