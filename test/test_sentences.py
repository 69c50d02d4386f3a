"""The readers' sentence paths (issue 24): the keyword flags and the simulated LLM's reading of a market's replies,
made from `Market.sentences` (each distinct sentence looked up once), equal the per-reply references below (a
reply's text split and read one by one, as both readers did before) on random markets, and the sentences are the
reply's own."""

import zlib

import numpy as np
from hypothesis import given, settings, strategies as st

from trm_demo.funnel.keyword import CONTEXTS, KEYWORDS, SENTENCE, flags_of_sentences, keyword_flags, sentence_flags
from trm_demo.funnel.market import sample_market
from trm_demo.funnel.messages import FACTS
from trm_demo.funnel.simulated_llm import (ERROR_RATES, UNREAD, parse_reply, read_facts, read_reply, split_reply,
                                           text_readings, reading_logit)

markets = st.builds(lambda seed, n, k, drift: sample_market(np.random.default_rng(seed), n, k, drift),
                    st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 5), st.floats(0.0, 1.0))
error_rates = st.fixed_dictionaries({name: st.sampled_from([0.0, 0.3, 0.7, 1.0, rate])
                                     for name, rate in ERROR_RATES.items()})


def reference_flags(reply: str) -> np.ndarray:
    """The reply split at . ! ? ; and each piece flagged: the union, as keyword_flags computed it reply by reply."""
    row = np.zeros(len(CONTEXTS) * len(KEYWORDS))
    for piece in SENTENCE.split(reply.lower()):
        row[list(sentence_flags(piece.strip()))] = 1
    return row


def reference_read(reply: str, errors: dict) -> tuple[int, ...]:
    """read_reply as it was written reply by reply: parse, then one CRC-32 of "fact|reply" per fact read."""
    read = [UNREAD] * len(FACTS)
    for fact, (value, construction, surface) in parse_reply(reply).items():
        missed = zlib.crc32(f"{fact}|{reply}".encode()) / 2**32 < errors[construction]
        read[FACTS.index(fact)] = (UNREAD if surface is None else surface) if missed else value
    return tuple(read)


@settings(max_examples=25, deadline=None)
@given(markets)
def test_a_markets_sentences_are_its_replies_split_at_sentence_ends(market):
    for reply, sentences in zip(market.messages.ravel(), market.sentences.reshape(market.messages.size, -1)):
        said = [s for s in sentences if s]
        assert " ".join(said) == reply and (split_reply(reply) == said or (reply == "" and said == []))
        assert all(s == "" for s in sentences[len(said):])   # the padding comes after the last sentence only


@settings(max_examples=25, deadline=None)
@given(markets)
def test_the_flags_from_sentences_and_from_the_joined_split_equal_the_reply_by_reply_flags(market):
    replies = market.messages.ravel()
    expected = np.array([reference_flags(r) for r in replies])
    from_sentences = flags_of_sentences(market.sentences.reshape(len(replies), -1))
    assert from_sentences.dtype == np.uint8 and np.array_equal(from_sentences, expected)
    assert np.array_equal(keyword_flags(replies), expected)


@settings(max_examples=25, deadline=None)
@given(markets, error_rates)
def test_the_reading_from_sentences_equals_the_reply_by_reply_reading(market, errors):
    replies = market.messages.ravel()
    expected = np.array([reference_read(r, errors) for r in replies]).reshape(len(replies), len(FACTS))
    for sentences in (market.sentences.reshape(len(replies), -1), None):   # the market's, and split_reply's
        values, stated = read_facts(replies, errors, sentences)
        assert np.array_equal(np.stack([np.where(stated[f], values[f], UNREAD) for f in FACTS], axis=1), expected)
    assert [read_reply(r, errors) for r in replies[:5]] == [tuple(row) for row in expected[:5].tolist()]


@settings(max_examples=10, deadline=None)
@given(markets)
def test_text_readings_reads_the_sentences_as_the_replies_read(market):
    n, k = market.messages.shape
    rows, cols = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    by_reply = reading_logit(market.messages.ravel(), market.at(rows, cols), market.drift[rows]).reshape(n, k)
    assert np.array_equal(text_readings(market), by_reply)


def test_a_fact_said_twice_is_read_from_its_later_sentence():
    reply = "I have an offer on the table that expires next Friday. I had an offer, but it fell through."
    no_errors = {name: 0.0 for name in ERROR_RATES}
    assert read_reply(reply, no_errors) == reference_read(reply, no_errors)
    assert read_reply(reply, no_errors)[FACTS.index("offer")] == 0   # "fell through": no offer
