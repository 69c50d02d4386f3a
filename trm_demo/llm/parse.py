"""A probability out of a chat-completions response: from logprobs, or from a number in the text.

Both are pure functions of the decoded JSON, so they are tested without a server.
"""

from __future__ import annotations

import math
import re

from .request import OUT_OF_RANGE, UNPARSEABLE

# Token spellings vary by tokenizer: " yes", "Yes", "YES", and raw SentencePiece/BPE
# word markers ("▁yes", "Ġyes") on servers that do not decode them.
_WORD_MARKERS = " \t\n\u2581\u0120"
# The whole reply must be one number, optionally a percentage: "0.7", ".7", "1", "70%", "7e-1".
_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(%?)")


def p_yes_from_logprobs(choice: dict) -> float | None:
    """P(yes) = sum of exp(logprob) over the yes variants / the same over yes and no variants.

    Read from the first generated token's top_logprobs (and the token itself). None when the
    choice carries no logprobs or no yes/no variant is among them: the caller then asks for a number.
    """
    try:
        first = choice["logprobs"]["content"][0]
        candidates = [first, *first.get("top_logprobs", [])]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    mass = {"yes": 0.0, "no": 0.0}
    seen = set()
    for entry in candidates:
        token, logprob = _token(entry)
        if token is None or token in seen:   # the chosen token usually repeats in top_logprobs
            continue
        seen.add(token)
        word = token.strip(_WORD_MARKERS).lower()
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else None


def _token(entry) -> tuple[str | None, float]:
    if not isinstance(entry, dict):
        return None, 0.0
    token, logprob = entry.get("token"), entry.get("logprob")
    ok = isinstance(token, str) and isinstance(logprob, (int, float)) and not isinstance(logprob, bool)
    if not ok or not math.isfinite(logprob) or logprob > 0:   # -inf is a valid "impossible"; skip it too
        return None, 0.0
    return token, float(logprob)


def parse_probability(text: str | None) -> tuple[float | None, str | None]:
    """(probability, None) for a reply that is exactly one number in [0, 1] or a percentage in [0 %, 100 %]
    (surrounding whitespace allowed); (None, reason) otherwise. Never a default value."""
    match = _NUMBER.fullmatch((text or "").strip())
    if match is None:
        return None, UNPARSEABLE
    value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    if not 0.0 <= value <= 1.0:
        return None, OUT_OF_RANGE
    return value, None
