"""The bag-of-words reader (funnel/bag_of_words.py): its features, its fit, its checkpoint and its tier's calibration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trm_demo.errors import CheckpointError
from trm_demo.funnel import bag_of_words as bow
from trm_demo.funnel.calibration import Labelled
from trm_demo.funnel.local_reading import MIN_ROWS, fit_reading, reading_trm
from trm_demo.funnel.market import labelled_history
from trm_demo.funnel.tokens import SEQ_LEN, VOCAB_SIZE
from trm_demo.trm.weights import save_arrays

rows_of_ids = st.integers(1, 6).flatmap(lambda m: st.lists(
    st.lists(st.integers(0, VOCAB_SIZE - 1), min_size=SEQ_LEN, max_size=SEQ_LEN), min_size=m, max_size=m))


@settings(max_examples=40, deadline=None)
@given(rows_of_ids, st.data())
def test_the_features_are_each_rows_set_of_tokens_beside_its_fields_logit_and_urgency(rows, data):
    ids = np.array(rows, np.int64)
    fields = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=len(rows), max_size=len(rows))))
    urgency = np.array(data.draw(st.lists(st.floats(0, 1), min_size=len(rows), max_size=len(rows))))
    x = bow.design(ids, fields, urgency)
    assert x.shape == (len(rows), bow.WIDTH)
    for row, tokens, f, u in zip(x, rows, fields, urgency):   # the plain reference: one reply at a time
        present = sorted(set(tokens) - {0})   # padding is no token; a repeated token counts once
        assert row[0] == f
        assert np.flatnonzero(row[1:1 + VOCAB_SIZE]).tolist() == present and set(row[1:1 + VOCAB_SIZE]) <= {0, 1}
        np.testing.assert_allclose(row[1 + VOCAB_SIZE:], row[1:1 + VOCAB_SIZE] * u, rtol=1e-6)


def planted(m: int, seed: int = 0):
    """Rows of random tokens where token 40 raises the logit by 2 and token 41 by 3 x urgency; their true P."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 60, (m, SEQ_LEN))
    ids[:, 30:] = 0
    fields, urgency = rng.normal(-0.5, 1.0, m), rng.random(m)
    z = fields + 2.0 * (ids == 40).any(axis=1) + 3.0 * urgency * (ids == 41).any(axis=1)
    p = 1 / (1 + np.exp(-z))
    return ids, fields, urgency, (rng.random(m) < p).astype(float), p


def test_the_fit_recovers_a_planted_word_and_a_word_scaled_by_urgency():
    ids, fields, urgency, outcome, _ = planted(6000)
    reader = bow.fit_bag_of_words(ids, fields, urgency, outcome)
    assert reader.l2 in bow.L2_GRID and not {1 + t for t in range(60, VOCAB_SIZE)} & set(reader.columns.tolist())
    fresh_ids, fresh_fields, fresh_urgency, _, p = planted(4000, seed=9)

    def kl(z):   # excess log-loss against the true probability
        q = 1 / (1 + np.exp(-z))
        return float(np.mean(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))))
    assert kl(reader.logit(fresh_ids, fresh_fields, fresh_urgency)) < 0.1 * kl(fresh_fields)

    def added(token, u):   # what adding the token to a reply does to its logit, at urgency u
        row = np.zeros((2, SEQ_LEN), np.int64)
        row[:, :3] = (2, 3, 4)
        row[1, 3] = token
        z = reader.logit(row, np.zeros(2), np.full(2, u))
        return z[1] - z[0]
    assert added(40, 0.5) == pytest.approx(2.0, abs=0.4) and added(41, 0.5) == pytest.approx(1.5, abs=0.4)
    assert added(41, 1.0) - added(41, 0.0) > 1.0 > added(40, 1.0) - added(40, 0.0)   # only 41 scales with urgency


@pytest.fixture
def reader_file(tmp_path):
    ids, fields, urgency, outcome, _ = planted(800, seed=1)
    reader = bow.fit_bag_of_words(ids, fields, urgency, outcome)
    path = tmp_path / "bow.npz"
    bow.save_bag_of_words(path, reader, {"seed": 1})
    return reader, path, (ids, fields, urgency)


