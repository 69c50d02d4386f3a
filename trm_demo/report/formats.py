"""The one way figures are written, in the terminal and in both reports.

A missing or non-finite figure is "n/a" (ASCII: the terminal may not have a UTF-8 locale).
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
