"""Trust from outcomes: the reader's bias and noise and the TRM's error, fitted on readings with known outcomes."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bench.market_bench import NoSignal
from trm_demo.config import load_config
from trm_demo.funnel import pipeline
from trm_demo.funnel.calibration import Calibration, fit_trust, prior_trust, set_up, surprise
from trm_demo.funnel.cascade import value_of_reading, belief_from_estimate
from trm_demo.funnel.evaluation import mean_ci
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.simulation import history_beliefs, run_funnel
from trm_demo.funnel.telemetry import call_log

def history(rng, n=512, bias=0.0, noise=0.3, error_sd=1.0, signal=True):
    """Readings of n past candidates whose TRM is calibrated: the truth is the TRM's belief plus its error."""
    p = 1 / (1 + np.exp(-rng.normal(-1.0, 1.5, n)))
    truth = belief_from_estimate(p, error_sd ** 2)[0] + error_sd * rng.standard_normal(n)
    reading = (truth if signal else rng.normal(-1.0, 1.5, n)) + bias + noise * rng.standard_normal(n)
    outcome = (rng.random(n) < 1 / (1 + np.exp(-truth))).astype(float)
    return p, reading, outcome


def pretrained(seed: int = 7):
    """The config at `seed`, the shipped checkpoint as is and the step cap its run selected (--train-epochs 0): what
    the reader is trusted with does not depend on fine-tuning, which would cost ~3 s of CPU a seed."""
    cfg = load_config().replace(**{"simulation.seed": seed, "training.epochs": 0})
    model = pipeline.starting_model(cfg)
    return cfg, model, pipeline.step_cap(cfg, {"selected": model.decisions["selected"]})


def fitted(data, rounds=3):
    trust = prior_trust(1.0)
    for _ in range(rounds):
        trust = fit_trust(*data, trust)
    return trust


@pytest.mark.parametrize("seed", range(5))
def test_a_reader_biased_by_minus_one_is_estimated_within_a_fifth_of_a_logit(seed):
    trust = fitted(history(np.random.default_rng(seed), bias=-1.0))
    assert trust.bias == pytest.approx(-1.0, abs=0.2)


def test_surprise_is_one_on_readings_the_trust_describes_and_four_where_the_trm_errs_twice_as_much():
    """The thermostat's drift signal: the squared standardised gap averages 1 on readings like those the trust was
    fitted on, and grows with the square of the base belief's error where it is wider than the fit says."""
    trust = fitted(history(np.random.default_rng(4), n=4000))
    assert surprise(*history(np.random.default_rng(5), n=4000)[:2], trust).mean() == pytest.approx(1.0, abs=0.1)
    wider = surprise(*history(np.random.default_rng(5), n=4000, error_sd=2.0, noise=0.6)[:2], trust).mean()
    assert wider == pytest.approx(4.0, rel=0.2)


def test_outcomes_tell_a_noisy_reader_from_an_unsure_trm():
    # the same spread of reading - TRM (1.0^2 + 0.3^2 vs 0.3^2 + 1.0^2), split the other way round
    rng = np.random.default_rng(1)
    good_reader = fitted(history(rng, n=4000, noise=0.3, error_sd=1.0))
    bad_reader = fitted(history(rng, n=4000, noise=1.0, error_sd=0.3))
    assert good_reader.reading_var < 0.3 < bad_reader.reading_var
    assert good_reader.error_sd > 0.7 > bad_reader.error_sd


def test_a_reader_without_signal_gets_no_weight_and_no_value_of_information():
    trust = fitted(history(np.random.default_rng(2), signal=False))
    p, _, _ = history(np.random.default_rng(3), n=64)
    mean, var = belief_from_estimate(p.reshape(8, 8), trust.error_var)
    assert trust.reading_var > 10 * var.mean()
    assert value_of_reading(mean, var, trust.reading_var, 100.0, 20.0).max() < 0.2   # cents, below any price


