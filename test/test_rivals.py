"""The cascade's rivals (funnel/simulation.py, "the rivals"): the LLM reading everyone falls back to the TRM when the
LLM is down, the top-k router reads exactly k per job when the budget allows, and the LLM's shortlist is the TRM's
top k."""

import numpy as np
import pytest

from trm_demo.funnel.calibration import Calibration, prior_trust
from trm_demo.config import load_config
from trm_demo.funnel import pipeline
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.simulation import (PassClock, blocks, read_top_k, run_funnel, shortlist_estimate, timeline,
                                        trm_estimate, world_for)
from trm_demo.funnel.telemetry import call_log

OPPORTUNITIES = 60


def funnel(**overrides):
    cfg = load_config(overrides={"simulation.opportunities": OPPORTUNITIES, **overrides})
    model = pipeline.starting_model(cfg)
    with call_log(None) as calls:
        return cfg, run_funnel(cfg, model, pipeline.fit_baseline(cfg), calls, cfg.model.supervision_steps).ledger


def test_in_an_outage_every_reader_decides_as_its_base_does():
    """The LLM rivals fall back to the TRM; the router and the cascade to their base belief, the keyword reader's."""
    cfg, ledger = funnel(**{"scenario.events": [{"at": 0, "llm_outage": OPPORTUNITIES}]})
    summary = ledger.summary()
    trm, keyword = summary["trm"], summary["keyword"]
    assert trm["expected_net_value"] != keyword["expected_net_value"]
    k = {"llm": cfg.market.candidates_per_opportunity, "llm_shortlist": cfg.rivals.shortlist_k,
         "router_topk": cfg.rivals.router_k}

    def same_picks(row, base):   # the same pursuits, conversions and expected value (before LLM cost)
        return (row["pursued"], row["conversions"], row["total_value"]) == (
            base["pursued"], base["conversions"], base["total_value"]) and \
            row["expected_net_value"] + row["total_cost"] == pytest.approx(
                base["expected_net_value"] + base["total_cost"], abs=1e-9)

    assert same_picks(summary["cascade"], keyword)
    for name in k:
        base = keyword if name == "router_topk" else trm
        assert same_picks(summary[name], base), name
        assert summary[name]["fallback_decisions"] == OPPORTUNITIES, name
        # the breaker opened after the first failed round: the LLM was not called for every job's k
        assert 0 < ledger.totals(name)["llm_reads"] < OPPORTUNITIES * k[name] / 2, name


def test_the_llm_reading_everyone_reads_every_candidate_while_the_llm_is_up():
    cfg, ledger = funnel(**{"scenario.events": []})
    # a job's reads are at most its candidates, so the total says every job read all of them
    assert ledger.totals("llm")["llm_reads"] == OPPORTUNITIES * cfg.market.candidates_per_opportunity
    assert ledger.totals("llm")["fallback_decisions"] == 0


@pytest.mark.parametrize("k", [1, 3])
def test_the_router_reads_exactly_k_per_job_when_the_budget_allows(k):
    _, ledger = funnel(**{"scenario.events": [], "rivals.router_k": k, "rivals.shortlist_k": k,
                          "sentinel.llm_budget_per_opportunity": 10.0})
    for name in ("router_topk", "llm_shortlist"):
        assert ledger.totals(name)["llm_reads"] == OPPORTUNITIES * k, name   # at most k per job, so k in each


def test_a_tight_budget_cuts_the_router_short_and_it_never_overspends():
    _, ledger = funnel(**{"scenario.events": [], "rivals.router_k": 3, "sentinel.llm_budget_per_opportunity": 0.3})
    reads = ledger.totals("router_topk")["llm_reads"]
    assert 3 <= reads < 3 * OPPORTUNITIES      # it read while the budget lasted, then stopped short
    assert ledger.totals("router_topk")["llm_cost"] <= 0.3 * OPPORTUNITIES + 1e-9   # summed in another order


def test_the_llm_shortlist_reads_and_picks_only_the_trms_top_k():
    cfg = load_config(overrides={"simulation.opportunities": 30, "scenario.events": [], "rivals.shortlist_k": 3,
                                 "sentinel.llm_budget_per_opportunity": 10.0})
    model = pipeline.starting_model(cfg)
    tl, readings = timeline(cfg), Readings(cfg)
    block = next(blocks(cfg, tl, model, pipeline.fit_baseline(cfg), PassClock(), cfg.model.supervision_steps))
    trm = trm_estimate(block, cfg, cfg.model.supervision_steps).estimate
    top = read_top_k(world_for(cfg, 300.0, Calibration(prior_trust(cfg.cascade.prior_error_sd))), block, trm, 3, tl, cfg, readings)
    third = -np.sort(-trm, axis=1)[:, 2:3]                       # each job's third-best TRM estimate
    assert np.array_equal(top.read, trm >= third)                # ties are measure-zero for float estimates
    assert np.array_equal(top.shortlist, top.read)
    pick = shortlist_estimate(top, trm).argmax(axis=1)
    assert top.shortlist[np.arange(len(pick)), pick].all()