def test_a_checkpoint_reads_back_as_the_reader_it_was(reader_file):
    reader, path, inputs = reader_file
    loaded, meta, source = bow.load_bag_of_words(str(path))
    assert meta["seed"] == 1 and meta["vocabulary_sha256"] == bow.VOCABULARY_SHA256 and len(source["sha256"]) == 64
    np.testing.assert_array_equal(loaded.columns, reader.columns)
    assert loaded.bias == reader.bias and loaded.l2 == reader.l2
    np.testing.assert_array_equal(loaded.logit(*inputs), reader.logit(*inputs))


def rewritten(path, arrays=None, **meta):
    save_arrays(path, {"columns": np.arange(3), "weights": np.ones(3), "bias": np.array(0.0), **(arrays or {})},
                {"vocabulary_sha256": bow.VOCABULARY_SHA256, **meta})
    return str(path)


@pytest.mark.parametrize("damage, expect", [
    (lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]), "corrupt or truncated"),
    (lambda p: rewritten(p, vocabulary_sha256="0" * 64), "another vocabulary"),
    (lambda p: rewritten(p, {"weights": np.ones(4)}), "wrong shapes"),
    (lambda p: rewritten(p, {"columns": np.array([0, 2, 1])}), "out of order"),
    (lambda p: rewritten(p, {"columns": np.array([0, 1, bow.WIDTH])}), "outside its design"),
    (lambda p: rewritten(p, {"weights": np.array([1.0, np.nan, 1.0])}), "non-finite"),
    (lambda p: rewritten(p, {"weights": np.ones(3, np.float32)}), "expected float64"),
    (lambda p: p.write_bytes(b"not a checkpoint at all" * 50), "corrupt"),
])
def test_a_damaged_or_mismatched_checkpoint_is_refused_in_one_line(reader_file, damage, expect):
    _, path, _ = reader_file
    damage(path)
    bow.load_bag_of_words.cache_clear()
    with pytest.raises(CheckpointError) as err:
        bow.load_bag_of_words(str(path))
    assert expect in str(err.value) and "\n" not in str(err.value)
    assert "python -m bench.reader --bow-only" in str(err.value) and "reading_trm.enabled: false" in str(err.value)


def test_the_reading_trms_checkpoint_is_not_taken_for_a_bag_of_words():
    bow.load_bag_of_words.cache_clear()
    with pytest.raises(CheckpointError, match="is not the checkpoint expected here"):
        bow.load_bag_of_words("trm_demo/checkpoints/reading_trm.npz")


def test_the_shipped_reader_is_fitted_on_the_reading_trms_training_replies():
    _, meta, _ = bow.bag_of_words()
    _, trm_meta = reading_trm("trm_demo/checkpoints/reading_trm.npz")
    assert (meta["seed"], meta["samples"]) == (trm_meta["seed"], trm_meta["samples"]) == (1001, 65536)
    assert meta["command"].startswith("python -m bench.reader --bow-only")


def labelled_rows(m: int, seed: int = 4):
    market, outcome = labelled_history(np.random.default_rng(seed), m, 0.0)
    return Labelled(market, outcome, np.full(m, outcome.mean()))


def test_the_shared_calibration_fits_any_own_logit_and_reads_nothing_below_its_minimum():
    labelled = labelled_rows(3000)
    truth = np.log(labelled.market.p_true / (1 - labelled.market.p_true))   # (m, 1)
    fields = np.zeros(3000)
    calibration, belief = fit_reading(lambda market: truth, fields, labelled)
    assert calibration.weights[1] == pytest.approx(1.0, abs=0.2)
    assert np.corrcoef(np.log(belief / (1 - belief)), truth[:, 0])[0, 1] > 0.99   # out of fold, still the truth

    def never(market):
        raise AssertionError("read below MIN_ROWS")
    few = Labelled(labelled.market.rows(slice(0, MIN_ROWS - 1)), labelled.outcome[:MIN_ROWS - 1],
                   labelled.base[:MIN_ROWS - 1])
    calibration, belief = fit_reading(never, fields[:MIN_ROWS - 1], few)
    assert belief is None and calibration.weights.tolist() == [1.0, 1.0]
