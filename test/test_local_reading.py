"""The reading TRM's tier (funnel/local_reading.py): its price, its trust, and cascade3 against the cascade."""

from __future__ import annotations

import numpy as np
import pytest

from trm_demo.config import load_config
from trm_demo.funnel import local_reading, pipeline
from trm_demo.funnel.calibration import MIN_VAR
from trm_demo.funnel.cascade import belief_from_estimate
from trm_demo.funnel.evaluation import summarise
from trm_demo.funnel.simulation import run_funnel
from trm_demo.funnel.telemetry import CallLog
from trm_demo.strategies import KEYS, recorded
from trm_demo.trm.reader import flops_per_step
from trm_demo.trm.weights import load_checkpoint, resolve_checkpoint

SMALL = {"reading_trm.enabled": True, "simulation.opportunities": 60, "training.samples": 512,
         "cascade.calibration_reads": 256}


def run(overrides: dict | None = None):
    cfg = load_config(overrides={**SMALL, **(overrides or {})})
    model = pipeline.starting_model(cfg)
    return run_funnel(cfg, model, pipeline.fit_baseline(cfg), CallLog(None), pipeline.step_cap(cfg, model.decisions))


def test_a_read_is_priced_as_the_trms_steps_scaled_by_flops():
    cfg = load_config()
    reader, _ = load_checkpoint(resolve_checkpoint(cfg.reading_trm.checkpoint))
    tabular, sim = pipeline.model_spec(cfg), cfg.simulation
    one, three = (local_reading.price_per_read(sim, tabular, reader.spec, cap) for cap in (1, 3))
    assert three - sim.trm_base_cost == pytest.approx(3 * (one - sim.trm_base_cost))
    # each step of a read costs as many TRM steps as it has the tabular step's FLOPs
    assert (one - sim.trm_base_cost) / sim.trm_cost_per_step == pytest.approx(
        flops_per_step(reader.spec) / local_reading.tabular_flops_per_step(tabular))
    assert one < 0.01 * sim.llm_cost   # the target: at most 1 % of an LLM read


def test_a_reading_that_adds_nothing_is_never_trusted_and_one_that_tells_the_outcome_is():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.05, 0.6, 2000)
    truth = np.log(base / (1 - base)) + rng.normal(0.0, 1.0, 2000)
    outcome = (rng.random(2000) < 1 / (1 + np.exp(-truth))).astype(float)
    noise = local_reading.fit_local_trust(base, rng.normal(0.0, 1.0, 2000), outcome, 1.0)
    assert noise.reading_var == local_reading.READER_UNTRUSTED
    told = local_reading.fit_local_trust(base, truth + rng.normal(0.0, 0.3, 2000), outcome, 1.0)
    assert told.reading_var < 1.0 and told.error_var == pytest.approx(1.0)


def test_a_candidate_not_read_locally_keeps_the_cascades_belief_bit_for_bit():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.01, 0.9, (40, 4))
    trust = local_reading._trust(0.5, 0.1, 0.4, 100)
    cascade = local_reading._trust(0.6, 0.0, 0.3, 100)
    tier = local_reading.ReadingTier(None, 1, 1, 1.0, 0.5, None, trust, 100)
    allowed = rng.random(40) < 0.7
    mean, var, read = local_reading.read_first(base, rng.normal(size=(40, 4)), cascade, tier, allowed,
                                               load_config().simulation)
    before_mean, before_var = belief_from_estimate(base, cascade.error_var)
    assert read.any() and not read[~allowed].any()
    np.testing.assert_array_equal(mean[~read], before_mean[~read])
    np.testing.assert_array_equal(var[~read], before_var[~read])
    assert (var[read] < before_var[read]).all()
    assert trust.error_var >= MIN_VAR


def test_cascade3_is_the_cascade_decision_for_decision_when_a_local_read_costs_more_than_any_voi():
    # trm_cost_per_step prices the reading TRM's read: at its ceiling a read costs millions, above any VOI
    result = run({"simulation.trm_cost_per_step": 1e6})
    summary = result.ledger.summary()
    assert result.three_tier.local_reads == 0
    assert summary["cascade3"] == summary["cascade"]


