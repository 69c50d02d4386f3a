"""ROI thermostat: buys or cuts TRM recursion depth to steer rolling ROI towards a target.

Two levers, both runtime knobs of the engine (no retraining):
  halt_threshold  the fine lever: a sample stops once sigmoid(q) >= it, so higher = more steps;
  step_cap        the coarse lever: no sample takes more steps than this.
Buying depth starts with the fine lever and cutting with the coarse one, so cost is
cut quickly and bought carefully.

Damping (why it cannot hunt forever on a steady market): whenever a move reverses
the previous one, the target lies between two neighbouring settings, and the error
that forced the reversal is the best this knob resolution can do. The controller
therefore widens its deadband to that error, and never moves again on an error that
small. A reversal happens only at a setting whose error exceeds the widened deadband,
and leaves every error up to its own size inside it, so each reversal permanently
retires at least one setting. Settings are finite (the threshold lives on a rounded
grid) and runs in one direction end at a bound, so the number of moves is finite:
it settles.
The widened deadband is forgotten, with the rest of the hunt, when the market
visibly moves: when a setting seen before now shows an ROI further from the one
remembered there than the widened band is wide (twice the deadband) plus the
largest such change already put down to noise. On a steady market a setting always
shows the same ROI, so this never fires there and the argument above stands.
"""

from __future__ import annotations

from trm_demo.config import ThermostatConfig

DEEPEN, SHALLOW, HOLD = "deepen", "shallow", "hold"


class Thermostat:
    def __init__(self, cfg: ThermostatConfig, initial_steps: int | None = None):
        """`initial_steps`: the step cap validated in training, kept within the configured bounds;
        None starts at `cfg.initial_steps`."""
        self.cfg = cfg
        start = cfg.initial_steps if initial_steps is None else initial_steps
        self.step_cap = min(max(start, cfg.min_steps), cfg.max_steps)
        self.halt_threshold = cfg.initial_halt_threshold
        self.history: list[dict] = []
        self._learned_deadband = 0.0  # widened on reversals, see the module docstring
        self._roi_seen_at: dict[tuple[int, float], float] = {}  # setting -> rolling ROI last seen there
        self._jitter = 0.0  # largest ROI change between visits to one setting put down to noise
        self._last_direction = 0  # +1 after deepening, -1 after a cut, 0 before any move
        self._updates_since_move = cfg.cooldown  # so the very first update may move

    @property
    def state(self) -> tuple[int, float]:
        return self.step_cap, self.halt_threshold

    def update(self, opportunity: int, rolling_roi: float | None) -> str:
        """Called between chunks with the TRM's rolling ROI; returns the action taken."""
        action = self._decide(rolling_roi)
        self.history.append({
            "opportunity": int(opportunity),
            "rolling_roi": None if rolling_roi is None else float(rolling_roi),
            "step_cap": self.step_cap, "halt_threshold": self.halt_threshold, "action": action,
            "deadband": max(self.cfg.deadband, self._learned_deadband),
        })
        return action

    def _decide(self, rolling_roi: float | None) -> str:
        self._updates_since_move += 1
        if not self.cfg.enabled or rolling_roi is None:
            return HOLD
        self._forget_if_market_moved(rolling_roi)
        if self._updates_since_move <= self.cfg.cooldown:
            return HOLD
        error = rolling_roi - self.cfg.target_roi
        if abs(error) < self.cfg.deadband or abs(error) <= self._learned_deadband:
            return HOLD
        direction = 1 if error > 0 else -1
        levers = (self._move_threshold, self._move_step_cap)
        if not any(move(direction) for move in (levers if direction > 0 else levers[::-1])):
            return HOLD  # both levers already at their bound in this direction
        if direction == -self._last_direction:
            self._learned_deadband = abs(error)
        self._last_direction = direction
        self._updates_since_move = 0
        return DEEPEN if direction > 0 else SHALLOW

    def _forget_if_market_moved(self, rolling_roi: float) -> None:
        seen = self._roi_seen_at.get(self.state)
        self._roi_seen_at[self.state] = rolling_roi
        if seen is None:
            return
        change = abs(rolling_roi - seen)
        if self._learned_deadband > 0 and change > 2 * self._learned_deadband + self._jitter:
            # Forget the whole hunt: its tolerance, its direction (the next move is not a
            # reversal) and what it saw, which would mislead in the new market.
            self._learned_deadband, self._last_direction = 0.0, 0
            self._roi_seen_at = {self.state: rolling_roi}
        else:
            self._jitter = max(self._jitter, change)

    def _move_threshold(self, direction: int) -> bool:
        c = self.cfg
        # Rounded so one notch up then one down lands exactly where it started
        # (0.2 + 0.1 - 0.1 != 0.2 in floats): the settling argument counts settings.
        moved = round(self.halt_threshold + direction * c.threshold_step, 9)
        moved = min(max(moved, c.min_halt_threshold), c.max_halt_threshold)
        if moved == self.halt_threshold:
            return False
        self.halt_threshold = moved
        return True

    def _move_step_cap(self, direction: int) -> bool:
        moved = min(max(self.step_cap + direction, self.cfg.min_steps), self.cfg.max_steps)
        if moved == self.step_cap:
            return False
        self.step_cap = moved
        return True
