"""The break-even map (funnel/landscape.py): every strategy the run has, on a grid that holds the run's own price and
value, decided as the run decides; over seeds, each cell's winner with its paired lead over the runner-up."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trm_demo.config import load_config
from trm_demo.funnel import pipeline
from trm_demo.funnel.calibration import Calibration
from trm_demo.funnel.ledger import Ledger
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.landscape import MAPPED, break_even_map, break_even_values, grid
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import Timeline, decide_block, rival_worlds, run_funnel, world_for
from trm_demo.funnel.telemetry import call_log
from trm_demo.report.findings import Significance, lead
from trm_demo.results import BreakEvenMap, build
from trm_demo.strategies import RIVALS
from trm_demo.trm.weights import init_model


@pytest.fixture(scope="module")
def steady_run():
    """A small run on a steady market: the map's cell at the run's economics must be the run itself."""
    cfg = load_config(overrides={"simulation.opportunities": 60, "scenario.events": [], "training.samples": 256,
                                 "simulation.llm_cost": 0.25, "simulation.conversion_value": 90.0})
    model = init_model(pipeline.model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    with call_log(None) as calls:
        result = run_funnel(cfg, model, pipeline.fit_baseline(cfg), calls, 2)
    return cfg, result


def test_the_grid_holds_the_runs_own_price_and_value(steady_run):
    cfg, _ = steady_run
    prices, values = grid(cfg)
    assert 0.25 in prices and 90.0 in values
    assert prices == tuple(sorted(prices)) and values == tuple(sorted(values))


def test_the_map_has_every_strategy_and_its_own_cell_is_the_run(steady_run):
    cfg, result = steady_run
    cells = break_even_values(*result.sample, cfg, result.keyword)
    assert len(cells) == len(grid(cfg)[0]) * len(grid(cfg)[1])
    assert all(set(c["per_opportunity"]) == set(MAPPED) for c in cells)
    here = next(c for c in cells if (c["conversion_value"], c["llm_price"]) == (90.0, 0.25))
    totals = result.ledger.summary()
    # On a steady market the strategies without controls decide the map's cell exactly as they decided the run.
    for key in ("trm", "keyword", "llm", "logistic", "greedy", "oracle"):
        assert here["per_opportunity"][key] == pytest.approx(totals[key]["expected_net_value"] / 60)


def test_a_dearer_read_never_makes_reading_everyone_worth_more(steady_run):
    cfg, result = steady_run
    cells = break_even_values(*result.sample, cfg, result.keyword)
    at_90 = sorted((c for c in cells if c["conversion_value"] == 90.0), key=lambda c: c["llm_price"])
    llm = [c["per_opportunity"]["llm"] for c in at_90]
    assert all(a > b for a, b in zip(llm, llm[1:]))
    assert [c["cascade_share_read"] for c in at_90] == sorted((c["cascade_share_read"] for c in at_90), reverse=True)


def test_every_price_decided_at_once_gives_each_cell_to_the_bit_what_a_call_for_that_cell_gives(steady_run):
    """The map decides all prices of a value in one call (the block once per price); each cell must be the one
    decide_block makes with that price and value alone, every strategy's figure equal, not just close."""
    cfg, result = steady_run
    block, step_cap, trust = result.sample
    n = len(block.ids)
    cells = break_even_values(block, step_cap, trust, cfg, result.keyword)
    prices, values = grid(cfg)
    for value, price in ((values[0], prices[0]), (values[2], prices[3]), (values[-1], prices[-1])):
        sim = dataclasses.replace(cfg.simulation, llm_cost=price, conversion_value=value, chunk_size=n)
        alone = dataclasses.replace(cfg, simulation=sim)
        steady = Timeline(np.linspace(1 / n, 1.0, n), np.ones(n), np.zeros(n, bool), np.full(n, cfg.market.drift))
        off = {"fixed_hurdle": cfg.thermostat.initial_hurdle, "guardrails_on": False, "latency_limit_on": False}
        ledger = Ledger(MAPPED, n)
        decide_block(ledger, block, steady, alone, Readings(alone), step_cap,
                     {"run": world_for(alone, np.inf, Calibration(trust), **off)},
                     rival_worlds(alone, np.inf, Calibration(trust), **off), result.keyword)
        totals = ledger.summary()
        cell = next(c for c in cells if (c["conversion_value"], c["llm_price"]) == (value, price))
        assert cell["per_opportunity"] == {key: totals[key]["expected_net_value"] / n for key in MAPPED}
        assert cell["cascade_share_read"] == totals["cascade"]["llm_reads"] / block.market.p_true.size


def seed_map(cfg, values: dict[str, float]) -> list[dict]:
    prices, worth = grid(cfg)
    return [{"conversion_value": v, "llm_price": p, "per_opportunity": {k: values.get(k, 0.0) for k in MAPPED},
             "cascade_share_read": 0.1} for v in worth for p in prices]


def test_over_seeds_each_cell_names_the_best_mean_and_whether_its_paired_lead_is_significant():
    cfg = load_config()
    steady = [seed_map(cfg, {"cascade": 10.0 + i, "trm": 9.0 + i, "llm": 2.0}) for i in range(5)]
    close = [seed_map(cfg, {"cascade": 10.0 + (-1) ** i, "trm": 10.3, "llm": 2.0}) for i in range(5)]
    for per_seed, winner, significance in ((steady, "cascade", Significance.AHEAD),
                                           (close, "trm", Significance.NOT_SIGNIFICANT)):
        found = build(BreakEvenMap, break_even_map(per_seed, cfg))
        assert found.seeds == 5 and all(c.best == winner for c in found.cells)
        cell = found.cells[0]
        assert cell.per_opportunity[winner].n == 5
        assert lead(cell).significance is significance
    one = build(BreakEvenMap, break_even_map(steady[:1], cfg))
    assert lead(one.cells[0]).significance is Significance.ONE_SEED


def test_the_winner_is_a_rival_never_the_oracle():
    cfg = load_config()
    found = break_even_map([seed_map(cfg, {"oracle": 99.0, "greedy": 1.0})], cfg)
    assert {c["best"] for c in found["cells"]} == {"greedy"} and "oracle" not in RIVALS
    assert np.isclose(found["cells"][0]["per_opportunity"]["oracle"]["mean"], 99.0)
