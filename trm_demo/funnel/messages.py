"""What only reading reveals: each candidate's hidden situation and the short reply that states it.

A candidate's reply to the recruiter's first contact (1 to 4 sentences) carries
five hidden factors that the applicant-tracking fields do not:

  intent           actively looking / open to the right offer / just curious
  offer            none / another offer with a deadline / already accepted elsewhere
  notice           can start now / one month / three months
  salary_flexible  will move on salary (softens an ask over the budget)
  remote_flexible  a remote-only candidate who would still come in now and then

A fact the candidate does not mention is not in the reply (`Hidden.stated`): a
reader knows only the population's share for it. How the factors move the true
probability is in market.py (`hidden_logit`).

Each stated fact is one sentence, written through one construction. Real
replies defeat keyword rules the way these do: the words that a rule matches
point one way and the sentence means the other (the template's `surface` is
what a reader who misses the construction takes it to say). Shares are of
stated facts, measured on 200,000 replies of the default market (the weights in
CONSTRUCTION_WEIGHTS, renormalised over the constructions each value has):

| construction    | example (fact: value)                                                   | share |
|-----------------|-------------------------------------------------------------------------|-------|
| plain           | "I'm on a three-month notice period." (notice: three months)            | 30 %  |
| negation        | "I don't have any other offers at the moment." (offer: none)            | 13 %  |
| double_negation | "Not that I'm not interested." (intent: open)                           |  5 %  |
| contrast        | "I had an offer, but it fell through." (offer: none)                    | 13 %  |
| time            | "I had two offers last spring; nothing on the table now." (offer: none) | 11 %  |
| hedge           | "Probably about a month, give or take." (notice: one month)             |  9 %  |
| quantity        | "I'd need three weeks to hand over." (notice: one month)                |  4 %  |
| someone_else    | "My colleague just accepted an offer; I'm not in any process." (none)   |  9 %  |
| filler          | "So, um, I could start right away." (notice: now)                       |  7 %  |

Independently of its construction, a sentence is drawn to carry one typo with
probability TYPO_RATE (10 %; 9.7 % do, where a word allows one): two letters
swapped or one dropped in a word of five or more letters ("ofer", "immediatley");
`Hidden.typo` records which. Pleasantries fill a sentence left over and say
nothing, some with a keyword in them ("Thanks for the offer of a call!", "I can
do a call right away.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

FACTS = ("intent", "offer", "notice", "salary", "remote")
SHARES = {"intent": (0.35, 0.40, 0.25),      # active, open, curious
          "offer": (0.72, 0.18, 0.10),       # none, deadline, accepted elsewhere
          "notice": (0.30, 0.45, 0.25),      # now, one month, three months
          "salary": (0.70, 0.30),            # firm, flexible
          "remote": (0.60, 0.40)}            # remote only, would come in sometimes
MAX_SENTENCES = 4
TYPO_RATE = 0.10

CONSTRUCTIONS = ("plain", "negation", "double_negation", "contrast", "time", "hedge", "quantity", "someone_else",
                 "filler")
CONSTRUCTION_WEIGHTS = {"plain": 0.28, "negation": 0.12, "double_negation": 0.08, "contrast": 0.12, "time": 0.10,
                        "hedge": 0.08, "quantity": 0.08, "someone_else": 0.08, "filler": 0.06}
# Filler: a plain statement behind words that say nothing.
FILLERS = ("Honestly, ", "So, um, ", "To be fair, ", "Well, you know, ")

# PHRASES[fact][value]: (construction, sentence, surface). `surface` is the value the sentence's keywords point
# to when the construction is missed (None: nothing readable without it).
PHRASES = {
    "intent": (
        (("plain", "I'm actively looking for my next role.", None),
         ("plain", "I've been interviewing and would love to hear more.", None),
         ("plain", "Timing is good: I'm ready for a move.", None),
         ("negation", "I'm not just browsing: I want to move.", 2),
         ("double_negation", "It's not as if I'm not looking.", 2),
         ("contrast", "I was happy here for years, but now I'm ready to go.", 1),
         ("time", "Last year I was just curious; this time I'm serious about moving.", 2),
         ("hedge", "I think I'm probably ready for a move, to be honest.", None),
         ("someone_else", "My colleague is only browsing, but I'm actively looking.", 2)),
        (("plain", "I'm open to the right opportunity.", None),
         ("negation", "I'm not actively looking, but I'd hear you out.", 0),
         ("negation", "Not searching, but open to a chat.", 2),
         ("double_negation", "Not that I'm not interested.", 2),
         ("contrast", "Happy where I am, though I'd listen to a strong offer.", 2),
         ("time", "I wasn't open to moving last year, but I am now.", 2),
         ("hedge", "I might be open to something, depending on the team.", None),
         ("someone_else", "Half my team is actively looking; I'm only open to the right thing.", 0)),
        (("plain", "Just curious what's out there, to be honest.", None),
         ("negation", "I'm not really looking to move right now.", 0),
         ("negation", "I'm not planning a change this year, but thanks for thinking of me.", 0),
         ("double_negation", "It's not that I'm unhappy here.", 0),
         ("contrast", "Your role sounds great, but I'm not moving anytime soon.", 1),
         ("time", "I was actively looking last year; these days I'm just browsing.", 0),
         ("hedge", "I'm maybe a little curious, nothing more.", None),
         ("someone_else", "My partner is the one ready for a move; I'm only curious.", 0))),
    "offer": (
        (("plain", "No other processes on my side.", None),
         ("negation", "I don't have any other offers at the moment.", 1),
         ("contrast", "I had an offer, but it fell through.", 1),
         ("contrast", "I was about to sign elsewhere, but it didn't work out.", 2),
         ("time", "I had two offers last spring; nothing on the table now.", 1),
         ("time", "I accepted my current job back in 2021 and I'm still there.", 2),
         ("hedge", "I don't think anything else is coming my way soon.", None),
         ("quantity", "Zero other offers right now.", 1),
         ("someone_else", "My colleague just accepted an offer; I'm not in any process.", 2)),
        (("plain", "I have an offer on the table that expires next Friday.", None),
         ("plain", "Another company wants an answer from me by the end of next week.", None),
         ("negation", "I haven't accepted the other offer yet, but it expires soon.", 2),
         ("double_negation", "It's not like I have no other offers.", 0),
         ("contrast", "I turned down one offer, but another is still open until Friday.", 0),
         ("time", "Last month I had nothing; now there's an offer I must answer soon.", 0),
         ("hedge", "I'll probably have to decide on another offer within a week or two.", None),
         ("quantity", "I need to decide on another offer within ten days.", None),
         ("quantity", "The other offer is good for another 7–10 days.", None),
         ("someone_else", "My friend turned his offer down, but mine expires next Friday.", 0)),
        (("plain", "I've just accepted a position elsewhere, sorry.", None),
         ("plain", "I signed with another company last week.", None),
         ("negation", "I'm not available anymore: I've committed to another company.", None),
         ("contrast", "I was weighing two offers, but I've now taken one.", 1),
         ("time", "I had an offer that expired Friday, and I took it.", 1),
         ("hedge", "I think I've pretty much committed elsewhere, sorry.", None),
         ("someone_else", "My colleague is still deciding, but I already said yes to another offer.", 1))),
    "notice": (
        (("plain", "I could start right away.", None),
         ("plain", "I'm available immediately.", None),
         ("negation", "No notice period on my side.", 1),
         ("double_negation", "It's not like I can't start next week.", 2),
         ("contrast", "My notice is normally three months, but they'll let me go now.", 2),
         ("time", "I used to be on a three-month notice, but I'm free now.", 2),
         ("hedge", "I could probably start within days, I think.", None),
         ("quantity", "A few days is all I'd need.", None),
         ("quantity", "I could start in a week or so.", None),
         ("someone_else", "My teammate has a three-month notice; I have none.", 2)),
        (("plain", "My notice period is one month.", None),
         ("plain", "I'd need about four weeks to wrap up here.", None),
         ("negation", "I can't start before next month.", None),
         ("contrast", "My contract says three months, but they'll let me go after one.", 2),
         ("time", "I had a three-month notice at my last job; here it's a month.", 2),
         ("hedge", "Probably about a month, give or take.", None),
         ("quantity", "I'd need three weeks to hand over.", 2),
         ("quantity", "I'd need 4–6 weeks to wrap up.", None),
         ("quantity", "Thirty days' notice on my side.", None),
         ("someone_else", "My manager needs three months' notice; mine is only one.", 2)),
        (("plain", "I'm on a three-month notice period.", None),
         ("plain", "My contract requires three months' notice.", None),
         ("negation", "I can't leave before the end of the quarter.", None),
         ("contrast", "I'd love to start right away, but my notice is three months.", 0),
         ("time", "I used to be able to leave in a month; the new contract says a quarter.", 1),
         ("hedge", "It would probably take me a couple of months, maybe three.", None),
         ("quantity", "I'd need 2–3 months to leave properly.", None),
         ("quantity", "Twelve weeks' notice, I'm afraid.", 1),
         ("someone_else", "My colleague could start right away, but I need the full quarter.", 0))),
    "salary": (
        (("plain", "My salary expectations are firm.", None),
         ("negation", "I'm not flexible on the salary, unfortunately.", 1),
         ("negation", "The salary is not negotiable for me.", 1),
         ("contrast", "I'm flexible on a lot of things, but not on the salary.", 1),
         ("time", "I was flexible on salary at my last move; not this time.", 1),
         ("hedge", "I'd rather not move on the salary, to be honest.", None),
         ("someone_else", "My friend took a pay cut to join a startup; I won't.", 1)),
        (("plain", "The salary is negotiable for the right team.", None),
         ("plain", "I'm flexible on compensation.", None),
         ("negation", "Money isn't the main thing for me.", None),
         ("negation", "I'm not fixed on a number.", 0),
         ("double_negation", "It's not that I'm not flexible on salary.", 0),
         ("double_negation", "I wouldn't say my number is non-negotiable.", 0),
         ("contrast", "My ask is firm on paper, but I'd move for the right team.", 0),
         ("time", "I used to be firm on salary; these days I'm more relaxed about it.", 0),
         ("hedge", "I could probably move a bit on the salary.", None),
         ("someone_else", "My colleague is firm on his number; I'm not.", 0))),
    "remote": (
        (("plain", "I can only work fully remote.", None),
         ("negation", "I'm not able to commute to an office.", 1),
         ("contrast", "I like your team, but I can't come into an office.", 1),
         ("time", "I used to come into the office twice a week; now I can only work remote.", 1),
         ("hedge", "I'd really need it to be fully remote, I think.", None),
         ("someone_else", "My partner goes into the office daily; I can't.", 1)),
        (("plain", "Fully remote ideally, though occasional office days are fine.", None),
         ("negation", "I'm not strictly remote-only: a day in the office is fine.", 0),
         ("double_negation", "It's not that I could never come in.", 0),
         ("contrast", "I'd prefer remote, but I could come in a day or two a week.", 0),
         ("time", "I couldn't come in last year, but now I can once a week.", 0),
         ("hedge", "I could maybe come in now and then, if needed.", None),
         ("quantity", "I could do one or two office days a month.", None),
         ("someone_else", "My colleague refuses any office days; I'm fine with a few.", 0))),
}
PLEASANTRIES = ("Thanks for reaching out!", "Hope your week is going well.",
                "I saw your team's talk at a conference last spring.", "Could you send me the job description?",
                "My profile should be up to date.", "Thanks for the offer of a call!",
                "I'm looking forward to hearing from you.", "I'm flexible on when we talk.",
                "I can do a call right away.", "Happy to chat again next month.")


def with_filler(fact_phrases: tuple) -> tuple:
    """Each value's phrases plus a filler version of each of its plain ones."""
    def quiet(sentence: str) -> str:   # "Honestly, my notice ..." but "Honestly, I could ..."
        return sentence if sentence.startswith(("I ", "I'")) else sentence[0].lower() + sentence[1:]
    return tuple(phrases + tuple(("filler", filler + quiet(text), None)
                                 for filler in FILLERS for construction, text, _ in phrases if construction == "plain")
                 for phrases in fact_phrases)


