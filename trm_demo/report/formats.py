"""The one way figures and strategies are written, in the terminal, both reports and the benchmark page.

A missing or non-finite figure is "n/a" (ASCII: the terminal may not have a UTF-8 locale). Each strategy's
names are its record's (trm_demo/strategies.py), and the multi-seed verdicts are written here from the paired
differences' findings (report/findings.py).
"""

from __future__ import annotations

import math
from enum import Enum

from trm_demo.report.findings import Comparison, Significance, comparisons
from trm_demo.results import Interval, build
from trm_demo.strategies import strategy

MISSING = "n/a"


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class Per(Enum):
    """What a money figure counts, written after it. The convention: totals over the run are per run, rates are per
    opportunity (the break-even map, the budget, the depth frontier on the landscape's sample), prices per read and
    values per placement. A table cell is CELL: its column header, row header or title names the unit."""
    RUN = " per run"
    OPPORTUNITY = " per opportunity"
    READ = " per read"
    CANDIDATE = " per candidate"
    PLACEMENT = " per placement"
    CELL = ""


def money(x, per: Per, places: int | None = None) -> str:
    """Dollars with thousands separators and their unit; by default 4 places below $1, as compute costs are
    fractions of a cent per call, else 2."""
    if not finite(x):
        return MISSING
    places = (4 if 0 < abs(x) < 1 else 2) if places is None else places
    return f"{'-' if x < 0 else ''}${abs(x):,.{places}f}{per.value}"


def signed(x, per: Per, places: int | None = None) -> str:
    """money() with its sign always shown: '+$54.27 per run', '-$21.64 per run'."""
    return ("+" if finite(x) and x >= 0 else "") + money(x, per, places)


def plus_minus(mean, half_width, per: Per, places: int | None = None, sign: bool = False) -> str:
    """A mean and its 95 % half-width, the unit once after both: '$741 ± $88 per run'; the mean alone without an
    interval."""
    first = (signed if sign else money)(mean, Per.CELL, places)
    if not finite(half_width):
        return first + per.value if finite(mean) else MISSING
    return f"{first} ± {money(half_width, per, places)}"


def price(x, per: Per = Per.READ) -> str:
    """An LLM price per read: cents, not the 4 places money() gives compute costs below $1."""
    return money(x, per, 2) if finite(x) and abs(x) >= 0.01 else money(x, per)


def printable(text, keep: str = "") -> str:
    """What a user typed (a file name, a model name, a config value), safe to show: a control character (an
    escape sequence that retitles or clears a terminal, a newline that forges a line or a Markdown block) is
    written as its escape, never sent; `keep`: the ones the program's own text may hold."""
    return "".join(ch if ch.isprintable() or ch in keep else ch.encode("unicode_escape").decode("ascii")
                   for ch in str(text))


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


# --- the strategies' names (their records: trm_demo/strategies.py) --------------------------------------

def pair_name(pair: str) -> str:
    """A paired difference's key as a label: 'cascade-llm' -> 'Cascade − LLM alone' (a minus b)."""
    a, b = pair.split("-")
    return f"{strategy(a).short} − {strategy(b).short}"


# --- the multi-seed verdicts ----------------------------------------------------------------------------

def verdict(diff: Comparison, per: Per, what: str = "expected net value") -> str:
    """A paired difference in a sentence: 'a beats b by ...', or no significant difference."""
    a, b = strategy(diff.a).phrase, strategy(diff.b).phrase
    if diff.significance is Significance.ONE_SEED:
        return f"{a} vs {b}: {signed(diff.mean, per, 0)} of {what} (one seed: no interval)"
    if diff.significance is Significance.NOT_SIGNIFICANT:
        return (f"{a} vs {b}: no significant difference in {what} "
                f"({plus_minus(diff.mean, diff.half_width, per, 0, sign=True)} over {diff.seeds} seeds)")
    word = "beats" if diff.significance is Significance.AHEAD else "trails"
    return (f"{a} {word} {b} by {plus_minus(abs(diff.mean), diff.half_width, per, 0)} of {what} "
            f"over {diff.seeds} seeds")


def verdicts(paired: dict) -> list[str]:
    """One sentence per paired difference of expected net value per run ({'cascade-llm': mean_ci of a - b, ...}),
    in its order."""
    return [verdict(diff, Per.RUN) for diff in comparisons(build(dict[str, Interval], paired))]
