"""A run's results, typed: what `demo_metrics.json` holds, as frozen dataclasses.

funnel/telemetry.run_metrics builds a RunResult; `to_dict()` is the JSON, field for field (the field names are
its keys); `RunResult.from_dict` reads such a JSON back (a report re-rendered from a file, tests). The terminal
and the reports read these fields, so a misspelt one fails where it is read, not in a rendered sentence.
Sequences are tuples and records dataclasses; the few open records (the LLM reader's own report, a checkpoint's
identity, the numerics, sentinel events whose keys include "from") stay plain mappings.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any


def downsample(values, max_points: int) -> list:
    """At most max_points evenly spaced items, always keeping the first and the last: a result's long series
    (the hurdle's path) and a chart's points. Pure Python, so the reports need no NumPy: the picks are
    NumPy's linspace(0, n - 1, max_points) rounded half to even, as before."""
    values = list(values)
    if len(values) <= max_points:
        return values
    step = (len(values) - 1) / (max_points - 1)
    picks = sorted({round(i * step) for i in range(max_points - 1)} | {len(values) - 1})
    return [values[i] for i in picks]


# --- one run ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunInfo:
    command: str
    seed: int
    config_hash: str
    opportunities: int            # decided (more than planned when a traffic event raises the rate)
    planned_opportunities: int
    candidates_per_opportunity: int
    checkpoint: dict | None       # {"path", "sha256"} of the weights the run started from; None from scratch
    llm: dict                     # the reader's own report (funnel/reading.py): simulated, or the real endpoint's
    versions: dict
    numerics: dict                # the BLAS kernel and SIMD level decide the TRM's rounding (process.py)

    @property
    def candidates(self) -> int:
        return self.opportunities * self.candidates_per_opportunity


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's totals over the run (funnel/ledger.py); money in dollars per run."""
    attempts: int
    pursued: int
    skipped: int
    conversions: int
    total_value: float
    compute_cost: float
    outreach_cost: float
    total_cost: float
    net_value: float
    expected_net_value: float
    llm_cost: float
    latency_cost: float     # the part of compute_cost paid for waiting on the LLM (sentinel.latency_cost_per_s)
    llm_reads: int
    success_rate: float | None
    conversion_rate: float | None
    roi: float | None
    avg_steps: float | None
    avg_latency_ms: float | None
    fallback_decisions: int
    share_of_oracle_expected: float | None
    share_of_oracle: float | None


@dataclass(frozen=True)
class Replay:
    """The cascade's totals in a replay of the run without one control."""
    expected_net_value: float
    net_value: float
    llm_cost: float
    llm_reads: int
    llm_failures: int


@dataclass(frozen=True)
class Counterfactual:
    """What one control earned: the run minus the replay without it."""
    expected_net_value_delta: float
    net_value_delta: float
    llm_cost_delta: float
    without: Replay


@dataclass(frozen=True)
class Scenario:
    events: tuple[dict, ...]


@dataclass(frozen=True)
class CascadeSummary:
    step_cap: int
    measured_trm_error_sd: float   # the TRM's error spread (logit), fitted on outcomes by the end of the run
    reader_bias: float             # the reader's fitted bias (logit), by the end of the run
    reader_noise_sd: float         # the reader's fitted noise (logit), by the end of the run
    calibration_readings: int      # readings the fit used (set-up and run), of which with an outcome:
    calibration_outcomes: int
    setup_reads: int               # history replies the reader read at set-up (calibration.set_up)
    setup_cost: float              # what they cost, $ (once per deployment; not in the run's figures)


@dataclass(frozen=True)
class ConstructionDepth:
    """The reading TRM's share of a perfect reading's gain after each trained step (funnel/local_reading.py)."""
    construction: str                          # "all", or the replies stating a fact through it
    candidates: int
    share_of_perfect_gain: tuple[float | None, ...]   # one per step; None where a perfect reading gains nothing


@dataclass(frozen=True)
class ReadingExample:
    """One reply with each tier's P(convert) beside the true one."""
    construction: str
    reply: str
    fields_only: float
    keyword: float
    reading_trm: float
    llm: float                   # the simulated LLM's reading, before its noise
    truth: float


@dataclass(frozen=True)
class ReadingTierSummary:
    """The reading TRM's tier (config reading_trm, funnel/local_reading.py): its price, its reads, cascade3's trust."""
    checkpoint: dict             # {"path", "sha256"} of the reading TRM's weights (used as shipped, not fine-tuned)
    step_cap: int                # the checkpoint's selected cap
    price_per_read: float        # $ per read: the TRM's step price x its FLOPs per step over the tabular TRM's
    llm_bias: float              # cascade3's trust at set-up: the LLM's bias against the tier's belief (logit)
    llm_noise_sd: float          # the LLM's noise there (logit)
    llm_price_share: float | None   # price_per_read / simulation.llm_cost (None: a free LLM)
    base_error_sd: float         # the tier's belief's error spread that fit found (logit)
    setup_reads: int             # history replies it read at set-up (its calibration)
    trm_reader_reads: int        # candidates trm_reader had it read (every one; cascade3 reads the same)
    depth: tuple[ConstructionDepth, ...]   # on the run's first opportunities (local_reading.DEPTH_OPPORTUNITIES)
    examples: tuple[ReadingExample, ...]   # the first reply through each construction
    # bow_reader's bag of words (funnel/bag_of_words.py; None in a JSON written before it): {"path", "sha256"} of
    # its checkpoint, and its $ per read, priced by its FLOPs as the reading TRM is
    bag_of_words_checkpoint: dict | None = None
    bag_of_words_price_per_read: float | None = None


@dataclass(frozen=True)
class HurdleMove:
    opportunity: int
    elapsed: float
    spent: float
    shadow_hurdle: float | None
    hurdle: float
    action: str


@dataclass(frozen=True)
class ThermostatSummary:
    final_hurdle: float
    moves: int
    history: tuple[HurdleMove, ...]   # downsampled to at most 1,000 points


@dataclass(frozen=True)
class SentinelSummary:
    state: str
    llm_spent: float
    llm_budget: float
    events: tuple[dict, ...]          # {"opportunity", "state", "from", "reason"}


@dataclass(frozen=True)
class DepthPoint:
    """The TRM alone at one fixed step cap, on the landscape's sample."""
    step_cap: int
    expected_net_value: float
    compute_cost: float
    pursued: int
    opportunities: int


# --- the landscape: where each strategy wins ------------------------------------------------------------

@dataclass(frozen=True)
class DeferralCurve:
    share_read: tuple[float, ...]
    share_of_oracle_expected: dict[str, tuple[float | None, ...]]   # order ("voi", "top_k", "random", "oracle") -> curve
    trm_alone: float | None
    note: str


@dataclass(frozen=True)
class BreakEvenCell:
    """One (value per placement, LLM price) of the map: every strategy's expected net value per opportunity, as a
    mean over the map's seeds (one seed: no interval)."""
    conversion_value: float                # $ per placement
    llm_price: float                       # $ per read
    per_opportunity: dict[str, Interval]   # strategy key -> expected net value, $ per opportunity
    cascade_share_read: float              # share of candidates the cascade read (mean over the seeds)
    best: str                              # the rival with the highest mean
    runner_up: str
    lead_per_opportunity: Interval         # best minus runner-up, $ per opportunity, paired seed by seed

    def value_of(self, key: str) -> float:
        return self.per_opportunity[key].mean


@dataclass(frozen=True)
class Economics:
    conversion_value: float     # $ per placement
    llm_price: float            # $ per read


@dataclass(frozen=True)
class BreakEvenMap:
    prices: tuple[float, ...]   # $ per read
    values: tuple[float, ...]   # $ per placement
    cells: tuple[BreakEvenCell, ...]
    seeds: int                  # the seeds each cell averages (--seeds, else 1: this run's)
    default: Economics          # this run's economics: a cell of the map


@dataclass(frozen=True)
class Landscape:
    opportunities: int
    deferral: DeferralCurve
    break_even: BreakEvenMap
    reader: str = "simulated"   # who read in the replays: the simulated LLM, even when the run's reader is real


# --- training ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """What the validation split chose."""
    epoch: int | None
    step_cap: int | None
    validation_log_loss: float | None


@dataclass(frozen=True)
class HoldoutPoint:
    step: int
    log_loss: float
    excess_log_loss: float
    accuracy: float


@dataclass(frozen=True)
class TrainingSummary:
    start: str
    epochs: int
    selected: Selection
    holdout_before: tuple[HoldoutPoint, ...]
    holdout_after: tuple[HoldoutPoint, ...]


# --- the multi-seed evaluation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """A mean and its 95 % Student-t interval (funnel/evaluation.mean_ci); one value has no interval."""
    mean: float | None
    ci95: tuple[float, float] | None
    half_width: float | None
    n: int


@dataclass(frozen=True)
class StrategyIntervals:
    expected_net_value: Interval
    net_value: Interval
    share_of_oracle_expected: Interval
    llm_reads: Interval
    llm_cost: Interval


@dataclass(frozen=True)
class Evaluation:
    seeds: int
    strategies: dict[str, StrategyIntervals]
    paired: dict[str, Interval]           # "a-b" -> a's expected net value minus b's, seed by seed
    counterfactuals: dict[str, Interval]  # control -> its expected net value delta
    per_seed_expected_net_value: dict[str, tuple[float, ...]]
    seed_list: tuple[int, ...]
    verdicts: tuple[str, ...]             # the paired differences in words (report/formats.verdicts)


# --- the config the run used --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangedKey:
    key: str
    default: Any
    value: Any
    set_by: str


@dataclass(frozen=True)
class Changes:
    config_file: str | None
    flags: tuple[str, ...]
    keys: tuple[ChangedKey, ...]


@dataclass(frozen=True)
class WallClock:
    """Measured, so apart from the results: reproducibility checks drop it."""
    simulation_seconds: float
    training_seconds: float
    trm_pass_ms_per_candidate: float
    total_seconds: float
    date: str


# --- the whole result ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    run: RunInfo
    definitions: dict[str, str]
    strategies: dict[str, StrategyResult]        # strategy key (trm_demo/strategies.py) -> totals
    counterfactuals: dict[str, Counterfactual]   # control -> what it earned
    scenario: Scenario
    cascade: CascadeSummary
    thermostat: ThermostatSummary
    sentinel: SentinelSummary
    frontier: tuple[DepthPoint, ...]
    landscape: Landscape
    training: TrainingSummary
    wall_clock: WallClock
    evaluation: Evaluation | None = None         # only with --seeds
    changes: Changes | None = None
    reading_trm: ReadingTierSummary | None = None   # only with reading_trm.enabled

    def to_dict(self) -> dict:
        """The JSON of demo_metrics.json: every field under its name; a run without --seeds has no evaluation,
        one without the reading TRM's tier no reading_trm."""
        data = dataclasses.asdict(self)
        return {key: value for key, value in data.items()
                if value is not None or key not in ("evaluation", "changes", "reading_trm")}

    @classmethod
    def from_dict(cls, data: dict) -> RunResult:
        """A parsed demo_metrics.json as a RunResult; a missing or unknown key raises TypeError."""
        return build(cls, data)


@functools.cache
def _hints(kind) -> dict:
    # get_type_hints evaluates every string annotation again on each call: 423 calls, ~0.15 s of a run (issue 24)
    return typing.get_type_hints(kind)


def build(kind, data):
    """`data` (parsed JSON) as `kind`, a type hint: dataclasses field by field, tuples and dicts item by item."""
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{name: build(hints.get(name, Any), value) for name, value in data.items()})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):   # X | None
        return None if data is None else build(next(a for a in args if a is not type(None)), data)
    if origin is tuple:
        return tuple(build(args[0], item) for item in data)
    if origin is dict:
        return {key: build(args[1], value) for key, value in data.items()}
    return data
