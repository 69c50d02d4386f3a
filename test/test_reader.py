"""The reading TRM: its tokenizer, its gradients, and a reading a bag of words cannot do."""

import numpy as np
import pytest

from finite_differences import worst_relative_errors
from trm_demo.funnel.market import labelled_history
from trm_demo.funnel.tokens import FIELD_SLOTS, ID, MAX_REPLY_TOKENS, PAD, SEQ_LEN, UNK, decode, encode, \
    encode_market, words
from trm_demo.trm.engine import initial_state, supervision_step
from trm_demo.trm.knobs import TrainingKnobs
from trm_demo.trm.logistic import fit_logistic
from trm_demo.trm.reader import fit_reader, init_reader, losses_and_gradients, read_out, reader_spec, trajectory
from trm_demo.trm.training import binary_losses, log_loss
from trm_demo.trm.weights import init_model


def test_every_grammar_reply_round_trips_and_its_fields_lead_the_row():
    market, _ = labelled_history(np.random.default_rng(3), 300, 0.3)
    encoded = encode_market(market)
    assert encoded.ids.shape == (300, SEQ_LEN)
    typo = np.any([market.hidden.typo[f][:, 0] for f in market.hidden.typo], axis=0)
    for row, reply, typed in zip(encoded.ids, market.messages[:, 0], typo):
        expected = [w if w in ID else "<unk>" for w in words(reply)[:MAX_REPLY_TOKENS]]
        assert decode(row) == " ".join(expected)
        assert ("<unk>" in expected) == typed   # only a typo leaves the grammar's vocabulary
    assert (encoded.ids[:, :FIELD_SLOTS] > UNK).all()
    assert (encoded.mask == (encoded.ids != PAD)).all()


def test_words_outside_the_grammar_are_unknown_and_long_replies_are_cut():
    ids = encode(["I have an ofer, zzyzx."]).ids[0, FIELD_SLOTS:]
    assert list(ids[:7] == UNK) == [False, False, False, True, False, True, False]   # i have an ofer , zzyzx .
    assert (ids[7:] == PAD).all()
    long_ids = encode(["no " * (MAX_REPLY_TOKENS + 10)]).ids[0]
    assert (long_ids[FIELD_SLOTS:] != PAD).all() and len(long_ids) == SEQ_LEN


