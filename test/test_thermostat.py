"""The shadow-price thermostat on a synthetic plant: bounded, spends a binding budget, acts only when it binds,
and lowers its floor when the readings' gaps to the base belief grow wider than on a steady market."""

import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.config import load_config
from trm_demo.funnel.thermostat import HOLD, Thermostat

CFG = load_config().thermostat
K = 8


def run_plant(budget_per_opportunity: float, opportunities: int = 2000, chunk: int = 10,
              price_at=lambda i: 0.2, planned: int | None = None, cfg=CFG,
              gap_sd_at=None) -> tuple[Thermostat, float]:
    """A plant like the cascade: each candidate's VOI ($) is heavy-tailed (Pareto, shape 0.5, from $0.05), so that
    at a fixed hurdle a dearer read costs more in all; the cascade reads those whose VOI beats hurdle x price, each
    read costing the price. `planned`: the opportunities the budget is for (fewer than come: a surge). `gap_sd_at`:
    each read's gap to the base belief is gap_sd_at(opportunity) x a steady market's (None: no gaps observed)."""
    planned = planned or opportunities
    thermostat = Thermostat(cfg, budget_per_opportunity * planned)
    rng = np.random.default_rng(0)
    vois = 0.05 * (1.0 + rng.pareto(0.5, (opportunities, K)))
    spent = 0.0
    for start in range(0, opportunities, chunk):
        rows = np.arange(start, min(start + chunk, opportunities))
        price = np.array([price_at(i) for i in rows])
        thermostat.observe(vois[rows], price)
        cost = price[:, None] * (vois[rows] > thermostat.hurdle * price[:, None])
        spent += min(cost.sum(), max(thermostat.budget - spent, 0.0))     # the sentinel's budget holds
        if gap_sd_at is not None:   # squared standardised gaps: steady_surprise on average at gap_sd_at 1
            read_rows = rows[np.nonzero(cost)[0]]
            gaps = np.array([gap_sd_at(i) for i in read_rows]) * rng.standard_normal(len(read_rows))
            thermostat.observe_readings(cfg.steady_surprise * gaps ** 2)
        thermostat.update(rows[-1] + 1, (rows[-1] + 1) / opportunities, spent)
    return thermostat, spent


def test_a_budget_that_does_not_bind_leaves_the_hurdle_at_its_floor():
    thermostat, _ = run_plant(budget_per_opportunity=5.0)   # at the floor (3 x $0.20) it spends ~$0.46 a job
    assert thermostat.hurdle == CFG.min_hurdle
    assert all(h["action"] == HOLD for h in thermostat.history)


def test_gaps_twice_as_wide_as_on_a_steady_market_lower_the_floor():
    """After opportunity 1000 every reading's gap to the base belief has twice the steady market's spread: the
    belief is more wrong than its fitted spread says, so VOI is pessimistic, and the floor falls in proportion to
    the squared gaps (x 1/4: from 3.0 to the 1.0 it never goes below)."""
    assert CFG.surprise_window > 0
    thermostat, _ = run_plant(budget_per_opportunity=5.0, gap_sd_at=lambda i: 1.0 if i < 1000 else 2.0)
    before = [h["hurdle"] for h in thermostat.history if h["opportunity"] <= 1000]
    after = [h["hurdle"] for h in thermostat.history if h["opportunity"] > 1200]
    assert np.median(before) == CFG.min_hurdle
    assert max(after) < 0.6 * CFG.min_hurdle
    assert min(after) >= 1.0
    assert thermostat.floor == thermostat.hurdle


def test_gaps_narrower_than_on_a_steady_market_keep_the_floor():
    thermostat, _ = run_plant(budget_per_opportunity=5.0, gap_sd_at=lambda i: 0.7)
    assert thermostat.floor == CFG.min_hurdle


def test_the_floor_stays_put_without_a_surprise_window():
    cfg = type(CFG)(**{**CFG.__dict__, "surprise_window": 0})
    thermostat, _ = run_plant(budget_per_opportunity=5.0, cfg=cfg, gap_sd_at=lambda i: 3.0)
    assert thermostat.hurdle == CFG.min_hurdle


def test_a_binding_budget_is_spent_over_the_whole_period():
    thermostat, spent = run_plant(budget_per_opportunity=0.2)
    assert thermostat.hurdle > CFG.min_hurdle
    assert spent >= 0.9 * 0.2 * 2000, "it left budget unspent"
    # still reading in the last tenth of the period: the money lasted
    late = [h for h in thermostat.history if h["opportunity"] > 1800]
    assert late[-1]["spent"] > late[0]["spent"]


def test_a_price_rise_mid_period_raises_the_hurdle():
    thermostat, _ = run_plant(budget_per_opportunity=0.55, price_at=lambda i: 0.2 if i < 1000 else 0.5)
    before = [h["hurdle"] for h in thermostat.history if h["opportunity"] == 1000][0]
    after = [h["hurdle"] for h in thermostat.history if h["opportunity"] > 1000]
    assert before == CFG.min_hurdle
    assert np.median(after) > CFG.min_hurdle


def test_a_traffic_surge_raises_the_hurdle():
    """1.5x the planned opportunities in the same period: the budget is shared among more opportunities."""
    steady, _ = run_plant(budget_per_opportunity=0.5, opportunities=1000)
    surge, _ = run_plant(budget_per_opportunity=0.5, opportunities=1500, planned=1000)
    assert np.median([h["hurdle"] for h in surge.history]) > np.median([h["hurdle"] for h in steady.history])


@settings(max_examples=40, deadline=None)
@given(st.floats(0.01, 3.0), st.lists(st.floats(0.01, 5.0), min_size=5, max_size=5),
       st.lists(st.floats(0.1, 10.0), min_size=5, max_size=5))
def test_the_hurdle_stays_within_its_bounds_whatever_the_prices_and_gaps(budget, prices, gap_sds):
    thermostat, _ = run_plant(budget_per_opportunity=budget, opportunities=500, price_at=lambda i: prices[i // 100],
                              gap_sd_at=lambda i: gap_sds[i // 100])
    hurdles = np.array([h["hurdle"] for h in thermostat.history])
    assert ((hurdles >= 1.0) & (hurdles <= CFG.max_hurdle)).all()


def test_disabled_it_never_moves():
    cfg = type(CFG)(**{**CFG.__dict__, "enabled": False})
    thermostat, _ = run_plant(budget_per_opportunity=0.1, cfg=cfg)
    assert thermostat.hurdle == CFG.initial_hurdle
