"""The keyword reader: what a practitioner writes first, at its best, and free to run.

Keyword flags on the reply, each split by a negation check, go into a logistic
regression beside a fields-only logit (the TRM's, or the exact structured rules'),
with weights fitted on labelled replies of the history (each reply's observed 0/1
outcome, market.labelled_history):

- a keyword is *negated* when a negation cue ("not", "no", "n't", "never",
  "without", "zero", ...) comes within the four words before it in the same clause
  (a clause ends at , ; : . ! ? or "but"/"though"), the NegEx rule;
- each keyword gives two 0/1 flags, affirmed and negated; each flag also enters
  multiplied by the job's urgency (offers and notice matter more when a job is urgent:
  the practitioner knows that much of the business);
- a small L2 penalty keeps rare flags finite.

What it cannot do is what the grammar's constructions are for (messages.py):
scope beyond four words, double negation, concession ("I had an offer, but it fell
through"), time, someone else's situation, typos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from trm_demo.trm.logistic import Logistic, fit_logistic

KEYWORDS = {
    "looking": r"actively looking|looking|interviewing|on the market|ready for a move|want to move|moving",
    "open": r"open|listen|hear you out|interested",
    "curious": r"curious|browsing|happy where|happy here|not planning",
    "offer": r"offers?\b|processes|process\b",
    "accepted": r"accepted|signed|said yes|committed|taken|took",
    "deadline": r"expires?|deadline|decide|answer|within",
    "fell_through": r"fell through|turned (?:it |his |one )?(?:offer )?down|didn't work out",
    "start_now": r"right away|immediately|no notice|days\b|a week\b|free now",
    "one_month": r"one month|a month|four weeks|weeks|thirty days|after one",
    "three_months": r"three months|three-month|quarter|2–3 months|months",
    "flexible": r"flexible|negotiable|relaxed|move on the salary|move a bit|isn't the main thing",
    "firm": r"firm|fixed|non-negotiable|won't",
    "remote_only": r"only work|fully remote|remote-only|commute|can't come",
    "comes_in": r"come in|office days?|once a week|a day or two",
}
NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|without|zero|neither|nor|cannot)\b|n't\b")
CLAUSE = re.compile(r"[,;:.!?]|\bbut\b|\bthough\b")
SCOPE_WORDS = 4
PATTERNS = {name: re.compile(rf"\b(?:{pattern})") for name, pattern in KEYWORDS.items()}


def clause_flags(clause: str) -> dict[str, tuple[bool, bool]]:
    """keyword -> (affirmed somewhere in the clause, negated somewhere in it)."""
    flags = {}
    for name, pattern in PATTERNS.items():
        for match in pattern.finditer(clause):
            before = " ".join(clause[:match.start()].split()[-SCOPE_WORDS:])
            negated = bool(NEGATION.search(before))
            affirmed, was_negated = flags.get(name, (False, False))
            flags[name] = (affirmed or not negated, was_negated or negated)
    return flags


def keyword_flags(replies: np.ndarray) -> np.ndarray:
    """(m,) str -> (m, 2 x keywords) 0/1: each keyword affirmed, then each keyword negated."""
    names = list(KEYWORDS)
    out = np.zeros((len(replies), 2 * len(names)))
    for i, reply in enumerate(replies):
        for clause in CLAUSE.split(reply.lower()):
            for name, (affirmed, negated) in clause_flags(clause).items():
                j = names.index(name)
                out[i, j] = max(out[i, j], affirmed)
                out[i, len(names) + j] = max(out[i, len(names) + j], negated)
    return out


def design(base_logit: np.ndarray, replies: np.ndarray, urgency: np.ndarray) -> np.ndarray:
    """The regression's inputs: the fields-only logit, the flags and the flags x urgency. (m,) each -> (m, 1 + 4 x keywords)"""
    flags = keyword_flags(replies)
    return np.c_[base_logit, flags, flags * urgency[:, None]]


@dataclass(frozen=True)
class KeywordReader:
    model: Logistic

    def logit(self, base_logit: np.ndarray, replies: np.ndarray, urgency: np.ndarray) -> np.ndarray:
        """The reader's logit of P(convert), (m,) from (m,) each."""
        x = design(base_logit, replies, urgency)
        return x @ self.model.weights + self.model.bias


def fit_keyword_reader(base_logit: np.ndarray, replies: np.ndarray, urgency: np.ndarray, outcome: np.ndarray,
                       l2: float = 1e-3) -> KeywordReader:
    """Weights fitted on labelled replies of the history: outcome (m,) observed 0/1."""
    return KeywordReader(fit_logistic(design(base_logit, replies, urgency), outcome, l2))