@pytest.mark.parametrize("distil", [False, True])
def test_reader_gradients_match_finite_differences(distil):
    spec = reader_spec(vocab_size=7, seq_len=5, hidden_size=4, expansion=2, n_cycles=2)
    model = init_model(spec, np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    for name in model.params:   # off the symmetric init (zero halting weights, unit gains)
        model.params[name] = model.params[name] + 0.1 * rng.standard_normal(model.params[name].shape)
    ids, offset = rng.integers(0, 7, (3, 5)), rng.standard_normal(3)
    outcome, settled = np.array([1.0, 0.0, 1.0]), np.array([True, False, True])
    y, z = initial_state(model.buffers, spec, 3)
    y, z = y + 0.3 * rng.standard_normal(y.shape), z + 0.3 * rng.standard_normal(z.shape)
    teacher = rng.standard_normal(3) if distil else None
    *_, grads = losses_and_gradients(model.params, spec, ids, offset, y, z, outcome, settled, 0.7, teacher)
    cell = (supervision_step(model.params, spec, ids, y, z)[0] @ model.params["halt.w"])[..., 0].argmin(axis=1)

    y_base = supervision_step(model.params, spec, ids, y, z)[0].copy()

    def objective():   # the halt head reads the base weights' y at their least sure cell: y is detached there
        _, _, logits, _, _ = supervision_step(model.params, spec, ids, y, z)
        q = y_base[np.arange(3), cell] @ model.params["halt.w"][:, 0] + model.params["halt.b"][0]
        answer = offset + read_out(logits, ids)[0]
        loss, halt_loss, *_ = binary_losses(answer, q, outcome, settled, 0.7)
        if distil:   # the answer regresses the teacher's logits instead of the outcomes
            loss = 0.5 * np.mean((answer - teacher) ** 2)
        return loss + 0.7 * halt_loss

    worst = worst_relative_errors(model.params, objective, grads, 1e-5, floor=1e-3)
    assert max(worst.values()) < 1e-4, worst


def _negation_task(rng, n):
    """"good not bad" says good, "not good bad" says bad: the same bag of words, the order decides. Tokens 2..4 are
    good/bad/not, 5 is filler, placed anywhere; the label is the meaning."""
    good, bad, negation, filler = 2, 3, 4, 5
    meaning = rng.random(n) < 0.5
    first = np.where(rng.random(n) < 0.5, 0, 1)   # which phrase comes first
    rows = np.zeros((n, 6), np.int64)
    for i in range(n):
        negated, plain = ([negation, bad], [good]) if meaning[i] else ([negation, good], [bad])
        phrase = negated + plain if first[i] == 0 else plain + negated
        at = rng.integers(0, 3)
        rows[i, at:at + 3] = phrase
        rows[i, rows[i] == 0] = filler
    return rows, meaning.astype(np.float32)


def test_reader_learns_negation_a_bag_of_words_cannot():
    rng = np.random.default_rng(0)
    ids, outcome = _negation_task(rng, 1024)
    held_ids, held_outcome = _negation_task(rng, 512)
    knobs = TrainingKnobs(batch_size=64, learning_rate=3e-3, weight_decay=0.01, beta1=0.9, beta2=0.99, grad_clip=1.0,
                          ema_decay=0.99, halting_weight=0.5, halting_tolerance=0.01, validation_share=0.2)
    model = init_reader(reader_spec(vocab_size=6, seq_len=6, hidden_size=16, expansion=2, n_cycles=2),
                       np.random.default_rng(1), reply_start=0)
    log = fit_reader(model, ids, np.zeros(len(ids)), outcome, knobs, 12, 2, np.random.default_rng(2), 0)
    p, _ = trajectory(model, held_ids, np.zeros(len(held_ids)), 2)
    reader_loss = float(log_loss(p[log["selected"]["step_cap"] - 1], held_outcome).mean())
    bag = lambda rows: np.stack([(rows == t).any(axis=1) for t in range(2, 6)], axis=1).astype(float)
    bow_loss = float(log_loss(fit_logistic(bag(ids), outcome).predict(bag(held_ids)), held_outcome).mean())
    assert bow_loss > 0.68          # every row holds the same bag: chance, ln 2 = 0.693
    assert reader_loss < 0.3, reader_loss


def test_an_untrained_reader_says_what_the_fields_say_and_padding_never_speaks():
    spec = reader_spec(vocab_size=9, seq_len=6, hidden_size=8, expansion=1, n_cycles=2)
    rng = np.random.default_rng(4)
    ids, offset = rng.integers(1, 9, (5, 6)), rng.standard_normal(5)
    ids[:, 4:] = PAD
    p, _ = trajectory(init_reader(spec, np.random.default_rng(5), reply_start=2), ids, offset, 3)
    assert np.allclose(p, 1 / (1 + np.exp(-offset)), atol=1e-6)   # every step: the offset's probability
    logits = rng.standard_normal((5, 6, 1))
    loud = logits.copy()
    loud[:, 4:] = 1e6
    assert np.allclose(read_out(loud, ids)[0], logits[:, :4, 0].sum(axis=1))


def _is_shift_invariant(matrix, start):
    length = matrix.shape[0]
    for k in range(matrix.shape[1] // length):
        block = matrix[start:, k * length + start:(k + 1) * length]
        if not all(np.allclose(np.diagonal(block, d), np.diagonal(block, d)[0], atol=1e-6)
                   for d in range(1 - len(block), len(block))):
            return False
    return True


def test_token_mixing_stays_shift_invariant_over_the_reply_and_free_on_the_fields():
    spec = reader_spec(vocab_size=9, seq_len=8, hidden_size=8, expansion=1, n_cycles=2)
    model = init_reader(spec, np.random.default_rng(0), reply_start=2)
    rng = np.random.default_rng(1)
    ids, outcome = rng.integers(1, 9, (256, 8)), (rng.random(256) < 0.5).astype(np.float32)
    knobs = TrainingKnobs(batch_size=32, learning_rate=1e-2, weight_decay=0.01, beta1=0.9, beta2=0.99, grad_clip=1.0,
                          ema_decay=0.9, halting_weight=0.5, halting_tolerance=0.01, validation_share=0.2)
    before = {n: w.copy() for n, w in model.params.items()}
    fit_reader(model, ids, np.zeros(256), outcome, knobs, 2, 2, np.random.default_rng(2), 2)
    mixing = [n for n in model.params if ".tokens.w_" in n]
    assert len(mixing) == 4
    for name in mixing:
        for weights in (model.params[name], model.ema[name]):
            assert _is_shift_invariant(weights, 2), name
        assert not np.allclose(model.params[name], before[name])              # it did learn
        assert not _is_shift_invariant(model.params[name], 0), name           # the field positions are free


def test_the_shipped_reading_trm_was_trained_on_a_training_seed_by_the_documented_command():
    from pathlib import Path
    from bench.reader import EXPANSION, HIDDEN_SIZE, N_CYCLES
    from trm_demo.funnel.tokens import VOCAB_SIZE
    from trm_demo.trm.weights import SHIPPED_DIR, load_checkpoint
    model, meta = load_checkpoint(SHIPPED_DIR / "reading_trm.npz",
                                  reader_spec(VOCAB_SIZE, SEQ_LEN, HIDDEN_SIZE, EXPANSION, N_CYCLES))
    evaluated_or_held_out = set(range(500, 520)) | set(range(1, 21)) | set(range(600, 610)) | set(range(101, 111))
    assert meta["seed"] not in evaluated_or_held_out
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"`{meta['command']}`" in readme
    assert 1 <= meta["selected"]["step_cap"] <= meta["supervision_steps"]


def test_a_trajectory_in_chunks_is_the_one_pass_trajectory():
    spec = reader_spec(vocab_size=9, seq_len=6, hidden_size=8, expansion=1, n_cycles=2)
    model = init_reader(spec, np.random.default_rng(0), reply_start=2)
    rng = np.random.default_rng(1)
    for name in model.ema:   # off the zero-start head, so that every row answers something of its own
        model.ema[name] = model.ema[name] + 0.1 * rng.standard_normal(model.ema[name].shape).astype(np.float32)
    ids, offset = rng.integers(1, 9, (50, 6)), rng.standard_normal(50)
    whole, chunked = trajectory(model, ids, offset, 3, chunk=50), trajectory(model, ids, offset, 3, chunk=7)
    assert np.ptp(whole[0], axis=1).min() > 1e-3
    for a, b in zip(whole, chunked):   # BLAS may round another batch size differently: float32 rounding
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_rebuilt_reader_checkpoint_is_told_apart_from_the_shipped_one_by_its_weights(tmp_path):
    from bench.reader import _compared_with_shipped
    from trm_demo.trm.weights import SHIPPED_DIR, load_checkpoint, save_checkpoint
    shipped = "trm_demo/checkpoints/reading_trm.npz"
    model, meta = load_checkpoint(SHIPPED_DIR / "reading_trm.npz")
    copy = tmp_path / "copy.npz"
    save_checkpoint(copy, model, {**meta, "command": "another --out"})   # the command names its --out: not a setting
    same = _compared_with_shipped(str(copy), shipped)
    assert same["same_weights_as_shipped"] and same["same_settings"] and same["max_abs_difference"] == 0.0
    model.ema["head.b"] = model.ema["head.b"] + np.float32(0.25)
    save_checkpoint(copy, model, {**meta, "samples": meta["samples"] // 2})
    other = _compared_with_shipped(str(copy), shipped)
    assert not other["same_weights_as_shipped"] and not other["same_settings"]
    assert other["max_abs_difference"] == pytest.approx(0.25)
    assert _compared_with_shipped(shipped, shipped) is None   # the documented command writes the shipped file
