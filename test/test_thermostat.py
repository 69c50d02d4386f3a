"""The thermostat against a synthetic plant: deeper recursion buys quality but costs more, so ROI peaks inside."""

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trm_demo.config import load_config
from trm_demo.thermostat import Thermostat

BASE = load_config().replace(**{"model.supervision_steps": 32})


def plant_roi(step_cap: int, halt_threshold: float) -> float:
    """Expected steps grow with both knobs; quality saturates while cost keeps rising (optimum near 1.5 steps)."""
    depth = step_cap * halt_threshold
    quality = 1 - 0.5 * math.exp(-0.6 * depth)
    return 100 * quality / (20 + 4 * depth) - 1


def thermostat(**knobs) -> Thermostat:
    return Thermostat(BASE.replace(**{f"thermostat.{k}": v for k, v in knobs.items()}).thermostat)


def run_plant(t: Thermostat, updates: int, noise: float = 0.0, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [t.update(10 * i, plant_roi(*t.state) + rng.uniform(-noise, noise)) for i in range(updates)]


def reversals(actions: list[str]) -> int:
    moves = [a for a in actions if a != "hold"]
    return sum(a != b for a, b in zip(moves, moves[1:]))


@st.composite
def configs(draw):
    lo_steps, hi_steps = sorted(draw(st.lists(st.integers(1, 32), min_size=2, max_size=2)))
    lo_thr, hi_thr = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    return {
        "min_steps": lo_steps, "max_steps": hi_steps, "initial_steps": draw(st.integers(lo_steps, hi_steps)),
        "min_halt_threshold": lo_thr, "max_halt_threshold": hi_thr,
        "initial_halt_threshold": draw(st.floats(lo_thr, hi_thr)),
        "threshold_step": draw(st.one_of(st.just(0.0), st.floats(0.02, 0.3))), "cooldown": draw(st.integers(0, 3)),
        "deadband": draw(st.floats(0, 0.5)), "target_roi": draw(st.floats(-1, 3)),
    }


def test_cuts_depth_when_roi_is_below_target():
    t = thermostat(initial_steps=3)
    assert t.update(0, t.cfg.target_roi - 1) == "shallow"
    assert t.state == (2, t.cfg.initial_halt_threshold)


def test_buys_depth_when_roi_is_above_target():
    t = thermostat()
    assert t.update(0, t.cfg.target_roi + 1) == "deepen"
    assert t.state == (t.cfg.initial_steps, pytest.approx(t.cfg.initial_halt_threshold + t.cfg.threshold_step))


def test_buys_steps_once_the_threshold_is_at_its_max_and_cuts_threshold_once_steps_are_at_min():
    t = thermostat(cooldown=0, initial_halt_threshold=0.95, max_halt_threshold=0.95, initial_steps=1, min_steps=1)
    assert t.update(0, 10.0) == "deepen" and t.state == (2, 0.95)
    t.update(10, -1.0)
    assert t.update(20, -1.0) == "shallow" and t.state == (1, pytest.approx(0.95 - t.cfg.threshold_step))


def test_holds_inside_the_deadband_and_without_a_signal():
    t = thermostat(deadband=0.25)
    assert t.update(0, t.cfg.target_roi + 0.2) == "hold"
    assert t.update(10, None) == "hold"
    assert t.state == (t.cfg.initial_steps, t.cfg.initial_halt_threshold)


@settings(max_examples=150, deadline=None)
@given(configs(), st.lists(st.one_of(st.none(), st.floats(-5, 10)), max_size=60))
def test_never_leaves_its_bounds(knobs, rois):
    t = thermostat(**knobs)
    for i, roi in enumerate(rois):
        t.update(i, roi)
        step_cap, threshold = t.state
        assert knobs["min_steps"] <= step_cap <= knobs["max_steps"] and isinstance(step_cap, int)
        assert knobs["min_halt_threshold"] <= threshold <= knobs["max_halt_threshold"]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5), st.lists(st.one_of(st.none(), st.floats(-5, 10)), max_size=60))
def test_waits_out_its_cooldown_after_every_move(cooldown, rois):
    t = thermostat(cooldown=cooldown, deadband=0.0)
    moves = [i for i, roi in enumerate(rois) if t.update(i, roi) != "hold"]
    assert all(later - earlier > cooldown for earlier, later in zip(moves, moves[1:]))


def test_disabled_never_moves():
    t = thermostat(enabled=False)
    assert set(run_plant(t, 200, noise=1.0)) == {"hold"}
    assert t.state == (t.cfg.initial_steps, t.cfg.initial_halt_threshold)


def test_steers_the_default_plant_into_the_deadband_and_stays():
    t = thermostat()
    actions = run_plant(t, 300)
    assert abs(plant_roi(*t.state) - t.cfg.target_roi) < t.cfg.deadband
    assert set(actions[50:]) == {"hold"}


@settings(max_examples=80, deadline=None)
@given(configs())
def test_settles_on_a_steady_plant(knobs):
    # Hunting between two settings that straddle the target is the classic limit cycle;
    # the learned tolerance must end it (see the module docstring for the argument).
    actions = run_plant(thermostat(**knobs), 1500)
    assert set(actions[-300:]) == {"hold"}
    assert reversals(actions) <= 10


@pytest.mark.parametrize("seed", range(5))
def test_settles_on_a_noisy_plant(seed):
    actions = run_plant(thermostat(deadband=0.0, cooldown=0, target_roi=1.9), 2000, noise=0.05, seed=seed)
    assert set(actions[-1000:]) == {"hold"}
    assert reversals(actions) <= 10


def test_history_has_one_json_ready_row_per_update():
    t = thermostat()
    run_plant(t, 5)
    t.update(50, None)
    assert len(t.history) == 6
    assert set(t.history[0]) == {"opportunity", "rolling_roi", "step_cap", "halt_threshold", "action", "deadband"}
    json.dumps(t.history)


def test_follows_a_market_that_really_moved_after_settling():
    t = thermostat(deadband=0.0)
    run_plant(t, 300)
    settled = t.state
    # Every ROI drops by 1.5: the old hunt's tolerance must not hide a gap this size.
    for i in range(300, 600):
        t.update(10 * i, plant_roi(*t.state) - 1.5)
    assert t.state != settled
    assert t.state == (t.cfg.min_steps, t.cfg.min_halt_threshold)
