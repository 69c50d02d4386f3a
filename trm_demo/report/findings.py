"""What a run's numbers say, as numbers and enums: the dossier (dossier.py) and the terminal (ui.py) only word it.

Each finding is computed from the typed results (trm_demo/results.py): which strategy wins at the run's
economics and where that changes on the break-even map, whether a paired difference is significant, what depth
bought, how the cascade degrades across the map, how much reading the deferral curve needs, and which measured
figures a changed config key drives. Tests assert on these, not on sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from trm_demo.results import (BreakEvenCell, BreakEvenMap, DeferralCurve, DepthPoint, HoldoutPoint, HurdleMove,
                              Interval, RunResult)
from trm_demo.strategies import RIVALS

# A deeper step cap must beat the shallowest by more than this share of expected net value to count.
DEPTH_TOLERANCE = 0.01
# The deferral curve's finding: the share read at which an order has this much of reading's whole gain.
GAIN_SHARE = 0.9
# Held-out excess log-loss within this fraction of its best value counts as "settled" (the log
# carries no standard error).
LOG_LOSS_TOLERANCE = 0.05


def known(x: float | None) -> bool:
    """A measured number: a result's float fields are None where undefined (and never text)."""
    return x is not None and math.isfinite(x)


# --- who wins ---------------------------------------------------------------------------------------------

def ranking(result: RunResult) -> list[str]:
    """The rivals (not the oracle: a yardstick) by expected net value, best first; stable, so on a tie the
    strategies' own order decides. A strategy this version does not know ranks after the known ones' order."""
    s = result.strategies
    rivals = [k for k in RIVALS if k in s] + [k for k in s if k not in RIVALS and k != "oracle"]
    return sorted(rivals, key=lambda k: -s[k].expected_net_value)


def read_share(result: RunResult, key: str = "cascade") -> float:
    """The share of all candidates whose reply the strategy (the cascade by default) had the LLM read."""
    candidates = result.run.candidates
    return result.strategies[key].llm_reads / candidates if candidates else math.nan


# --- a paired difference over seeds ---------------------------------------------------------------------

class Significance(Enum):
    ONE_SEED = "one seed: no interval"
    NOT_SIGNIFICANT = "the interval includes zero"
    AHEAD = "a beats b: the interval is above zero"
    BEHIND = "a trails b: the interval is below zero"


@dataclass(frozen=True)
class Comparison:
    """a's expected net value minus b's, seed by seed."""
    a: str
    b: str
    mean: float
    half_width: float | None
    seeds: int
    significance: Significance


def comparison(pair: str, diff: Interval) -> Comparison:
    """pair: 'a-b'; significant only when the 95 % interval excludes zero."""
    a, b = pair.split("-")
    if diff.half_width is None:
        significance = Significance.ONE_SEED
    elif abs(diff.mean) <= diff.half_width:
        significance = Significance.NOT_SIGNIFICANT
    else:
        significance = Significance.AHEAD if diff.mean > 0 else Significance.BEHIND
    return Comparison(a, b, diff.mean, diff.half_width, diff.n, significance)


def comparisons(paired: dict[str, Interval]) -> list[Comparison]:
    return [comparison(pair, diff) for pair, diff in paired.items()]


def lead_over_seeds(result: RunResult, first: str, second: str) -> Comparison | None:
    """The winner's paired lead over the runner-up across the seeds, when the evaluation measured that pair (either
    way round)."""
    if result.evaluation is None:
        return None
    paired = result.evaluation.paired
    diff = paired.get(f"{first}-{second}")
    if diff is None and f"{second}-{first}" in paired:   # measured the other way round: the cascade minus a rival
        other = paired[f"{second}-{first}"]
        diff = Interval(-other.mean if known(other.mean) else None,
                        (-other.ci95[1], -other.ci95[0]) if other.ci95 else None, other.half_width, other.n)
    if diff is None or not (known(diff.mean) and known(diff.half_width)):
        return None
    return comparison(f"{first}-{second}", diff)


# --- the break-even map: where the winner changes --------------------------------------------------------

@dataclass(frozen=True)
class Neighbour:
    best: str
    at: float


@dataclass(frozen=True)
class Span:
    """Along one axis of the map, around this run's point: who wins, over which range, and who wins next."""
    best: str
    low: float
    high: float
    everywhere: bool                 # the winner holds over the whole axis
    below: Neighbour | None
    above: Neighbour | None


def span(line: list[BreakEvenCell], axis: str, here: float) -> Span:
    """line: the cells along `axis` ("llm_price" or "conversion_value"), in order."""
    at = [getattr(c, axis) for c in line]
    i = at.index(here)
    best = line[i].best
    lo = i
    while lo > 0 and line[lo - 1].best == best:
        lo -= 1
    hi = i
    while hi < len(line) - 1 and line[hi + 1].best == best:
        hi += 1
    return Span(best, at[lo], at[hi], lo == 0 and hi == len(line) - 1,
                Neighbour(line[lo - 1].best, at[lo - 1]) if lo > 0 else None,
                Neighbour(line[hi + 1].best, at[hi + 1]) if hi < len(line) - 1 else None)