def test_the_set_up_fit_finds_the_readers_bias_in_the_history():
    """In the run's own history the bias is measured against the TRM's belief (whose mean logit sits a little
    off the truth's), so a reader biased by -1.0 is found 1.0 below the same reader unbiased."""
    cfg, model, cap = pretrained()
    fitted_bias = {}
    for bias in (0.0, -1.0):
        c = cfg.replace(**{"simulation.llm_bias": bias})
        keyword, labelled = history_beliefs(c, model, cap)
        setup = set_up(c, labelled, Readings(c))
        fitted_bias[bias] = setup.calibration.trust.bias
    assert fitted_bias[-1.0] - fitted_bias[0.0] == pytest.approx(-1.0, abs=0.2)
    assert abs(fitted_bias[0.0]) < 0.5
    assert setup.reads == cfg.cascade.calibration_reads
    assert setup.cost == pytest.approx(setup.reads * cfg.simulation.llm_cost)


def test_the_cascade_degrades_into_the_keyword_reader_for_a_bad_or_biased_reader():
    """Over a few seeds, no reader in the sweep (noise 0-2, bias +-1, no signal at all) leaves the cascade
    significantly below the keyword reader, its base belief, or the TRM alone (each paired interval's upper end is
    above zero)."""
    readers = {"noise 0, bias -1": {"simulation.llm_noise": 0.0, "simulation.llm_bias": -1.0},
               "noise 2, bias +1": {"simulation.llm_noise": 2.0, "simulation.llm_bias": 1.0},
               "noise 2, bias -1": {"simulation.llm_noise": 2.0, "simulation.llm_bias": -1.0},
               "no signal": {}}
    gaps = {(name, rival): [] for name in readers for rival in ("trm", "keyword")}
    for seed in (600, 601, 602):
        cfg, model, cap = pretrained(seed)
        baseline = pipeline.fit_baseline(cfg)
        beliefs = history_beliefs(cfg, model, cap)   # the readers' knobs are not among its inputs: fitted once a seed
        for name, knobs in readers.items():
            c = cfg.replace(**knobs)
            with call_log(None) as calls:
                summary = run_funnel(c, model, baseline, calls, cap, beliefs=beliefs,
                                     readings=NoSignal(c) if name == "no signal" else Readings(c)).ledger.summary()
            for rival in ("trm", "keyword"):
                gaps[name, rival].append(summary["cascade"]["expected_net_value"]
                                         - summary[rival]["expected_net_value"])
    for name, gap in gaps.items():
        assert mean_ci(gap)["ci95"][1] > 0, (name, gap)


def test_with_a_reader_without_signal_the_cascade_decides_as_the_keyword_reader():
    """The reader is trusted with nothing it has not shown: the set-up fit sees a no-signal reader's 512 readings
    predict no outcome, so the cascade reads (almost) nobody and decides as its base, the keyword reader (measured
    on seed 603: 0 reads, every decision the keyword reader's)."""
    cfg, model, cap = pretrained(603)
    with call_log(None) as calls:
        ledger = run_funnel(cfg, model, pipeline.fit_baseline(cfg), calls, cap, readings=NoSignal(cfg)).ledger
    summary = ledger.summary()
    gross = {key: summary[key]["expected_net_value"] + summary[key]["total_cost"] for key in ("cascade", "keyword", "trm")}
    # before what reading cost, the cascade's picks are worth what the keyword reader's are (the ledger keeps totals)
    assert abs(gross["cascade"] - gross["keyword"]) <= 0.01 * abs(gross["keyword"])
    assert ledger.totals("cascade")["llm_reads"] <= 0.05 * cfg.simulation.opportunities * 8
    assert gross["keyword"] != gross["trm"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.lists(st.integers(0, 40), min_size=1, max_size=6),
       st.integers(0, 2**32 - 1))
def test_copies_that_added_the_same_readings_share_a_lineage_and_only_they_do(first, second, seed):
    """simulation._learn shares a refit between worlds by (lineage, trust): equal lineages must mean equal data."""
    rng = np.random.default_rng(seed)
    start = Calibration(prior_trust(1.0))
    batches = [history(rng, n) for n in first]
    a, b, c = start.copy(), start.copy(), start.copy()
    for p, reading, outcome in batches:
        a.add(p, reading, outcome)
        b.add(p, reading, outcome)
    for p, reading, outcome in (history(rng, n) for n in second):
        c.add(p, reading, outcome)
    assert a.lineage == b.lineage and np.array_equal(a.data, b.data, equal_nan=True)
    if c.lineage == a.lineage:
        assert np.array_equal(c.data, a.data, equal_nan=True)
    assert c.lineage != a.lineage or sum(second) == sum(first) == 0   # different readings, another lineage
