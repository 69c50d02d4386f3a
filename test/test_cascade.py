"""The cascade's value of information, belief updates and the funnel's strategies."""

import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.funnel.cascade import (_NODES, _WEIGHTS, belief_from_estimate, combine, expected_probability,
                                     expected_probability_in_place, logit, value_of_reading)

VALUE, OUTREACH = 100.0, 20.0


def voi(means, sds, reading_sd=0.3):
    mean = np.atleast_2d(np.asarray(means, float))
    var = np.atleast_2d(np.asarray(sds, float)) ** 2
    return value_of_reading(mean, var, reading_sd ** 2, VALUE, OUTREACH)[0]


def test_voi_is_zero_where_no_reading_could_change_the_decision():
    # a near-certain favourite far above the rest: reading anyone changes nothing
    gains = voi([6.0, -6.0, -6.0], [0.05, 0.05, 0.05])
    assert gains.max() < 1e-3   # a tenth of a cent: the quadrature's own error, not information


def test_voi_is_highest_near_break_even():
    # one candidate per job; break-even is P = outreach / value = 0.2, logit -1.39
    at_break_even = voi([logit(0.2)], [1.0])[0]
    far_above, far_below = voi([3.0], [1.0])[0], voi([-5.0], [1.0])[0]
    assert at_break_even > 5 * max(far_above, far_below)


def test_voi_is_highest_near_a_tie():
    tied = voi([1.0, 1.0], [1.0, 1.0])
    clear = voi([1.0, -1.5], [1.0, 1.0])
    assert tied.min() > clear.max()


def test_voi_grows_with_uncertainty_and_shrinks_with_reading_noise():
    assert voi([0.0, 0.2], [1.5, 1.5])[0] > voi([0.0, 0.2], [0.5, 0.5])[0]
    assert voi([0.0, 0.2], [1.0, 1.0], reading_sd=0.2)[0] > voi([0.0, 0.2], [1.0, 1.0], reading_sd=2.0)[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-6, 6), min_size=1, max_size=6), st.floats(0.05, 3.0))
def test_voi_is_never_negative(means, sd):
    assert (voi(means, [sd] * len(means)) >= 0).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**32 - 1), st.floats(0.01, 1e6))
def test_voi_in_place_is_the_formula_bit_for_bit(n, k, seed, reading_var):
    # value_of_reading computes in one buffer for speed: it must give exactly what combine and
    # expected_probability give step by step, or the run's decisions would move.
    rng = np.random.default_rng(seed)
    mean, var = rng.normal(-1.0, 3.0, (n, k)), rng.uniform(0.001, 5.0, (n, k))
    value = expected_probability(mean, var) * VALUE - OUTREACH
    best = [np.delete(row, j).max(initial=0.0) for row in value for j in range(k)]
    other = np.maximum(np.reshape(best, (n, k)), 0.0)
    readings = mean[..., None] + np.sqrt(var + reading_var)[..., None] * _NODES
    after = expected_probability(*combine(mean[..., None], var[..., None], readings, reading_var)) * VALUE - OUTREACH
    formula = np.maximum((np.maximum(other[..., None], after) * _WEIGHTS).sum(axis=-1)
                         - np.maximum(value.max(axis=1), 0.0)[:, None], 0.0)
    assert value_of_reading(mean, var, reading_var, VALUE, OUTREACH).tobytes() == formula.tobytes()
    assert expected_probability_in_place(mean.copy(), var).tobytes() == expected_probability(mean, var).tobytes()


def test_a_belief_keeps_the_trms_probability_and_a_reading_narrows_it():
    p = np.array([0.05, 0.3, 0.5, 0.9])
    mean, var = belief_from_estimate(p, 1.2)
    np.testing.assert_allclose(expected_probability(mean, var), p, atol=1e-9)
    post_mean, post_var = combine(mean, var, np.full(4, 2.0), 0.09)
    assert (post_var < var).all() and (post_var < 0.09).all()
    # the combination lies between the belief and the reading, nearer the less noisy one
    assert ((post_mean - mean) * (2.0 - post_mean) >= 0).all()
    assert (np.abs(post_mean - 2.0) < np.abs(post_mean - mean)).all()