TEMPLATES = {fact: with_filler(values) for fact, values in PHRASES.items()}
WORDS = frozenset(word for values in TEMPLATES.values() for phrases in values for _, text, _ in phrases
                  for word in re.findall(r"[a-z]+", text.lower())) | frozenset(
    word for text in PLEASANTRIES for word in re.findall(r"[a-z]+", text.lower()))


@dataclass(frozen=True)
class Hidden:
    """Each candidate's hidden situation (N, K), which facts its reply states and how."""
    values: dict        # fact -> (N, K) int, an index into SHARES[fact] (the pleasantry's into PLEASANTRIES)
    stated: dict        # fact -> (N, K) bool
    construction: dict  # fact -> (N, K) int, an index into CONSTRUCTIONS; -1 where the fact is not stated
    typo: dict          # fact -> (N, K) bool: its sentence carries a typo

    def rows(self, part) -> "Hidden":
        return Hidden(*({name: v[part] for name, v in table.items()}
                        for table in (self.values, self.stated, self.construction, self.typo)))

    def blank(self) -> "Hidden":
        """The same situation behind an empty reply: nothing stated."""
        nothing = {name: np.zeros_like(v) for name, v in self.stated.items()}
        return Hidden(self.values, nothing, {name: np.full_like(v, -1) for name, v in self.construction.items()},
                      nothing)


