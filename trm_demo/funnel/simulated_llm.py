"""The simulated LLM: it reads the reply's text, as a reader who knows the grammar, and errs per construction.

A reading comes from the reply itself and the structured fields, never from the
hidden facts or the market's perfect reading (`Market.read_logit`):

1. Split the reply into sentences and correct typos: a word outside the grammar's
   vocabulary that is one dropped letter or one swap of neighbouring letters away
   from a word of it is read as that word ("ofer" -> "offer").
2. Look each sentence up among the grammar's templates (messages.TEMPLATES): it
   gives the fact, the value and the construction. A pleasantry or an unknown
   sentence says nothing.
3. Err as an LLM does, more where the construction is harder: with probability
   ERROR_RATES[construction] the reader misses the construction and takes the
   sentence at its surface (the value its keywords point to: "It's not like I have
   no other offers" read as *no offers*), or reads nothing where the words point
   nowhere. Whether a given reply is misread is fixed by its text (a hash), as a
   model at temperature 0 reads the same reply the same way every time.

   | construction    | error rate |
   |-----------------|------------|
   | plain           | 2 %        |
   | negation        | 6 %        |
   | double_negation | 30 %       |
   | contrast        | 12 %       |
   | time            | 10 %       |
   | hedge           | 6 %        |
   | quantity        | 8 %        |
   | someone_else    | 15 %       |
   | filler          | 3 %        |

   A typo adds no error of its own beyond a correction that lands on the wrong word.
4. The reading's logit: the market's documented rules on the structured fields
   (market.conversion_logit) plus, for each fact read, its documented effect, and
   for each fact not read the population's mean effect (market.expected_hidden_logit).
   reading.py adds the `llm_noise` and `llm_bias` knobs on top.

With every error rate at zero the reading equals the perfect reading; with an empty
reply it is the fields-only prior.
"""

from __future__ import annotations

import itertools
import re
import zlib
from functools import lru_cache

import numpy as np

from trm_demo.funnel.market import conversion_logit, expected_hidden_logit
from trm_demo.funnel.messages import FACTS, PLEASANTRIES, TEMPLATES, WORDS, Numbered, numbered

ERROR_RATES = {"plain": 0.02, "negation": 0.06, "double_negation": 0.30, "contrast": 0.12, "time": 0.10,
               "hedge": 0.06, "quantity": 0.08, "someone_else": 0.15, "filler": 0.03}
UNREAD = -1

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _near_misses(word: str) -> set[str]:
    """The words one dropped letter or one neighbour swap away, inside the word (the typos messages.py writes)."""
    dropped = {word[:at] + word[at + 1:] for at in range(1, len(word) - 1)}
    swapped = {word[:at] + word[at + 1] + word[at] + word[at + 2:] for at in range(1, len(word) - 1)}
    return (dropped | swapped) - WORDS


def _corrections() -> dict[str, tuple[str, ...]]:
    """typo -> the grammar's words it may stand for ("thre": "there" or "three"; the sentence decides)."""
    out: dict[str, tuple[str, ...]] = {}
    for word in sorted(WORDS):
        if len(word) >= 5:
            for typo in _near_misses(word):
                out[typo] = out.get(typo, ()) + (word,)
    return out


CORRECTIONS = _corrections()


def _readings_of(sentence: str) -> list[str]:
    """The sentence in lower case with each typo corrected, every way its typos may be read."""
    # Joined once per reading (product's order: the first piece's choice varies slowest), not rebuilt piece by piece.
    choices = [CORRECTIONS.get(piece, (piece,)) for piece in re.split(r"([a-z]+)", sentence.lower())]
    return list(map("".join, itertools.product(*choices)))


# Every sentence the grammar writes -> (fact, value, construction, surface); a pleasantry -> None.
MEANINGS = {**{text.lower(): (fact, value, construction, surface)
               for fact, values in TEMPLATES.items() for value, phrases in enumerate(values)
               for construction, text, surface in phrases},
            **{text.lower(): None for text in PLEASANTRIES}}


def parse_reply(reply: str) -> dict:
    """What each sentence of the reply says: fact -> (value, construction, surface), without errors."""
    found = {}
    for sentence in _SENTENCE_END.split(reply.strip()):
        meaning = sentence_meaning(sentence)
        if meaning is not None:
            fact, *said = meaning
            found[fact] = tuple(said)
    return found


@lru_cache(maxsize=None)   # replies repeat the grammar's few hundred sentences and their typos: each looked up once
def sentence_meaning(sentence: str) -> tuple | None:
    """MEANINGS of one sentence, its typos corrected; None for a pleasantry or a sentence the grammar does not write."""
    lowered = sentence.lower()
    key = lowered if lowered in MEANINGS else next((k for k in _readings_of(sentence) if k in MEANINGS), None)
    return MEANINGS.get(key)


def read_reply(reply: str, errors: dict = ERROR_RATES) -> tuple[int, ...]:
    """The value the reader takes each fact (FACTS order) to have, UNREAD where it reads none."""
    return tuple(read_sentences(np.array([split_reply(reply)], dtype=object), [reply], errors)[0].tolist())