def nearest_cell(grid: BreakEvenMap) -> tuple[float, float]:
    """The map's (conversion value, LLM price) nearest this run's economics, on log scales."""
    def near(options, target):
        return min(options, key=lambda o: abs(math.log(o / target)) if o > 0 and target > 0 else abs(o - target))
    return near(grid.values, grid.default.conversion_value), near(grid.prices, grid.default.llm_price)


@dataclass(frozen=True)
class WhereItChanges:
    value: float          # the map's point nearest this run
    price: float
    by_price: Span        # along the LLM price at that value
    by_value: Span        # along the value at that price


def where_it_changes(grid: BreakEvenMap) -> WhereItChanges | None:
    if not grid.cells:
        return None
    value, price = nearest_cell(grid)
    by_price = sorted((c for c in grid.cells if c.conversion_value == value), key=lambda c: c.llm_price)
    by_value = sorted((c for c in grid.cells if c.llm_price == price), key=lambda c: c.conversion_value)
    return WhereItChanges(value, price, span(by_price, "llm_price", price), span(by_value, "conversion_value", value))


def lead(cell: BreakEvenCell) -> Comparison:
    """The cell's winner against its runner-up, paired over the map's seeds ($ per opportunity)."""
    return comparison(f"{cell.best}-{cell.runner_up}", cell.lead_per_opportunity)


@dataclass(frozen=True)
class Degradation:
    """Where the cascade becomes one of its halves, and how far it ever falls below the best other rival."""
    most_read: BreakEvenCell
    fewest_read: BreakEvenCell
    wins: dict[str, tuple[BreakEvenCell, ...]]   # rival other than the cascade -> the cells it wins (only those that win any)
    cascade_everywhere: bool
    worst: BreakEvenCell                         # the cell where the cascade is furthest below the best other rival
    worst_rival: str                             # that rival
    shortfall: float                             # $ per opportunity; <= 0: the cascade never fell below


def degradation(grid: BreakEvenMap) -> Degradation:
    cells = grid.cells
    others = [key for key in RIVALS if key != "cascade" and all(key in c.per_opportunity for c in cells)]
    wins = {key: tuple(c for c in cells if c.best == key) for key in others}

    def best_other(c: BreakEvenCell) -> str:
        return max(others, key=c.value_of)
    worst = max(cells, key=lambda c: c.value_of(best_other(c)) - c.value_of("cascade"))
    rival = best_other(worst)
    return Degradation(most_read=max(cells, key=lambda c: c.cascade_share_read),
                       fewest_read=min(cells, key=lambda c: c.cascade_share_read),
                       wins={key: won for key, won in wins.items() if won},
                       cascade_everywhere=all(c.best == "cascade" for c in cells), worst=worst, worst_rival=rival,
                       shortfall=worst.value_of(rival) - worst.value_of("cascade"))


# --- the deferral curve ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deferral:
    """How much reading each order needs for GAIN_SHARE of reading's whole gain (None: never reached)."""
    reading_adds: bool          # False: reading every reply made no more than reading none
    voi: float | None           # share of candidates read in the cascade's (VOI) order
    random: float | None


def deferral(curve: DeferralCurve) -> Deferral:
    shares, lines = curve.share_read, curve.share_of_oracle_expected
    voi = lines.get("voi", ())
    if len(voi) < 2 or not all(known(v) for v in (voi[0], voi[-1])) or voi[-1] <= voi[0]:
        return Deferral(False, None, None)
    target = voi[0] + GAIN_SHARE * (voi[-1] - voi[0])

    def needed(name):
        return next((x for x, v in zip(shares, lines.get(name, ())) if known(v) and v >= target), None)
    return Deferral(True, needed("voi"), needed("random"))


# --- depth: what recursion bought ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Depth:
    """Did a deeper step cap buy more than this run can tell from noise?

    Depth cannot make the TRM worse on average, so a deeper cap that made *less* than a shallower one measures
    the noise between caps in this run: the yardstick is the largest such drop, and at least DEPTH_TOLERANCE of
    the best value."""
    best_cap: int
    gain: float                  # the best cap's expected net value minus step 1's
    noise: float
    largest_drop: float | None   # None: no deeper cap made less than a shallower one
    enough_cap: int              # the shallowest cap within the noise of the best
    paid: bool                   # the shallowest cap good enough is deeper than step 1


