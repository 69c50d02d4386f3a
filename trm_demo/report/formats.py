"""The one way figures and strategies are written, in the terminal, both reports and the benchmark page.

A missing or non-finite figure is "n/a" (ASCII: the terminal may not have a UTF-8 locale). Each strategy has
one full name, one short name and one phrase for sentences (STRATEGY_NAMES), and the multi-seed verdicts are
written here from the funnel's numbers (`verdicts`).
"""

from __future__ import annotations

import math

MISSING = "n/a"


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def money(x, places: int | None = None) -> str:
    """Dollars with thousands separators; by default 4 places below $1, as compute costs are
    fractions of a cent per call, else 2."""
    if not finite(x):
        return MISSING
    places = (4 if 0 < abs(x) < 1 else 2) if places is None else places
    return f"{'-' if x < 0 else ''}${abs(x):,.{places}f}"


def signed(x, places: int | None = None) -> str:
    """money() with its sign always shown: '+$54.27', '-$21.64'."""
    return ("+" if finite(x) and x >= 0 else "") + money(x, places)


def pct(x, places: int = 1) -> str:
    """A fraction as a percentage: pct(0.125) == '12.5%'."""
    return f"{100 * x:.{places}f}%" if finite(x) else MISSING


def num(x, places: int = 2) -> str:
    return f"{x:,.{places}f}" if finite(x) else MISSING


def count(n: int, noun: str) -> str:
    """'1 event', '2 events': English plurals of the nouns the reports use (all take an s)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def value(x) -> str:
    """A config value as a person types it in YAML: 45 not 45.0, true not True."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        return f"{x:g}" if abs(x) >= 1e-4 or x == 0 else repr(x)
    return str(x)


# --- the strategies' names ----------------------------------------------------------------------------

# key, full name (table rows), short name (narrow tables, the break-even map's cells, paired differences),
# phrase (in a sentence). In the order a reader compares them: the cascade and its two halves first, the oracle
# (a yardstick, not a rival) last. The LLM is named for what it does, not for which reader did it: the run's
# LLM line (terminal) and reproducibility footer (report) say simulated, or the real provider and model.
STRATEGY_NAMES = (("cascade", "Cascade (TRM + LLM)", "Cascade", "the cascade"),
                  ("trm", "TRM alone", "TRM alone", "the TRM alone"),
                  ("llm", "LLM reads everyone", "LLM alone", "the LLM reading everyone"),
                  ("logistic", "Logistic regression", "Logistic", "the logistic regression"),
                  ("greedy", "Greedy rule of thumb", "Greedy", "the greedy rule of thumb"),
                  ("oracle", "Oracle (upper bound)", "Oracle", "the oracle"))
ORDER = tuple(key for key, _, _, _ in STRATEGY_NAMES)
FULL = {key: full for key, full, _, _ in STRATEGY_NAMES}
SHORT = {key: short for key, _, short, _ in STRATEGY_NAMES}
PHRASE = {key: phrase for key, _, _, phrase in STRATEGY_NAMES}


def pair_name(pair: str) -> str:
    """A paired difference's key as a label: 'cascade-llm' -> 'Cascade − LLM alone' (a minus b)."""
    a, b = pair.split("-")
    return f"{SHORT.get(a, a)} − {SHORT.get(b, b)}"


# --- the multi-seed verdicts ----------------------------------------------------------------------------

def verdict(diff: dict, what: str, per: str) -> str:
    """A sentence chosen by the numbers (diff: a mean_ci dict; what: 'a vs b'): significant only when the
    interval excludes zero."""
    mean, half = diff["mean"], diff["half_width"]
    if half is None:
        return f"{what}: {signed(mean, 0)} {per} (one seed: no interval)"
    if abs(mean) <= half:
        return (f"{what}: no significant difference ({signed(mean, 0)} ± {money(half, 0)} {per} "
                f"over {diff['n']} seeds)")
    word = "beats" if mean > 0 else "trails"
    return (f"{what.replace(' vs ', f' {word} ')} by {money(abs(mean), 0)} ± {money(half, 0)} {per} "
            f"over {diff['n']} seeds")


def verdicts(paired: dict) -> list[str]:
    """One sentence per paired difference of expected net value ({'cascade-llm': mean_ci of a - b, ...}), in
    its order."""
    return [verdict(diff, " vs ".join(PHRASE.get(k, k) for k in pair.split("-")), "expected net value per run")
            for pair, diff in paired.items()]
