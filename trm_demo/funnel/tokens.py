"""What the reading TRM reads: a reply and a few structured fields as a fixed-length row of token ids.

The vocabulary is the grammar's own (messages.py: every template, its filler
versions and every pleasantry), lower-cased, apostrophes dropped ("don't" ->
"dont": the negation stays one token), with the clause punctuation kept as
tokens (, . : ; ! ? and the dash of "2–3"), since a clause boundary is where a
negation's scope ends. Ids, in order:

    0 PAD, 1 UNK (any word the grammar never writes: a typo such as "ofer"),
    then FIELD_TOKENS (the fields the hidden facts interact with, bucketed),
    then the grammar's words, sorted.

A row is FIELD_SLOTS field tokens, then the reply's first MAX_REPLY_TOKENS
tokens (0.2 % of default replies are longer, measured on 20,000: their tail is
cut), then PAD; `mask` says which positions hold a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from trm_demo.funnel.messages import PLEASANTRIES, TEMPLATES

PAD, UNK = 0, 1
WORD = re.compile(r"[a-z]+|[0-9]+|[,.:;!?–]")
MAX_REPLY_TOKENS = 57     # 99.8 % of replies fit (measured: median 36, 99th percentile 54, max 66)

# The fields the hidden facts' effects depend on (market._fact_logits), each as one token:
# urgency (offer and notice), how far the ask is over budget (salary flexibility),
# and what remote-only costs here (remote flexibility).
URGENCY_EDGES = (0.25, 0.5, 0.75)
OVER_BUDGET_EDGES = (0.0, 0.1)   # ask / budget_high - 1: within budget, up to 10 % over, more
FIELD_TOKENS = tuple(f"urgency_{i}" for i in range(len(URGENCY_EDGES) + 1)) + \
    tuple(f"over_budget_{i}" for i in range(len(OVER_BUDGET_EDGES) + 1)) + \
    ("remote_cost_none", "remote_cost_hybrid", "remote_cost_onsite")
FIELD_SLOTS = 3
SEQ_LEN = FIELD_SLOTS + MAX_REPLY_TOKENS


def words(text: str) -> list[str]:
    """A reply's tokens as strings, in order."""
    return WORD.findall(text.lower().replace("'", ""))


def _grammar_words() -> tuple[str, ...]:
    texts = [text for values in TEMPLATES.values() for phrases in values for _, text, _ in phrases]
    return tuple(sorted({w for text in texts + list(PLEASANTRIES) for w in words(text)}))


VOCABULARY = ("<pad>", "<unk>") + FIELD_TOKENS + _grammar_words()
ID = {token: i for i, token in enumerate(VOCABULARY)}
VOCAB_SIZE = len(VOCABULARY)


@dataclass(frozen=True)
class Encoded:
    ids: np.ndarray    # (m, SEQ_LEN) int64
    mask: np.ndarray   # (m, SEQ_LEN) bool: a real token (field or word), not padding


@lru_cache(maxsize=None)   # replies repeat the grammar's sentences; each distinct reply is split once
def reply_ids(text: str) -> tuple[int, ...]:
    """A reply's token ids, truncated to MAX_REPLY_TOKENS; a word outside the grammar is UNK."""
    return tuple(ID.get(w, UNK) for w in words(text)[:MAX_REPLY_TOKENS])


def field_ids(urgency, asking_salary, budget_high, work_mode, remote_only) -> np.ndarray:
    """(m,) fields -> (m, FIELD_SLOTS) token ids. work_mode: 0 onsite, 1 hybrid, 2 remote (market.py)."""
    urgency_bucket = np.digitize(urgency, URGENCY_EDGES)
    over = np.digitize(np.asarray(asking_salary) / np.asarray(budget_high) - 1.0, OVER_BUDGET_EDGES, right=True)
    remote_cost = np.where(~np.asarray(remote_only, bool) | (work_mode == 2), 0, np.where(work_mode == 1, 1, 2))
    return np.stack([ID["urgency_0"] + urgency_bucket, ID["over_budget_0"] + over,
                     ID["remote_cost_none"] + remote_cost], axis=1).astype(np.int64)


def encode(replies, fields: np.ndarray | None = None) -> Encoded:
    """(m,) replies and their (m, FIELD_SLOTS) field_ids (PAD when None) -> Encoded (m, SEQ_LEN)."""
    m = len(replies)
    ids = np.zeros((m, SEQ_LEN), np.int64)
    if fields is not None:
        ids[:, :FIELD_SLOTS] = fields
    for row, text in enumerate(replies):
        tokens = reply_ids(str(text))
        ids[row, FIELD_SLOTS:FIELD_SLOTS + len(tokens)] = tokens
    return Encoded(ids, ids != PAD)


def decode(ids: np.ndarray) -> str:
    """One row's reply tokens back as text, space-separated (field tokens and padding left out)."""
    return " ".join(VOCABULARY[i] for i in ids[FIELD_SLOTS:] if i != PAD)


def encode_market(market) -> Encoded:
    """Every candidate of a (N, K) market, flattened row-major to N x K rows."""
    n, k = market.messages.shape
    broadcast = {name: np.broadcast_to(value, (n, k)).ravel() for name, value in market.pairs().items()}
    fields = field_ids(broadcast["urgency"], broadcast["asking_salary"], broadcast["budget_high"],
                       broadcast["work_mode"], broadcast["remote_only"])
    return encode(market.messages.ravel(), fields)