def depth(frontier: tuple[DepthPoint, ...]) -> Depth | None:
    """None for a single cap (nothing to compare)."""
    if len(frontier) < 2:
        return None
    values = [r.expected_net_value for r in frontier]
    best = max(frontier, key=lambda r: r.expected_net_value)
    drops = [max(values[:i]) - v for i, v in enumerate(values) if i and v < max(values[:i])]
    noise = max([*drops, DEPTH_TOLERANCE * abs(best.expected_net_value)])
    enough = next(r for r in frontier if best.expected_net_value - r.expected_net_value <= noise)
    return Depth(best.step_cap, best.expected_net_value - values[0], noise, max(drops) if drops else None,
                 enough.step_cap, enough is not frontier[0])


@dataclass(frozen=True)
class Settling:
    """How held-out excess log-loss after fine-tuning moved with depth."""
    start: float           # at step 1
    last: float            # at the last step
    last_step: int
    lowest: float
    settled_step: int      # the first step within LOG_LOSS_TOLERANCE of the lowest
    still_improving: bool  # that step is the last one


def settling(after: tuple[HoldoutPoint, ...]) -> Settling | None:
    """None when there is nothing to say (no held-out curve, or a perfect model at step 1)."""
    if not after or after[0].excess_log_loss <= 0:
        return None
    lowest = min(p.excess_log_loss for p in after)
    settled = next(p for p in after if p.excess_log_loss - lowest <= LOG_LOSS_TOLERANCE * lowest)
    return Settling(after[0].excess_log_loss, after[-1].excess_log_loss, after[-1].step, lowest, settled.step,
                    settled is after[-1])


def halting_helps(rows: list[dict]) -> list[float]:
    """The halt thresholds (training log rows) at which the halting head beat both random stopping at the same
    mean depth and the nearest fixed cap by more than LOG_LOSS_TOLERANCE."""
    return [r["halt_threshold"] for r in rows
            if r["halting_head"] < min(r["random_stopping"], r["fixed_cap_excess"]) * (1 - LOG_LOSS_TOLERANCE)]


# --- the controls: where the hurdle went ------------------------------

@dataclass(frozen=True)
class HurdlePath:
    first: float
    last: float
    high: float
    peak_at: int | None    # the opportunity where it first peaked; None: it held all period


def hurdle_path(history: tuple[HurdleMove, ...]) -> HurdlePath:
    hurdles = [h.hurdle for h in history]
    high = max(hurdles)
    peak = None if min(hurdles) == high else next(h.opportunity for h in history if h.hurdle == high)
    return HurdlePath(hurdles[0], hurdles[-1], high, peak)


# --- a changed config key: which measured figures it drives ---------------------------------------------------

class Drives(Enum):
    """The run's measured figures a config knob moves (the report words each next to a changed key)."""
    NET_VALUE = "every strategy's expected net value and the winner"
    CASCADE = "the cascade's reads, spend and measured TRM error"
    LLM = "the LLM's reads and spend"
    OUTREACH = "how many candidates each strategy pursued"
    COMPUTE = "compute cost"
    THERMOSTAT = "the hurdle and the thermostat against its fixed floor"
    SENTINEL = "the breaker, LLM spend and the guardrails against none"
    BUDGET = "LLM spend and what the budget cost"
    SCENARIO = "the events and each control against its replay"
    TRAINING = "held-out excess log-loss and the TRM's expected net value"
    READER = "which LLM reader read"
    RIVALS = "the shortlist rivals' reads and expected net value"
    READING_TIER = "the reading TRM's strategies against the cascade and the keyword reader"


# Config key prefix -> what it drives; the longest matching prefix wins (a new knob family: one line).
DRIVEN_BY = {"thermostat.": Drives.THERMOSTAT, "sentinel.": Drives.SENTINEL,
             "sentinel.llm_budget_per_opportunity": Drives.BUDGET, "scenario.": Drives.SCENARIO,
             "cascade.": Drives.CASCADE, "simulation.llm_": Drives.LLM, "simulation.outreach_cost": Drives.OUTREACH,
             "simulation.conversion_value": Drives.NET_VALUE, "simulation.trm_": Drives.COMPUTE,
             "simulation.greedy_cost": Drives.COMPUTE, "simulation.opportunities": Drives.NET_VALUE,
             "simulation.seed": Drives.NET_VALUE, "simulation.chunk_size": Drives.THERMOSTAT,
             "market.": Drives.NET_VALUE, "training.": Drives.TRAINING, "model.": Drives.TRAINING,
             "llm.": Drives.READER, "rivals.": Drives.RIVALS, "reading_trm.": Drives.READING_TIER}


def drives(key: str) -> Drives | None:
    """What this run measured that the key drives; None: not measured separately."""
    prefix = max((p for p in DRIVEN_BY if key.startswith(p)), key=len, default=None)
    return DRIVEN_BY[prefix] if prefix else None
