"""What only reading reveals: each candidate's hidden situation and the short reply that states it.

A candidate's reply to the recruiter's first contact (1 to 4 sentences) carries
five hidden factors that the applicant-tracking fields do not:

  intent           actively looking / open to the right offer / just curious
  offer            none / another offer with a deadline / already accepted elsewhere
  notice           can start now / one month / three months
  salary_flexible  will move on salary (softens an ask over the budget)
  remote_flexible  a remote-only candidate who would still come in now and then

The reply comes from a small grammar: several paraphrases per fact, negations
that defeat keyword matching ("I'm not actively looking" is *open*, "not really
looking to move" is *curious*, "no other offers" is *none*, "not flexible on
the salary" is *firm*), and pleasantries that say nothing. A fact the
candidate does not mention is not in the reply (`Hidden.stated`): a reader
knows only the population's share for it. How the factors move the true
probability is in market.py (`hidden_logit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACTS = ("intent", "offer", "notice", "salary", "remote")
SHARES = {"intent": (0.35, 0.40, 0.25),      # active, open, curious
          "offer": (0.72, 0.18, 0.10),       # none, deadline, accepted elsewhere
          "notice": (0.30, 0.45, 0.25),      # now, one month, three months
          "salary": (0.70, 0.30),            # firm, flexible
          "remote": (0.60, 0.40)}            # remote only, would come in sometimes
MAX_SENTENCES = 4

PHRASES = {
    "intent": (("I'm actively looking for my next role.", "I've been interviewing and would love to hear more.",
                "Timing is good: I'm ready for a move.", "I'm on the market right now."),
               ("I'm not actively looking, but I'm open to the right opportunity.",
                "Happy where I am, though I'd listen to a strong offer.", "Not searching, but open to a chat."),
               ("Just curious what's out there, to be honest.", "I'm not really looking to move right now.",
                "I'm not planning a change this year, but thanks for thinking of me.")),
    "offer": (("I don't have any other offers at the moment.", "No other processes on my side."),
              ("I have an offer on the table that expires next Friday.",
               "Another company wants an answer from me by the end of next week.",
               "I need to decide on another offer within ten days."),
              ("I've just accepted a position elsewhere, sorry.", "I signed with another company last week.",
               "I already said yes to another offer.")),
    "notice": (("I could start right away.", "I'm available immediately.", "No notice period on my side."),
               ("My notice period is one month.", "I'd need about four weeks to wrap up here."),
               ("I'm on a three-month notice period.", "I can't leave before the end of the quarter.",
                "My contract requires three months' notice.")),
    "salary": (("My salary expectations are firm.", "I'm not flexible on the salary, unfortunately."),
               ("The salary is negotiable for the right team.", "I'm flexible on compensation.",
                "Money isn't the main thing for me.")),
    "remote": (("I can only work fully remote.", "I'm not able to commute to an office."),
               ("I'd prefer remote, but I could come in a day or two a week.",
                "Fully remote ideally, though occasional office days are fine.")),
    "pleasantry": (("Thanks for reaching out!", "Hope your week is going well.",
                    "I saw your team's talk at a conference last spring.", "Could you send me the job description?",
                    "My profile should be up to date."),),
}


@dataclass(frozen=True)
class Hidden:
    """Each candidate's hidden situation (N, K) and which facts its reply states."""
    values: dict      # fact -> (N, K) int, an index into SHARES[fact]
    stated: dict      # fact -> (N, K) bool


def sample_hidden(rng: np.random.Generator, remote_only: np.ndarray) -> Hidden:
    """Draw the hidden factors, and which of them the reply mentions. remote_only: (N, K) bool."""
    shape = remote_only.shape
    values = {fact: rng.choice(len(share), size=shape, p=share) for fact, share in SHARES.items()}
    # People mention the unusual almost always and the usual sometimes; intent always.
    usual = {"offer": 0, "notice": 1, "salary": 0, "remote": 0}
    mention = {"intent": np.ones(shape, bool)}
    for fact, common in usual.items():
        mention[fact] = rng.random(shape) < np.where(values[fact] == common, 0.5, 0.95)
    mention["remote"] &= remote_only   # only a remote-only candidate talks about the office
    mention["pleasantry"] = rng.random(shape) < 0.5
    # At most MAX_SENTENCES: intent stays, the other facts compete in a random order, a pleasantry
    # only fills a sentence left over.
    keys = np.stack([np.where(mention[f], rng.random(shape) + (f == "pleasantry"), np.inf)
                     for f in FACTS[1:] + ("pleasantry",)])
    kept = np.argsort(np.argsort(keys, axis=0), axis=0) < MAX_SENTENCES - 1
    stated = {"intent": mention["intent"], **{f: mention[f] & kept[i] for i, f in enumerate(FACTS[1:])}}
    values["pleasantry"] = np.zeros(shape, int)
    stated["pleasantry"] = mention["pleasantry"] & kept[-1]
    return Hidden(values, stated)


def write_messages(rng: np.random.Generator, hidden: Hidden) -> np.ndarray:
    """Each candidate's reply, (N, K) str: its stated facts in a random order, one paraphrase each."""
    names = FACTS + ("pleasantry",)
    shape = hidden.values["intent"].shape
    sentences = np.full((len(names),) + shape, "", dtype=object)
    for i, name in enumerate(names):
        for value, paraphrases in enumerate(PHRASES[name]):
            chosen = np.asarray(paraphrases, dtype=object)[rng.integers(len(paraphrases), size=shape)]
            sentences[i] = np.where(hidden.stated[name] & (hidden.values[name] == value), chosen, sentences[i])
    order = np.argsort(rng.random((len(names),) + shape), axis=0)
    shuffled = np.take_along_axis(sentences, order, axis=0).reshape(len(names), -1).T
    return np.array([" ".join(s for s in row if s) for row in shuffled], dtype=object).reshape(shape)
