"""The budget-pacing thermostat on a synthetic plant: bounded, settles, and acts only when the budget binds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from trm_demo.config import load_config
from trm_demo.funnel.thermostat import HOLD, Thermostat

CFG = load_config().thermostat


def spend_per_opportunity(hurdle: float, price: float) -> float:
    """A plant like the cascade: the higher the hurdle (x price), the fewer reads pay; each read costs `price`."""
    return price * 4.0 * math.exp(-0.4 * (hurdle - 1.0))


def run_plant(budget_per_opportunity: float, opportunities: int = 2000, chunk: int = 10,
              price_at=lambda i: 0.2, cfg=CFG) -> Thermostat:
    thermostat = Thermostat(cfg, budget_per_opportunity * opportunities)
    spent = 0.0
    for start in range(0, opportunities, chunk):
        for i in range(start, start + chunk):
            spent += spend_per_opportunity(thermostat.hurdle, price_at(i))
        thermostat.update(start + chunk, (start + chunk) / opportunities, spent)
    return thermostat


def test_a_budget_that_does_not_bind_leaves_the_hurdle_at_its_floor():
    thermostat = run_plant(budget_per_opportunity=5.0)     # the plant spends 0.8 per opportunity at hurdle 1
    assert thermostat.hurdle == CFG.min_hurdle
    assert all(h["action"] == HOLD for h in thermostat.history)


def test_a_binding_budget_is_paced_and_the_hurdle_settles():
    thermostat = run_plant(budget_per_opportunity=0.4)
    history = thermostat.history
    late = [h for h in history if h["opportunity"] > 1000]
    moves_late = sum(h["action"] != HOLD for h in late)
    assert CFG.min_hurdle < thermostat.hurdle <= CFG.max_hurdle
    assert moves_late <= len(late) // 4, "it keeps hunting"
    # settled where the plant spends the budget's rate: 0.8 exp(-0.4 (h - 1)) = 0.4 at h = 1 + ln 2 / 0.4
    assert thermostat.hurdle == pytest.approx(1 + math.log(2) / 0.4, rel=0.15)
    assert history[-1]["spent"] <= 0.4 * 2000 * 1.05


def test_a_price_rise_mid_period_raises_the_hurdle():
    thermostat = run_plant(budget_per_opportunity=1.0, price_at=lambda i: 0.2 if i < 1000 else 0.5)
    before = [h["hurdle"] for h in thermostat.history if h["opportunity"] == 1000][0]
    assert before == CFG.min_hurdle
    assert thermostat.hurdle > 1.5   # the rest of the budget allows 1.2 per opportunity: h = 2.28 at equilibrium


@settings(max_examples=40, deadline=None)
@given(st.floats(0.01, 3.0), st.lists(st.floats(0.01, 5.0), min_size=5, max_size=5))
def test_the_hurdle_stays_within_its_bounds_whatever_the_prices(budget, prices):
    thermostat = run_plant(budget_per_opportunity=budget, opportunities=500,
                           price_at=lambda i: prices[i // 100])
    hurdles = np.array([h["hurdle"] for h in thermostat.history])
    assert ((hurdles >= CFG.min_hurdle) & (hurdles <= CFG.max_hurdle)).all()


def test_disabled_it_never_moves():
    cfg = type(CFG)(**{**CFG.__dict__, "enabled": False})
    thermostat = run_plant(budget_per_opportunity=0.1, cfg=cfg)
    assert thermostat.hurdle == CFG.initial_hurdle
