"""Specification of the synthetic market (trm_demo/funnel/market.py).

Each documented business rule is checked as a property: change one field, hold
everything else fixed, and the true probability moves the documented way, on
every pair of a random market. Direction is checked strictly on the logit and
weakly on p (the squash into [0.01, 0.99] may flatten extreme cases).
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.funnel.market import (
    FEATURE_NAMES, HYBRID, N_FEATURES, ONSITE, REMOTE, conversion_logit, sample_market, squash, training_log,
)
from trm_demo.funnel.rng import rng_for

seeds = st.integers(0, 2**32 - 1)
drifts = st.floats(0.0, 1.0)
rule_check = settings(max_examples=25, deadline=None)


def market_pairs(seed: int, drift: float, n: int = 300) -> dict:
    return sample_market(np.random.default_rng(seed), n, 3, drift).pairs()


def assert_lowers(pairs: dict, drift: float, before: dict, after: dict) -> np.ndarray:
    """`after` lowers the logit of every pair (and never raises p); returns the logit drop."""
    logit_before = conversion_logit(**(pairs | before), drift=drift)
    logit_after = conversion_logit(**(pairs | after), drift=drift)
    assert np.all(logit_after < logit_before)
    assert np.all(squash(conversion_logit(**(pairs | after), drift=drift))
                  <= squash(conversion_logit(**(pairs | before), drift=drift)))
    return logit_before - logit_after


def filled(pairs: dict, name: str, value) -> dict:
    """{name: an array shaped like pairs[name], every entry = value}."""
    return {name: np.full_like(pairs[name], value)}


def logit_drop(pairs: dict, drift: float, before: dict, after: dict) -> np.ndarray:
    return conversion_logit(**(pairs | before), drift=drift) - conversion_logit(**(pairs | after), drift=drift)


# --- probabilities -------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(1, 60), k=st.integers(1, 8), drift=drifts)
def test_probabilities_strictly_between_zero_and_one(seed, n, k, drift):
    market = sample_market(np.random.default_rng(seed), n, k, drift)
    assert market.p_true.shape == (n, k) and market.p_true.dtype == np.float64
    assert np.all((market.p_true > 0) & (market.p_true < 1))
    assert (market.n_opportunities, market.n_candidates) == (n, k)


@settings(max_examples=50, deadline=None)
@given(ask=st.floats(1, 1e4), budget=st.floats(10, 1e3), experience=st.floats(0, 60),
       distance=st.floats(0, 1e5), mode=st.sampled_from([ONSITE, HYBRID, REMOTE]),
       remote_only=st.booleans(), offers=st.integers(0, 3), urgency=st.floats(0, 1), drift=drifts)
def test_probabilities_stay_inside_zero_one_even_for_absurd_inputs(
        ask, budget, experience, distance, mode, remote_only, offers, urgency, drift):
    p = squash(conversion_logit(
        budget_low=budget, budget_high=budget * 1.2, min_experience=3.0, max_experience=6.0,
        work_mode=mode, urgency=urgency, asking_salary=ask, experience=experience,
        distance_km=distance, remote_only=remote_only, competing_offers=offers, drift=drift))
    assert np.isfinite(p) and 0 < p < 1


# --- the business rules --------------------------------------------------------------------------

@rule_check
@given(seed=seeds, drift=drifts)
def test_raising_ask_above_budget_band_lowers_p(seed, drift):
    pairs = market_pairs(seed, drift)
    over = np.maximum(pairs["asking_salary"], pairs["budget_high"] * 1.01)
    assert_lowers(pairs, drift, before=dict(asking_salary=over), after=dict(asking_salary=over * 1.1))


@rule_check
@given(seed=seeds, drift=drifts)
def test_ask_below_band_beats_bottom_of_band_which_beats_top_of_band(seed, drift):
    pairs = market_pairs(seed, drift)
    below, bottom, top = pairs["budget_low"] * 0.9, pairs["budget_low"], pairs["budget_high"]
    assert_lowers(pairs, drift, before=dict(asking_salary=below), after=dict(asking_salary=bottom))
    assert_lowers(pairs, drift, before=dict(asking_salary=bottom), after=dict(asking_salary=top))


@rule_check
@given(seed=seeds, drift=drifts)
def test_urgency_softens_over_budget_penalty(seed, drift):
    pairs = market_pairs(seed, drift)
    at_top, over = dict(asking_salary=pairs["budget_high"]), dict(asking_salary=pairs["budget_high"] * 1.15)
    penalty_calm = logit_drop(pairs | filled(pairs, "urgency", 0.0), drift, at_top, over)
    penalty_urgent = logit_drop(pairs | filled(pairs, "urgency", 1.0), drift, at_top, over)
    assert np.all(0 < penalty_urgent) and np.all(penalty_urgent < penalty_calm)


@rule_check
@given(seed=seeds, drift=drifts)
def test_under_qualification_lowers_p(seed, drift):
    pairs = market_pairs(seed, drift)
    qualified = np.broadcast_to(pairs["min_experience"], pairs["experience"].shape)
    assert_lowers(pairs, drift, before=dict(experience=qualified), after=dict(experience=qualified - 3))


@rule_check
@given(seed=seeds, drift=drifts)
def test_over_qualification_is_mildly_bad(seed, drift):
    pairs = market_pairs(seed, drift)
    top_of_range = np.broadcast_to(pairs["max_experience"], pairs["experience"].shape)
    bottom_of_range = np.broadcast_to(pairs["min_experience"], pairs["experience"].shape)
    flight_risk = assert_lowers(pairs, drift, before=dict(experience=top_of_range),
                                after=dict(experience=top_of_range + 6))
    short = logit_drop(pairs, drift, dict(experience=bottom_of_range), dict(experience=bottom_of_range - 6))
    assert np.all(flight_risk < short)  # six years too many hurts less than six years too few


@rule_check
@given(seed=seeds, drift=drifts)
def test_distance_matters_strongly_onsite_mildly_hybrid_not_remote(seed, drift):
    pairs = market_pairs(seed, drift)
    near, far = filled(pairs, "distance_km", 5.0), filled(pairs, "distance_km", 80.0)
    drop = {mode: logit_drop(pairs | filled(pairs, "work_mode", mode), drift, near, far)
            for mode in (ONSITE, HYBRID, REMOTE)}
    assert np.all(drop[ONSITE] > drop[HYBRID])
    # Hybrid employers warm to remote-only candidates as the market drifts: a cost below drift 2/3.
    assert np.all(drop[HYBRID] > 0) if drift < 0.66 else np.all(drop[HYBRID] < drop[ONSITE])
    assert np.all(drop[REMOTE] == 0)


@rule_check
@given(seed=seeds, drift=drifts)
def test_remote_only_candidates_are_penalised_most_by_onsite_jobs(seed, drift):
    pairs = market_pairs(seed, drift)
    flexible, remote_only = filled(pairs, "remote_only", False), filled(pairs, "remote_only", True)
    drop = {mode: logit_drop(pairs | filled(pairs, "work_mode", mode), drift, flexible, remote_only)
            for mode in (ONSITE, HYBRID, REMOTE)}
    assert np.all(drop[ONSITE] > drop[HYBRID])
    # Hybrid employers warm to remote-only candidates as the market drifts: a cost below drift 2/3.
    assert np.all(drop[HYBRID] > 0) if drift < 0.66 else np.all(drop[HYBRID] < drop[ONSITE])
    assert np.all(drop[REMOTE] == 0)


@rule_check
@given(seed=seeds, drift=drifts, offers=st.integers(0, 2))
def test_more_competing_offers_lowers_p(seed, drift, offers):
    pairs = market_pairs(seed, drift)
    assert_lowers(pairs, drift, before=filled(pairs, "competing_offers", offers),
                  after=filled(pairs, "competing_offers", offers + 1))


@rule_check
@given(seed=seeds, drift=drifts)
def test_generous_offer_softens_competing_offers(seed, drift):
    pairs = market_pairs(seed, drift)
    none, two = filled(pairs, "competing_offers", 0), filled(pairs, "competing_offers", 2)
    tight = logit_drop(pairs | {"asking_salary": pairs["budget_high"]}, drift, none, two)
    generous = logit_drop(pairs | {"asking_salary": pairs["budget_high"] * 0.7}, drift, none, two)
    assert np.all(0 < generous) and np.all(generous < tight)


@rule_check
@given(seed=seeds)
def test_competing_offers_weigh_more_as_the_market_heats(seed):
    pairs = market_pairs(seed, 0.0)
    none, one = filled(pairs, "competing_offers", 0), filled(pairs, "competing_offers", 1)
    assert np.all(logit_drop(pairs, 1.0, none, one) > logit_drop(pairs, 0.0, none, one))


def test_market_has_easy_and_hard_cases():
    market = sample_market(rng_for(7, "market"), 5000, 3, 0.3)
    best = market.p_true.max(axis=1)
    assert 0.35 <= market.p_true.mean() <= 0.5
    assert np.mean(best > 0.6) > 0.4 and np.mean(best < 0.3) > 0.08  # clear yeses and clear noes
    assert np.mean(np.abs(2 * market.p_true - 1) < 0.2) > 0.1         # and coin flips


# --- sampling, logs, features ------------------------------------------------------------------------

FIELDS = ("budget_low", "budget_high", "min_experience", "max_experience", "work_mode", "urgency",
          "asking_salary", "experience", "distance_km", "remote_only", "competing_offers", "features", "p_true")


def test_same_seed_gives_identical_market_and_different_seed_a_different_one():
    a, b = (sample_market(rng_for(7, "market"), 200, 3, 0.3) for _ in range(2))
    c = sample_market(rng_for(8, "market"), 200, 3, 0.3)
    assert all(np.array_equal(getattr(a, name), getattr(b, name)) for name in FIELDS)
    assert not np.array_equal(a.p_true, c.p_true) and not np.array_equal(a.asking_salary, c.asking_salary)


def test_training_log_outcomes_are_observed_draws_from_p_true():
    x, outcome, p_true = training_log(rng_for(7, "pretrain_log"), 200_000, 0.0)
    assert x.shape == (200_000, N_FEATURES) and x.dtype == np.float32
    assert outcome.dtype == np.float32 and set(np.unique(outcome)) == {0.0, 1.0}
    standard_error = np.sqrt(np.sum(p_true * (1 - p_true))) / len(p_true)
    assert abs(outcome.mean() - p_true.mean()) < 4 * standard_error
    # Outcomes agree with p: converted pairs had a clearly higher true probability.
    assert p_true[outcome == 1].mean() > p_true[outcome == 0].mean() + 0.1


def test_features_are_finite_and_roughly_unit_scale():
    market = sample_market(rng_for(7, "market"), 2000, 3, 0.3)
    x = market.features.reshape(-1, N_FEATURES)
    assert market.features.shape == (2000, 3, N_FEATURES) and market.features.dtype == np.float32
    assert len(FEATURE_NAMES) == N_FEATURES
    assert np.all(np.isfinite(x))
    assert np.all(np.abs(x.mean(axis=0)) < 3) and np.all(x.std(axis=0) < 3)
    assert np.all(x.std(axis=0) > 0)  # every feature carries information


def test_drift_shifts_the_market_away_from_the_pretraining_period():
    before = sample_market(rng_for(7, "market"), 20_000, 3, 0.0)
    after = sample_market(rng_for(7, "market"), 20_000, 3, 1.0)

    def ask_ratio(m):
        return np.mean(m.asking_salary / m.budget_high[:, None])

    assert ask_ratio(after) > ask_ratio(before) + 0.05
    assert np.mean(after.work_mode == REMOTE) > np.mean(before.work_mode == REMOTE) + 0.1
    assert np.mean(after.remote_only) > np.mean(before.remote_only) + 0.1
    assert after.p_true.mean() < before.p_true.mean()


def test_drift_outside_zero_one_is_rejected_with_a_hint():
    try:
        sample_market(rng_for(7, "market"), 10, 3, 1.5)
    except ValueError as err:
        assert "[0, 1]" in str(err)
    else:
        raise AssertionError("drift 1.5 was accepted")


# --- difficulty and greedy ------------------------------------------------------------------------


# --- the replies and the blank-replies ablation ------------------------------------------------------

def test_a_blank_world_is_the_same_world_with_every_reply_empty():
    text, blank = (sample_market(rng_for(7, "market"), 300, 4, 0.3, replies) for replies in ("text", "blank"))
    assert all(np.array_equal(getattr(text, name), getattr(blank, name)) for name in FIELDS)
    assert (blank.messages == "").all() and (text.messages != "").all()
    assert not any(v.any() for v in blank.hidden.stated.values())
    assert all(np.array_equal(text.hidden.values[f], blank.hidden.values[f]) for f in text.hidden.values)
    # A perfect reading of an empty reply knows only the fields: below the one that reads the text.
    true_logit = np.log(text.p_true / (1 - text.p_true))
    assert np.std(true_logit - blank.read_logit) > np.std(true_logit - text.read_logit)


def test_unknown_replies_setting_is_rejected_with_the_choices():
    try:
        sample_market(rng_for(7, "market"), 10, 3, 0.3, "empty")
    except ValueError as err:
        assert "text, blank" in str(err)
    else:
        raise AssertionError("replies 'empty' was accepted")


def test_world_replies_is_a_validated_knob():
    from trm_demo.config import ConfigError, load_config
    assert load_config().world.replies == "text"
    assert load_config(overrides={"world.replies": "blank"}).world.replies == "blank"
    try:
        load_config(overrides={"world.replies": "empty"})
    except ConfigError as err:
        assert "world.replies" in str(err)
    else:
        raise AssertionError("world.replies 'empty' was accepted")


def test_a_slice_of_the_market_keeps_each_candidate_with_its_reply_and_facts():
    market = sample_market(rng_for(7, "market"), 50, 3, 0.3)
    part = market.rows(slice(10, 20))
    assert np.array_equal(part.messages, market.messages[10:20]) and np.array_equal(part.drift, market.drift[10:20])
    assert all(np.array_equal(part.hidden.construction[f], market.hidden.construction[f][10:20])
               for f in market.hidden.construction)
    fields = market.at(np.array([12, 3]), np.array([2, 0]))
    assert fields["asking_salary"].tolist() == [market.asking_salary[12, 2], market.asking_salary[3, 0]]
    assert fields["urgency"].tolist() == [market.urgency[12], market.urgency[3]]
