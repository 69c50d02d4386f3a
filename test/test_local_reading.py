"""The reading TRM's tier (funnel/local_reading.py): its price, its out-of-fold belief, and cascade3 on top of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trm_demo.config import load_config
from trm_demo.funnel import local_reading, pipeline, simulation
from trm_demo.funnel.calibration import MIN_VAR, Labelled
from trm_demo.funnel.evaluation import summarise
from trm_demo.funnel.market import labelled_history
from trm_demo.funnel.telemetry import CallLog
from trm_demo.strategies import KEYS, recorded
from trm_demo.trm.logistic import fit_logistic
from trm_demo.trm.reader import flops_per_step
from trm_demo.trm.training import log_loss
from trm_demo.trm.weights import load_checkpoint, resolve_checkpoint

SMALL = {"reading_trm.enabled": True, "simulation.opportunities": 60, "training.samples": 512,
         "cascade.calibration_reads": 256}


def run(overrides: dict | None = None):
    cfg = load_config(overrides={**SMALL, **(overrides or {})})
    model = pipeline.starting_model(cfg)
    return simulation.run_funnel(cfg, model, pipeline.fit_baseline(cfg), CallLog(None), pipeline.step_cap(cfg, model.decisions))


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


def test_the_set_up_belief_is_calibrated_out_of_fold_and_so_no_surer_than_it_is():
    # a reading that is pure noise: fitted on its own rows the calibration uses the noise and looks surer there
    rng = np.random.default_rng(3)
    market, outcome = labelled_history(rng, 400, 0.0)
    labelled = Labelled(market, outcome, np.full(400, outcome.mean()))
    noise = rng.normal(0.0, 1.0, (400, 1))
    calibration, belief = local_reading.fit_reading(lambda m: noise, np.zeros(400), labelled)
    in_sample = local_reading.calibrated(calibration, np.zeros(400), noise[:, 0])
    assert log_loss(in_sample, outcome).mean() < log_loss(np.full(400, outcome.mean()), outcome).mean()
    assert log_loss(belief, outcome).mean() > log_loss(in_sample, outcome).mean()
    half = fit_logistic(np.c_[np.zeros(200), noise[200:, 0]], outcome[200:])
    np.testing.assert_allclose(belief[:200], half.predict(np.c_[np.zeros(200), noise[:200, 0]]))


def test_where_the_local_belief_is_already_sure_the_llm_is_never_read(monkeypatch):
    # cascade3's set-up fit, made to find the tier's belief exact (its error at the floor): no reading can move
    # a decision by its price, so the LLM reads nothing, while the cascade on the keyword reader's belief does
    fitted = simulation.trusted_on

    def sure(*args):
        calibration = fitted(*args)
        calibration.trust = dataclasses.replace(calibration.trust, share=0.0)
        return calibration

    monkeypatch.setattr(simulation, "trusted_on", sure)
    result = run({"reading_trm.llm_hurdle": 1.0, "thermostat.min_hurdle": 1.0, "thermostat.initial_hurdle": 1.0})
    summary = result.ledger.summary()
    assert result.three_tier.setup_trust.error_var == MIN_VAR
    assert summary["cascade"]["llm_reads"] > 0 and summary["cascade3"]["llm_reads"] == 0


def test_cascade3_is_trm_reader_decision_for_decision_where_no_llm_reading_comes():
    # every candidate no reading came for keeps trm_reader's probability: with a hurdle nothing beats, all of them
    result = run({"reading_trm.llm_hurdle": 1e6})
    summary = result.ledger.summary()
    assert summary["cascade3"]["llm_reads"] == 0 and summary["cascade"]["llm_reads"] > 0
    same = ("pursued", "conversions", "expected_net_value", "net_value", "compute_cost", "outreach_cost")
    assert {m: summary["cascade3"][m] for m in same} == {m: summary["trm_reader"][m] for m in same}


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