def sample_hidden(rng: np.random.Generator, remote_only: np.ndarray) -> tuple[Hidden, dict]:
    """Draw the hidden factors, which of them the reply mentions, and the sentence for each. remote_only: (N, K) bool.

    Returns the Hidden record and each fact's chosen template, fact -> (N, K) int index into TEMPLATES[fact][value]."""
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
    # A fact's rank is how many keys are below its own: only a mentioned fact's rank is used, and its key ties with
    # none, so this is the rank two argsorts give, at a quarter of their cost.
    kept = (keys[:, None] < keys[None]).sum(axis=0) < MAX_SENTENCES - 1
    stated = {"intent": mention["intent"], **{f: mention[f] & kept[i] for i, f in enumerate(FACTS[1:])}}
    values["pleasantry"] = rng.integers(len(PLEASANTRIES), size=shape)
    stated["pleasantry"] = mention["pleasantry"] & kept[-1]
    template, construction = {}, {}
    for fact in FACTS:
        template[fact], construction[fact] = _choose_templates(rng, fact, values[fact])
        construction[fact] = np.where(stated[fact], construction[fact], -1)
    typo = {fact: stated[fact] & (rng.random(shape) < TYPO_RATE) for fact in FACTS}
    return Hidden(values, stated, construction, typo), template


