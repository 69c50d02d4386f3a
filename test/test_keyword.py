"""The keyword reader (trm_demo/funnel/keyword.py): its flags handle negation and the cues a practitioner adds,
and fitted on the history's labelled replies it reads more than the fields alone and less than a perfect reading."""

import numpy as np

from trm_demo.funnel.keyword import CONTEXTS, KEYWORDS, fit_keyword_reader, keyword_flags
from trm_demo.funnel.market import labelled_history, sample_market, squash, structured_only_probability


def flags_of(reply: str) -> set[tuple[str, str]]:
    row = keyword_flags(np.array([reply], dtype=object))[0]
    names = list(KEYWORDS)
    return {(CONTEXTS[i // len(names)], names[i % len(names)]) for i in np.flatnonzero(row)}


def test_a_negated_keyword_is_flagged_as_negated():
    assert ("affirmed", "offer") in flags_of("I have an offer on the table.")
    assert flags_of("I don't have any other offers at the moment.") == {("negated", "offer")}


def test_someone_elses_situation_the_past_and_a_conceded_clause_are_flagged_apart():
    assert ("someone_else", "accepted") in flags_of("My colleague just accepted an offer; I'm not in any process.")
    assert ("past", "offer") in flags_of("I had two offers last spring; nothing on the table now.")
    assert ("conceded", "flexible") in flags_of("I'm flexible on a lot of things, but not on the salary.")


def logit(p):
    return np.log(p / (1 - p))


def cross_entropy(p, p_true):
    return float(-np.mean(p_true * np.log(p) + (1 - p_true) * np.log(1 - p)))


def test_fitted_on_the_history_it_reads_more_than_the_fields_and_less_than_a_perfect_reading():
    history, outcome = labelled_history(np.random.default_rng(0), 4096, 0.3)
    reader = fit_keyword_reader(logit(structured_only_probability(history.pairs(), 0.3))[:, 0],
                                history.messages[:, 0], history.urgency, outcome)
    market = sample_market(np.random.default_rng(1), 1000, 4, 0.3)
    fields_only = structured_only_probability(market.pairs(), 0.3).ravel()
    urgency = np.repeat(market.urgency, 4)
    keyword = squash(reader.logit(logit(fields_only), keyword_flags(market.messages.ravel()), urgency))
    truth = market.p_true.ravel()
    losses = [cross_entropy(p, truth) for p in (fields_only, keyword, squash(market.read_logit).ravel())]
    assert losses[0] > losses[1] > losses[2]