def split_reply(reply: str) -> list[str]:
    """The reply's sentences: split after . ! or ? and the space that follows."""
    return _SENTENCE_END.split(reply.strip())


def read_sentences(sentences: np.ndarray | Numbered, replies, errors: dict = ERROR_RATES) -> np.ndarray:
    """What the reader reads off each reply, (m, FACTS) int, UNREAD where it reads none, from the replies' sentences
    (m, S) str in order ("" for none: split_reply's, padded; or them numbered, messages.Numbered) and the replies
    (m,) str. Each distinct sentence's meaning is looked up once (sentence_meaning); where a fact is said twice, the
    later sentence is what it reads.

    Whether a sentence is misread is fixed by the text, as a model at temperature 0 reads the same reply the same
    way every time: a draw from the CRC-32 of "fact|reply" (one CRC of each reply, moved to each fact's prefix:
    _reply_crcs)."""
    which, distinct = numbered(sentences)
    said = [sentence_meaning(s) for s in distinct]
    fact = np.array([-1 if m is None else FACTS.index(m[0]) for m in said], dtype=np.intp)           # (U,)
    value = np.array([0 if m is None else m[1] for m in said], dtype=int)
    surface = np.array([UNREAD if m is None or m[3] is None else m[3] for m in said], dtype=int)
    rate = np.array([0.0 if m is None else errors[m[2]] for m in said])
    read = np.full((len(which), len(FACTS)), UNREAD)
    crc = _reply_crcs(replies)                                                                   # (m, FACTS)
    for column in which.T:   # in the reply's order: a later sentence of a fact overwrites an earlier one
        rows = np.flatnonzero(fact[column] >= 0)
        ids, facts = column[rows], fact[column[rows]]
        draw = crc[rows, facts] / 2**32
        read[rows, facts] = np.where(draw < rate[ids], surface[ids], value[ids])
    return read


_FACT_CRC = [zlib.crc32(f"{fact}|".encode()) for fact in FACTS]   # crc32(reply, _FACT_CRC[f]) = crc32("fact|reply")


def _reply_crcs(replies) -> np.ndarray:
    """crc32("fact|reply") of each reply (m,) and fact, (m, FACTS) int64, from one CRC of each reply. A CRC is affine
    in its start value: crc32(data, start) = crc32(data, 0) ^ _start_shift(len(data))[start's fact], so one call per
    reply replaces one per fact it states (2.4 on average)."""
    encoded = [reply.encode() for reply in replies]
    own = np.fromiter(map(zlib.crc32, encoded), np.int64, len(encoded))
    lengths = np.fromiter(map(len, encoded), np.intp, len(encoded))
    distinct, at = np.unique(lengths, return_inverse=True)
    shifts = np.array([_start_shift(int(n)) for n in distinct], np.int64).reshape(len(distinct), len(FACTS))
    return own[:, None] ^ shifts[at.ravel()]


@lru_cache(maxsize=None)   # a few hundred reply lengths
def _start_shift(length: int) -> tuple[int, ...]:
    """What each fact's start value adds (XOR) to the CRC-32 of `length` bytes: the start's linear part, the same
    for any data of that length (read off zeros, whose CRC from start 0 holds the constant part)."""
    zeros = bytes(length)
    return tuple(zlib.crc32(zeros, start) ^ zlib.crc32(zeros) for start in _FACT_CRC)


def read_facts(replies: np.ndarray, errors: dict = ERROR_RATES,
               sentences: np.ndarray | Numbered | None = None) -> tuple[dict, dict]:
    """The facts read off each reply: (values, stated) as in messages.Hidden, fact -> (m,) each. replies: (m,) str;
    sentences: their sentences (m, S) as read_sentences takes them, if the caller has them (Market.sentences)."""
    if sentences is None:
        split = [split_reply(r) for r in replies]
        sentences = np.full((len(replies), max(map(len, split), default=1)), "", dtype=object)
        for row, found in zip(sentences, split):
            row[:len(found)] = found
    read = read_sentences(sentences, replies, errors)
    return ({fact: np.maximum(read[:, i], 0) for i, fact in enumerate(FACTS)},
            {fact: read[:, i] != UNREAD for i, fact in enumerate(FACTS)})


def reading_logit(replies: np.ndarray, fields: dict, drift: np.ndarray, errors: dict = ERROR_RATES,
                  sentences: np.ndarray | Numbered | None = None) -> np.ndarray:
    """The reader's logit of P(convert) for candidates with these replies and fields ((m,) each; Market.at);
    sentences as read_facts'."""
    values, stated = read_facts(replies, errors, sentences)
    return conversion_logit(**fields, drift=drift) + expected_hidden_logit(values, stated, fields, drift)


def text_readings(market, sentences: Numbered | None = None) -> np.ndarray:
    """Every candidate's reading from its reply and fields alone (messages, structured fields, drift): (N, K).
    sentences: the market's sentences (N x K, S) numbered, if the caller has them (the keyword reader reads them too)."""
    n, k = market.messages.shape
    rows, cols = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    if sentences is None:
        sentences = market.sentences.reshape(-1, market.sentences.shape[-1])
    return reading_logit(market.messages.ravel(), market.at(rows, cols), market.drift[rows],
                         sentences=sentences).reshape(n, k)
