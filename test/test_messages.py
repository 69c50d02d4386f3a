"""What only reading reveals: hidden factors move the true probability as documented, and each reply
states exactly its stated facts in the grammar's words, in a way keywords cannot read."""

import re

import numpy as np
import pytest

from trm_demo.funnel.market import hidden_logit, sample_market
from trm_demo.funnel.messages import FACTS, MAX_SENTENCES, PHRASES

MARKET = sample_market(np.random.default_rng(11), 3000, 4, 0.3)
FIELDS = MARKET.pairs()


def with_fact(fact: str, value: int) -> np.ndarray:
    values = {**MARKET.hidden.values, fact: np.full(MARKET.p_true.shape, value)}
    return hidden_logit(values, FIELDS, 0.3)


def test_intent_active_beats_open_beats_curious():
    active, open_, curious = (with_fact("intent", v) for v in range(3))
    assert (active > open_).all() and (open_ > curious).all()


def test_an_accepted_offer_is_worst_and_a_deadline_hurts_less_when_the_job_is_urgent():
    none, deadline, accepted = (with_fact("offer", v) for v in range(3))
    assert (accepted < deadline).all() and (accepted < none).all()
    hurt = none - deadline
    urgency = np.broadcast_to(FIELDS["urgency"], hurt.shape)
    assert np.corrcoef(urgency.ravel(), hurt.ravel())[0, 1] < -0.99    # the interaction with urgency


def test_a_long_notice_hurts_in_proportion_to_urgency():
    now, _, three_months = (with_fact("notice", v) for v in range(3))
    gap = (now - three_months).ravel()
    urgency = np.broadcast_to(FIELDS["urgency"], now.shape).ravel()
    assert (gap >= 0).all() and np.corrcoef(urgency, gap)[0, 1] > 0.99


def test_salary_flexibility_helps_most_where_the_ask_is_over_budget():
    gain = (with_fact("salary", 1) - with_fact("salary", 0)).ravel()
    over = (MARKET.asking_salary > MARKET.budget_high[:, None]).ravel()
    assert (gain > 0).all() and gain[over].mean() > 2 * gain[~over].mean()


def parse(message: str) -> dict:
    """A reader who knows the grammar: every sentence maps back to exactly one (fact, value)."""
    facts = {}
    for fact, values in PHRASES.items():
        for value, paraphrases in enumerate(values):
            for phrase in paraphrases:
                if phrase in message:
                    assert fact not in facts, f"two sentences about {fact}: {message!r}"
                    facts[fact] = value
                    message = message.replace(phrase, "", 1)
    assert message.strip() == "", f"words outside the grammar: {message!r}"
    return facts


def test_each_reply_states_exactly_its_stated_facts_in_at_most_four_sentences():
    hidden = MARKET.hidden
    for i, j in zip(*np.nonzero(np.ones(MARKET.p_true.shape)[:300])):
        message = MARKET.messages[i, j]
        facts = parse(message)
        stated = {f for f in FACTS + ("pleasantry",) if hidden.stated[f][i, j]}
        assert set(facts) == stated and "intent" in facts
        assert all(facts[f] == hidden.values[f][i, j] for f in FACTS if f in facts)
        assert 1 <= len(facts) <= MAX_SENTENCES


def test_keywords_misread_the_replies():
    """'looking' means active only without a negation: a keyword rule gets a share of intents wrong."""
    intent = MARKET.hidden.values["intent"].ravel()
    says_looking = np.array([bool(re.search(r"\blooking\b", m)) for m in MARKET.messages.ravel()])
    assert 0.1 < np.mean(intent[says_looking] != 0) < 0.9


def test_the_reader_knows_more_than_the_fields_and_less_than_the_truth():
    true_logit = np.log(MARKET.p_true / (1 - MARKET.p_true))
    from trm_demo.funnel.market import conversion_logit
    structured = conversion_logit(**FIELDS, drift=0.3)
    assert np.std(true_logit - MARKET.read_logit) < 0.75 * np.std(true_logit - structured)
    assert np.std(true_logit - MARKET.read_logit) > 0.1    # unstated facts stay unknown


@pytest.mark.parametrize("fact", FACTS)
def test_every_fact_is_sometimes_left_unsaid(fact):
    stated = MARKET.hidden.stated[fact]
    if fact == "intent":
        assert stated.all()
    else:
        assert 0.0 < stated.mean() < 1.0
