"""What only reading reveals: hidden factors move the true probability as documented, and each reply
states exactly its stated facts in the grammar's words, through its recorded constructions in their documented
shares, in a way keywords misread."""

import re

import numpy as np
import pytest

from trm_demo.funnel.market import conversion_logit, hidden_logit, sample_market
from trm_demo.funnel.messages import (CONSTRUCTIONS, FACTS, MAX_SENTENCES, PLEASANTRIES, TEMPLATES, TEXTS, TYPO_RATE,
                                      WORDS, typos)

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


SENTENCES = {text: (fact, value, CONSTRUCTIONS.index(construction))
             for fact, values in TEMPLATES.items() for value, phrases in enumerate(values)
             for construction, text, _ in phrases}
SPLIT = re.compile(r"(?<=[.!?]) ")


def one_typo_away(typed: str, text: str) -> bool:
    """typed is text with one letter dropped or two neighbouring letters swapped."""
    if len(typed) == len(text) - 1:
        return any(text[:i] + text[i + 1:] == typed for i in range(len(text)))
    diff = [i for i, (a, b) in enumerate(zip(typed, text)) if a != b]
    return len(typed) == len(text) and len(diff) == 2 and diff[1] == diff[0] + 1 and typed[diff[0]] == text[diff[1]]


def parse(message: str) -> dict:
    """A reader who knows the grammar: every sentence maps back to one (fact, value, construction, typo)."""
    facts = {}
    for sentence in SPLIT.split(message):
        if sentence in PLEASANTRIES:
            continue
        typed = sentence not in SENTENCES
        matches = [text for text in SENTENCES if one_typo_away(sentence, text)] if typed else [sentence]
        assert len(matches) == 1, f"not one sentence of the grammar: {sentence!r}"
        fact, value, construction = SENTENCES[matches[0]]
        assert fact not in facts, f"two sentences about {fact}: {message!r}"
        facts[fact] = (value, construction, typed)
    return facts


def test_each_reply_states_its_stated_facts_through_its_recorded_construction_in_at_most_four_sentences():
    hidden = MARKET.hidden
    for i, j in zip(*np.nonzero(np.ones(MARKET.p_true.shape)[:300])):
        message = MARKET.messages[i, j]
        facts = parse(message)
        assert set(facts) == {f for f in FACTS if hidden.stated[f][i, j]} and "intent" in facts
        assert all(facts[f] == (hidden.values[f][i, j], hidden.construction[f][i, j], hidden.typo[f][i, j])
                   for f in facts)
        assert 1 <= len(SPLIT.split(message)) <= MAX_SENTENCES


def test_unstated_facts_have_no_construction_and_no_typo():
    for fact in FACTS:
        unsaid = ~MARKET.hidden.stated[fact]
        assert (MARKET.hidden.construction[fact][unsaid] == -1).all() and not MARKET.hidden.typo[fact][unsaid].any()


# The messages.py table's shares (percent of stated facts) and the typo rate actually written.
TABLE = {"plain": 30, "negation": 13, "double_negation": 5, "contrast": 13, "time": 11, "hedge": 9, "quantity": 4,
         "someone_else": 9, "filler": 7}


def test_constructions_appear_in_the_documented_shares():
    used = np.concatenate([MARKET.hidden.construction[f][MARKET.hidden.stated[f]] for f in FACTS])
    shares = {name: 100 * np.mean(used == c) for c, name in enumerate(CONSTRUCTIONS)}
    assert set(TABLE) == set(CONSTRUCTIONS)
    assert all(abs(shares[name] - TABLE[name]) < 1.5 for name in CONSTRUCTIONS), shares
    typed = np.concatenate([MARKET.hidden.typo[f][MARKET.hidden.stated[f]] for f in FACTS])
    assert abs(typed.mean() - TYPO_RATE) < 0.015


def test_every_construction_but_plain_hedge_and_filler_has_words_pointing_the_other_way():
    """A template's surface (what its keywords say) differs from what it means; plain sentences say what they mean."""
    for fact, values in TEMPLATES.items():
        for value, phrases in enumerate(values):
            for construction, text, surface in phrases:
                assert surface != value, text
                if construction in ("plain", "filler"):
                    assert surface is None, text
    tricky = {c for values in TEMPLATES.values() for phrases in values for c, _, surface in phrases
              if surface is not None}
    assert tricky == set(CONSTRUCTIONS) - {"plain", "hedge", "filler"}


def test_keywords_misread_the_replies():
    """'offer' in a reply says little about the candidate's offer: most replies that say it have none."""
    offer = np.where(MARKET.hidden.stated["offer"], MARKET.hidden.values["offer"], 0).ravel()
    says_offer = np.array([bool(re.search(r"\boffers?\b", m.lower())) for m in MARKET.messages.ravel()])
    assert 0.3 < np.mean(offer[says_offer] == 0) < 0.9
    intent = MARKET.hidden.values["intent"].ravel()
    says_looking = np.array([bool(re.search(r"\blooking\b", m)) for m in MARKET.messages.ravel()])
    assert 0.3 < np.mean(intent[says_looking] != 0) < 0.9


def test_a_typo_never_makes_a_word_of_the_grammar_and_each_is_one_typo_away():
    sentence = "I need to decide on another offer within ten days."
    variants, variant = typos(np.full(500, TEXTS.index(sentence)), *np.random.default_rng(0).random((3, 500)))
    assert len(set(variants)) > 10 and (variant >= 0).mean() > 0.8   # most draws write one
    assert sorted(set(variant[variant >= 0])) == list(range(len(variants)))
    for typed in variants:
        assert one_typo_away(typed, sentence) and not set(re.findall(r"[a-z]+", typed.lower())) <= WORDS


def test_the_reader_knows_more_than_the_fields_and_less_than_the_truth():
    true_logit = np.log(MARKET.p_true / (1 - MARKET.p_true))
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