def test_a_useless_reading_tier_is_never_read(monkeypatch):
    noise = np.random.default_rng(11)
    monkeypatch.setattr(local_reading.ReadingTier, "own_logit",
                        lambda self, market: noise.standard_normal(market.messages.shape))
    result = run()
    assert result.three_tier.tier.trust.reading_var == local_reading.READER_UNTRUSTED
    assert result.three_tier.local_reads == 0
    summary = result.ledger.summary()
    assert summary["cascade3"] == summary["cascade"]


def test_the_tier_adds_its_three_strategies_and_changes_no_other():
    on, off = run(), run({"reading_trm.enabled": False})
    assert tuple(on.ledger.summary()) == recorded(True) == KEYS
    assert tuple(off.ledger.summary()) == recorded(False)
    assert set(recorded(True)) - set(recorded(False)) == {"cascade3", "trm_reader", "bow_reader"}
    assert {k: v for k, v in on.ledger.summary().items() if k in recorded(False)} == off.ledger.summary()
    n = on.timeline.n * load_config().market.candidates_per_opportunity
    # trm_reader and bow_reader pay the TRM and one local read per candidate, and no LLM
    for key, tier in (("trm_reader", on.three_tier.tier), ("bow_reader", on.three_tier.bag)):
        summary = on.ledger.summary()[key]
        assert summary["compute_cost"] == pytest.approx(on.ledger.summary()["trm"]["compute_cost"] + n * tier.price)
        assert summary["llm_reads"] == 0
    assert on.three_tier.bag.price < on.three_tier.tier.price   # a dot product costs less than the TRM's step


def test_the_evaluation_pairs_the_tiers_only_where_the_runs_recorded_them():
    def seed(keys, shift):
        return {"strategies": {k: {"expected_net_value": 100.0 + shift + i, "net_value": 0.0,
                                   "share_of_oracle_expected": 0.9, "llm_reads": 1, "llm_cost": 0.2}
                               for i, k in enumerate(keys)},
                "counterfactuals": {"thermostat": {"expected_net_value_delta": 0.0},
                                    "sentinel": {"expected_net_value_delta": 0.0}}}

    with_tier = summarise([seed(recorded(True), s) for s in (0.0, 3.0)])
    without = summarise([seed(recorded(False), s) for s in (0.0, 3.0)])
    index = {k: i for i, k in enumerate(recorded(True))}
    assert with_tier["paired"]["cascade3-cascade"]["mean"] == index["cascade3"] - index["cascade"]
    assert with_tier["paired"]["trm_reader-keyword"]["mean"] == index["trm_reader"] - index["keyword"]
    assert with_tier["paired"]["trm_reader-bow_reader"]["mean"] == index["trm_reader"] - index["bow_reader"]
    assert "cascade3-cascade" not in without["paired"] and "trm_reader" not in without["strategies"]


@pytest.mark.parametrize("deep", [3, 12])   # fewer opportunities read to full depth than the market has, and more
def test_the_depth_pass_gives_the_runs_own_logit_and_each_steps_reading_bit_for_bit(deep):
    """The run reads its first opportunities once to full depth (read_with_depth): the own logit of those and the
    rest is the capped reading's (own_logit), and the depth chart's path that of a trajectory from the fields logit
    (depth_by_construction adds its read-outs to it)."""
    from trm_demo.funnel.market import sample_market
    from trm_demo.funnel.tokens import encode_market
    from trm_demo.trm.reader import trajectory
    model, meta = local_reading.reading_trm(load_config().reading_trm.checkpoint)
    market = sample_market(np.random.default_rng(4), 8, 3, 0.3)
    for cap, threshold in ((1, 1.0), (2, 0.0)):   # the shipped cap, and a halting head that stops at once
        tier = local_reading.ReadingTier(model, cap, 3, threshold, 0.0, None, None, 0)
        own, read = local_reading.read_with_depth(tier, market, deep)
        np.testing.assert_array_equal(own, tier.own_logit(market))
        head = market.rows(slice(0, deep))
        fields = np.random.default_rng(5).normal(size=head.messages.shape)
        path, _ = trajectory(model, encode_market(head).ids, fields.ravel(), 3)
        assert read.shape == (3, min(deep, 8) * 3)
        np.testing.assert_array_equal(local_reading.sigmoid(fields.ravel() + read), path)
