"""AdamW, gradient clipping and the EMA against values worked out by hand, two steps deep."""

import math

import numpy as np
import pytest

from trm_demo.trm.optimiser import AdamW, clip_gradients, ema_decay_at, update_ema


def test_two_adamw_steps_match_the_hand_computed_values():
    lr, b1, b2, wd, eps = 0.1, 0.9, 0.99, 0.5, 1e-8
    params = {"w": np.array([[1.0, -2.0]]), "b": np.array([3.0])}   # w decays (a matrix), b does not
    optimiser = AdamW(lr, b1, b2, wd, eps)
    optimiser.step(params, {"w": np.array([[0.5, -1.0]]), "b": np.array([2.0])})
    # step 1: m = 0.1 g, v = 0.01 g^2; m_hat = g, v_hat = g^2, so the step is lr * sign(g) (up to eps)
    w1 = np.array([1.0, -2.0]) * (1 - lr * wd) - lr * np.array([0.5 / (0.5 + eps), -1.0 / (1.0 + eps)])
    b1_value = 3.0 - lr * 2.0 / (2.0 + eps)
    np.testing.assert_allclose(params["w"][0], w1, rtol=1e-12)
    np.testing.assert_allclose(params["b"], [b1_value], rtol=1e-12)

    optimiser.step(params, {"w": np.array([[-0.5, 3.0]]), "b": np.array([0.0])})
    # step 2, entry w[0,1]: g1 = -1, g2 = 3
    m = 0.9 * (0.1 * -1.0) + 0.1 * 3.0            # 0.21
    v = 0.99 * (0.01 * 1.0) + 0.01 * 9.0          # 0.0999
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.99 ** 2)
    expected = w1[1] * (1 - lr * wd) - lr * m_hat / (math.sqrt(v_hat) + eps)
    assert params["w"][0, 1] == pytest.approx(expected, rel=1e-12)
    # entry b: g1 = 2, g2 = 0, no decay
    m = 0.9 * 0.2
    v = 0.99 * 0.04
    expected_b = b1_value - lr * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.9801)) + eps)
    assert params["b"][0] == pytest.approx(expected_b, rel=1e-12)


def test_clipping_scales_the_global_norm_and_leaves_small_gradients_alone():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}        # global norm 5
    assert clip_gradients(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([grads["a"][0], grads["b"][0, 0]], [0.6, 0.8])
    small = {"a": np.array([0.3]), "b": np.array([[0.4]])}
    assert clip_gradients(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3])


def test_ema_warm_up_forgets_the_start_then_settles_at_the_decay():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(10_000, 0.999) == 0.999
    ema, params = {"w": np.array([0.0])}, {"w": np.array([1.0])}
    update_ema(ema, params, ema_decay_at(0, 0.999))
    assert ema["w"][0] == pytest.approx(0.9)   # 0.1 * 0 + 0.9 * 1
