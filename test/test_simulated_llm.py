"""The simulated LLM reads the reply's text (trm_demo/funnel/simulated_llm.py): a change of construction moves its
reading the way the sentence's meaning says, an empty reply reads as the fields alone, its errors follow the
documented per-construction rates, and it never looks at the market's perfect reading or the hidden facts."""

import dataclasses
import zlib

import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.funnel.market import conversion_logit, expected_hidden_logit, sample_market
from trm_demo.funnel.messages import CONSTRUCTIONS, FACTS, PLEASANTRIES, Hidden
from trm_demo.funnel.simulated_llm import (ERROR_RATES, UNREAD, _reply_crcs, parse_reply, read_facts, read_reply,
                                           reading_logit, text_readings)

MARKET = sample_market(np.random.default_rng(5), 4000, 4, 0.3)
ROWS, COLS = np.repeat(np.arange(4000), 4), np.tile(np.arange(4), 4000)
NO_ERRORS = {name: 0.0 for name in ERROR_RATES}


def calm_candidates(n: int) -> tuple[dict, np.ndarray]:
    """n candidates of jobs with little urgency (where another offer's deadline hurts), fields (n,) each."""
    rows = np.flatnonzero(MARKET.urgency < 0.4)[:n]
    return MARKET.at(rows, np.zeros(len(rows), int)), MARKET.drift[rows]


def readings(replies: list[str], errors=ERROR_RATES) -> np.ndarray:
    fields, drift = calm_candidates(len(replies))
    return reading_logit(np.array(replies, dtype=object), fields, drift, errors)


def test_flipping_one_construction_moves_the_reading_the_way_the_sentence_means():
    opener = "I'm actively looking for my next role. "
    offer = readings([opener + "I have an offer on the table that expires next Friday."] * 50, NO_ERRORS)
    fell_through = readings([opener + "I had an offer, but it fell through."] * 50, NO_ERRORS)
    accepted = readings([opener + "I signed with another company last week."] * 50, NO_ERRORS)
    assert (fell_through > offer).all() and (offer > accepted).all()
    # Double negation: "not like I have no offers" is an offer, read below "no other processes".
    none = readings(["No other processes on my side."] * 50, NO_ERRORS)
    double = readings(["It's not like I have no other offers."] * 50, NO_ERRORS)
    assert (double < none).all()


def test_with_its_error_rates_the_flip_still_moves_the_reading_on_average():
    def with_openers(sentence):   # different replies, so each has its own fixed chance of a misread
        return [f"{p} {sentence}" for p in PLEASANTRIES] * 20
    offer = readings(with_openers("I have an offer on the table that expires next Friday."))
    fell_through = readings(with_openers("I had an offer, but it fell through."))
    assert fell_through.mean() > offer.mean() + 0.3


def test_an_empty_reply_reads_as_the_fields_alone():
    fields, drift = MARKET.at(ROWS, COLS), MARKET.drift[ROWS]
    nothing = {fact: np.zeros(len(ROWS), bool) for fact in FACTS}
    prior = conversion_logit(**fields, drift=drift) + expected_hidden_logit(nothing, nothing, fields, drift)
    blank = np.full(len(ROWS), "", dtype=object)
    np.testing.assert_array_equal(reading_logit(blank, fields, drift), prior)
    world = sample_market(np.random.default_rng(5), 4000, 4, 0.3, "blank")
    np.testing.assert_array_equal(reading_logit(world.messages[ROWS, COLS], fields, drift), prior)


def test_without_errors_the_reader_of_the_grammar_reads_what_the_reply_states():
    """Sentence lookup and typo correction recover every stated fact: the perfect reading, from the text alone."""
    np.testing.assert_allclose(reading_logit(MARKET.messages[ROWS, COLS], MARKET.at(ROWS, COLS), MARKET.drift[ROWS],
                                             NO_ERRORS), MARKET.read_logit[ROWS, COLS], atol=1e-12)


def test_typos_are_read_through():
    assert parse_reply("I have an ofer on the table that expires next Friady.") == {"offer": (1, "plain", None)}
    assert parse_reply("Just curious what's out thre, to be honest.")["intent"][0] == 2   # "there", not "three"


def test_errors_follow_the_documented_rate_of_each_construction():
    values, stated = read_facts(MARKET.messages[ROWS, COLS])
    hidden = MARKET.hidden
    for c, name in enumerate(CONSTRUCTIONS):
        wrong = np.concatenate([(~stated[f] | (values[f] != hidden.values[f][ROWS, COLS]))[
            hidden.construction[f][ROWS, COLS] == c] for f in FACTS])
        assert abs(wrong.mean() - ERROR_RATES[name]) < 0.03, (name, wrong.mean())
    assert ERROR_RATES["double_negation"] > 5 * ERROR_RATES["plain"]


def test_a_misread_takes_the_sentence_at_its_surface():
    always = {name: 1.0 for name in ERROR_RATES}
    assert read_reply("It's not like I have no other offers.", always)[FACTS.index("offer")] == 0       # "no offers"
    assert read_reply("I'm available immediately.", always)[FACTS.index("notice")] == UNREAD           # nothing else
    assert read_reply("I'm available immediately.")[FACTS.index("notice")] in (0, UNREAD)


def test_the_simulated_llm_never_reads_the_perfect_reading_or_the_hidden_facts():
    n, k = MARKET.p_true.shape
    rng = np.random.default_rng(0)
    scrambled = dataclasses.replace(
        MARKET, read_logit=rng.permutation(MARKET.read_logit.ravel()).reshape(n, k),
        p_true=rng.permutation(MARKET.p_true.ravel()).reshape(n, k),
        hidden=Hidden(*({f: rng.permutation(v.ravel()).reshape(n, k) for f, v in table.items()}
                        for table in (MARKET.hidden.values, MARKET.hidden.stated, MARKET.hidden.construction,
                                      MARKET.hidden.typo))))
    np.testing.assert_array_equal(text_readings(MARKET), text_readings(scrambled))
    np.testing.assert_array_equal(text_readings(MARKET)[ROWS, COLS],
                                  reading_logit(MARKET.messages[ROWS, COLS], MARKET.at(ROWS, COLS), MARKET.drift[ROWS]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=20))
def test_each_reply_s_misreading_hash_is_the_crc_of_fact_and_reply(replies):
    """One CRC per reply moved to each fact's start value (_reply_crcs) is exactly crc32("fact|reply")."""
    want = [[zlib.crc32(f"{fact}|{reply}".encode()) for fact in FACTS] for reply in replies]
    assert _reply_crcs(replies).tolist() == want
