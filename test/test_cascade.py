"""The cascade's value of information, belief updates and the funnel's strategies."""

import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.funnel.cascade import belief_from_estimate, combine, expected_probability, logit, value_of_reading

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


def test_a_belief_keeps_the_trms_probability_and_a_reading_narrows_it():
    p = np.array([0.05, 0.3, 0.5, 0.9])
    mean, var = belief_from_estimate(p, 1.2)
    np.testing.assert_allclose(expected_probability(mean, var), p, atol=1e-9)
    post_mean, post_var = combine(mean, var, np.full(4, 2.0), 0.09)
    assert (post_var < var).all() and (post_var < 0.09).all()
    # the combination lies between the belief and the reading, nearer the less noisy one
    assert ((post_mean - mean) * (2.0 - post_mean) >= 0).all()
    assert (np.abs(post_mean - 2.0) < np.abs(post_mean - mean)).all()