def _choose_templates(rng: np.random.Generator, fact: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A template per candidate for its value of `fact`, weighted by construction: (N, K) index and construction."""
    u = rng.random(values.shape)
    index, construction = np.zeros(values.shape, int), np.zeros(values.shape, int)
    for value, phrases in enumerate(TEMPLATES[fact]):
        kinds = [CONSTRUCTIONS.index(c) for c, _, _ in phrases]
        per_kind = np.bincount(kinds, minlength=len(CONSTRUCTIONS))
        weights = np.array([CONSTRUCTION_WEIGHTS[c] / per_kind[k] for k, (c, _, _) in zip(kinds, phrases)])
        here = values == value   # only this value's draws looked up: a third of the searches, no np.where passes
        chosen = np.minimum(np.searchsorted(np.cumsum(weights) / weights.sum(), u[here]), len(phrases) - 1)
        index[here], construction[here] = chosen, np.asarray(kinds)[chosen]
    return index, construction


# Every sentence the grammar writes, as a number: 0 is "" (no sentence), then each fact's templates value by value,
# then the pleasantries. write_messages builds replies from these numbers and makes strings only at the end.
TEXTS = ("",) + tuple(text for fact in FACTS for phrases in TEMPLATES[fact] for _, text, _ in phrases) + PLEASANTRIES


def _first_texts() -> dict:
    """fact -> (values,) the number of each value's first template in TEXTS."""
    first, out = 1, {}
    for fact in FACTS:
        counts = [len(phrases) for phrases in TEMPLATES[fact]]
        out[fact], first = first + np.cumsum([0] + counts[:-1]), first + sum(counts)
    return out


FIRST_TEXT = _first_texts()
FIRST_PLEASANTRY = len(TEXTS) - len(PLEASANTRIES)


def write_messages(rng: np.random.Generator, hidden: Hidden, template: dict) -> tuple[np.ndarray, dict, np.ndarray]:
    """Each candidate's reply, (N, K) str: its stated facts' sentences and pleasantry in a random order; fact ->
    (N, K) bool, the sentences that carry a typo (a drawn typo that would make a grammar word is left out); and the
    replies' sentences, (N, K, len(FACTS) + 1) str in the reply's order, "" after its last (the readers look each
    distinct sentence up once instead of splitting every reply: the reply is their " ".join)."""
    shape = hidden.values["intent"].shape
    names = FACTS + ("pleasantry",)
    number = [FIRST_TEXT[f][hidden.values[f]] + template[f] for f in FACTS] + [
        FIRST_PLEASANTRY + hidden.values["pleasantry"]]
    code = np.stack([np.where(hidden.stated[f], n, 0).ravel() for f, n in zip(names, number)])   # (S, N x K) in TEXTS
    where = rng.random((3, code.shape[1]))   # which word, which letter, swap or drop
    fact, item = np.nonzero(np.stack([hidden.typo[f].ravel() for f in FACTS]))   # the sentences drawn to carry one
    variants, variant = typos(code[fact, item], *where[:, item])
    code[fact, item] = np.where(variant >= 0, len(TEXTS) + variant, code[fact, item])   # each typo numbered after TEXTS
    typo = {f: np.zeros(shape, bool) for f in FACTS}
    for i, f in enumerate(FACTS):
        typo[f].flat[item[fact == i]] = variant[fact == i] >= 0
    # A random order of the reply's sentences, and those it has first: sorting the shuffle's keys with every missing
    # sentence's moved past 1 is the shuffle followed by a stable partition (keys do not tie), in one sort.
    keys = rng.random((len(names),) + shape).reshape(len(names), -1)
    in_order = np.take_along_axis(code, np.argsort(np.where(code == 0, 2.0, keys), axis=0), axis=0).T   # (N x K, S)
    sentences = np.array(TEXTS + tuple(variants), dtype=object)[in_order]
    replies = np.empty(len(in_order), dtype=object)
    said = np.count_nonzero(in_order, axis=1)
    for n in range(len(names) + 1):   # replies of n sentences at once: " ".join mapped over their columns, in C
        rows = np.flatnonzero(said == n)
        replies[rows] = list(map(" ".join, zip(*sentences[rows, :n].T.tolist()))) if n else [""] * len(rows)
    return replies.reshape(shape), typo, sentences.reshape(shape + (len(names),))


class Numbered(NamedTuple):
    """Sentences as their numbers among the distinct ones (number_sentences): what both readers take, so that a
    block's sentences are numbered once for the simulated LLM and the keyword reader."""
    which: np.ndarray       # (m, S) intp: each sentence's number
    distinct: list[str]     # the distinct sentences, as they are first met


def number_sentences(sentences: np.ndarray) -> Numbered:
    """Each sentence's number among the distinct ones, as they are first met (a dict: sorting them, np.unique, costs
    5x more), and the distinct sentences: replies repeat the grammar's few hundred, so a reader reads each once.
    dict.fromkeys finds them and map looks every sentence up, both in C: 2x faster than a setdefault per sentence."""
    flat = sentences.ravel().tolist()
    number = {text: i for i, text in enumerate(dict.fromkeys(flat))}
    which = np.fromiter(map(number.__getitem__, flat), np.intp, len(flat))   # no list of Python ints: 7 MB less
    return Numbered(which.reshape(sentences.shape), list(number))


def numbered(sentences) -> Numbered:
    """Sentences (m, S) str as Numbered; Numbered as they are."""
    return sentences if isinstance(sentences, Numbered) else number_sentences(sentences)


def typos(code: np.ndarray, which: np.ndarray, letter: np.ndarray, kind: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One typo in each sentence TEXTS[code] (m,), in a word of five letters or more: the which-th such word, two
    neighbouring letters swapped (kind < 0.5) or one dropped at letter, never the first letter; never a word of the
    grammar ("form" for "from" would change what a reader may read). Returns the typed sentences, one per distinct
    (sentence, word, letter, swap), and each draw's index among them, -1 where no typo could be written (no long
    word, or it made a grammar word)."""
    words = N_LONG[code]
    word = (which * words).astype(np.intp)                       # which < 1: the word's index, as int() truncates
    start, end = LONG_SPANS[code, word].T
    at = 1 + (letter * (end - start - 2)).astype(np.intp)        # 1 .. len - 2
    swap = kind < 0.5
    # Equal (sentence, word, letter, swap) write the same typo: each distinct one written once.
    key = ((code * LONG_SPANS.shape[1] + word) * (len(max(TEXTS, key=len)) + 1) + at) * 2 + swap
    _, first, inverse = np.unique(np.where(words > 0, key, -1), return_index=True, return_inverse=True)
    typed = [TEXTS[c] if n == 0 else _typed(TEXTS[c], b, e, a, w) for c, n, b, e, a, w in
             zip(*(part[first].tolist() for part in (code, words, start, end, at, swap)))]
    changed = np.array([t != TEXTS[c] for t, c in zip(typed, code[first].tolist())], bool)
    index = np.where(changed, np.cumsum(changed) - 1, -1)
    return [t for t, c in zip(typed, changed) if c], index[inverse.ravel()]


@lru_cache(maxsize=None)   # a few thousand (sentence, word, letter, swap), met again in every block
def _typed(sentence: str, start: int, end: int, at: int, swap: bool) -> str:
    text = sentence[start:end]
    typed = text[:at] + text[at + 1] + text[at] + text[at + 2:] if swap else text[:at] + text[at + 1:]
    if typed.lower() in WORDS:
        return sentence
    return sentence[:start] + typed + sentence[end:]


def _long_word_table() -> tuple[np.ndarray, np.ndarray]:
    """Each sentence of TEXTS's number of words of five letters or more, and their (start, end), (0, 0) after."""
    spans = [[m.span() for m in re.finditer(r"[A-Za-z]{5,}", text)] for text in TEXTS]
    table = np.zeros((len(TEXTS), max(map(len, spans)), 2), np.intp)
    for row, found in zip(table, spans):
        row[:len(found)] = np.reshape(found, (-1, 2))
    return np.array(list(map(len, spans))), table


N_LONG, LONG_SPANS = _long_word_table()
