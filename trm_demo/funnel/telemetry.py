"""Telemetry: `trm_calls.json`, one record per TRM call (one candidate scored).

Records are streamed to a temporary file chunk by chunk, so memory stays flat
however long the run, and the file is renamed into place only when the run
completes (see atomic.py). The result is one JSON array, one record per line,
that a dashboard or an indexer can ingest as is. Measured (wall-clock) values
sit under each record's "wall_clock" key so that reproducibility checks can
drop them; everything else is the same for the same seed and config.

Size: a record is 483 bytes on average (a 10,000-opportunity run: 80,000 records, 38.7 MB,
3.9 KB per opportunity at 8 candidates) and at most RECORD_BYTES (the grammar's longest reply,
417 characters, with every other field at its widest). The file therefore holds the first
FULL_CALLS calls in full and then a systematic sample, every SAMPLE_EVERY-th call after them:
at most `max_bytes(calls)` = RECORD_BYTES x (FULL_CALLS + (calls - FULL_CALLS) / SAMPLE_EVERY)
(+ the counts element), ~48 MB for the full part and ~39 bytes per opportunity beyond it (1 M
opportunities, 8 M calls: ~86 MB, bound 143 MB). When the sample kicked in, the array's last element is
{"telemetry": {"calls": ..., "written": ..., "full_calls": ..., "sample_every": ...}}
so a reader knows the counts; a run below FULL_CALLS writes every call and no
such element. test_telemetry.py checks the bound on a real run.
"""

from __future__ import annotations

import json
import platform
from json.encoder import encode_basestring_ascii
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from trm_demo import __version__
from trm_demo.atomic import atomic_file
from trm_demo.process import numerics
from trm_demo.results import (CascadeSummary, Changes, ConstructionDepth, Counterfactual, DepthPoint, Evaluation,
                              HoldoutPoint, HurdleMove, Landscape, ReadingExample, ReadingTierSummary, RunInfo,
                              RunResult, Scenario, Selection, SentinelSummary, StrategyResult, ThermostatSummary,
                              TrainingSummary, WallClock, build, downsample)


FULL_CALLS = 100_000   # calls written in full (~48 MB), enough for every run up to 12,500 opportunities
SAMPLE_EVERY = 100     # beyond them, one call in this many (a systematic sample, by call number)
RECORD_BYTES = 800     # the most one record takes (its line and separator); 599 the most in a 10k run, 483 on average
COUNTS_BYTES = 200     # the counts element that ends a sampled file


def max_bytes(calls: int) -> int:
    """The most trm_calls.json takes for a run of `calls` TRM calls: every record written, at its widest."""
    sampled = -(-max(calls - FULL_CALLS, 0) // SAMPLE_EVERY)
    return RECORD_BYTES * (min(calls, FULL_CALLS) + sampled) + COUNTS_BYTES


class CallLog:
    def __init__(self, handle: IO | None):
        self._handle = handle
        self.records = 0   # written
        self.calls = 0     # seen

    @property
    def sampled(self) -> bool:
        return self.calls > self.records

    @property
    def enabled(self) -> bool:
        return self._handle is not None

    def keep(self, count: int) -> np.ndarray:
        """Which of the next `count` calls the file keeps, as positions among them (the first FULL_CALLS of the run,
        then every SAMPLE_EVERY-th): the caller builds the records of those only. Counts the calls as seen."""
        number = self.calls + np.arange(count)
        self.calls += count
        return np.flatnonzero((number < FULL_CALLS) | ((number - FULL_CALLS) % SAMPLE_EVERY == 0))

    def write(self, calls: dict[str, np.ndarray], context: dict, pass_ms_per_candidate: float) -> None:
        """calls: equal-length columns, one row per kept TRM call (`keep`); context: fields shared by the chunk; the
        TRM pass's wall time per candidate goes under "wall_clock", apart from the results.

        Each column is turned into JSON text at once and the records are one join of the columns' texts interleaved
        with the text between them (list slices, no Python per record): 2.3x faster than one string template per
        record, itself 3x faster than a json.dumps per record (the telemetry was a fifth of the simulation's time)."""
        rows = len(next(iter(calls.values())))
        if self._handle is None or rows == 0:
            return
        shared = "".join(", " + json.dumps({key: value})[1:-1] for key, value in context.items())
        names = list(calls)
        between = [f'{{"{names[0]}": '] + [f', "{name}": ' for name in names[1:]] + [
            f'{shared}, "wall_clock": {{"pass_ms_per_candidate": {pass_ms_per_candidate:.4f}}}}},\n']
        width = 2 * len(names) + 1
        pieces = [""] * (rows * width)
        for at, text in enumerate(between):
            pieces[2 * at::width] = [text] * rows
        for at, column in enumerate(calls.values()):
            pieces[2 * at + 1::width] = _json_literals(column)
        self._handle.write((",\n" if self.records else "[\n") + "".join(pieces)[:-2])   # no ",\n" after the last
        self.records += rows


def _json_literals(column: np.ndarray) -> list[str]:
    """The JSON text of every value of a column (finite numbers, booleans, text or None)."""
    if column.dtype == bool:
        return np.where(column, "true", "false").tolist()
    if column.dtype.kind in "iuf":
        return list(map(repr, column.tolist()))   # Python's repr of an int or finite float is valid JSON
    values = column.tolist()
    distinct = set(values)
    if 2 * len(distinct) > len(values) and all(map(str.__instancecheck__, distinct)):
        # Texts mostly distinct (the replies) through json's own encoder in one call, split where the NULs between
        # them were (none in a text, and no backslash: the escape \u0000 cannot be part of another): 1.4x faster.
        joined = "\x00".join(values)
        if joined.count("\x00") == len(values) - 1 and "\\" not in joined:
            return encode_basestring_ascii(joined).replace("\\u0000", '"\x00"').split("\x00")
    text = {value: encode_basestring_ascii(value) if isinstance(value, str) else json.dumps(value)
            for value in distinct}
    return list(map(text.__getitem__, values))


@contextmanager
def call_log(path: str | Path | None) -> Iterator[CallLog]:
    """Yields a CallLog writing to `path` atomically; a disabled log (path None) writes nothing."""
    if path is None:
        yield CallLog(None)
        return
    with atomic_file(path) as handle:
        log = CallLog(handle)
        yield log
        if log.sampled:
            counts = {"calls": log.calls, "written": log.records, "full_calls": FULL_CALLS, "sample_every": SAMPLE_EVERY}
            handle.write(",\n" + json.dumps({"telemetry": counts}))
        handle.write("\n]\n" if log.records else "[]\n")


def run_metrics(cfg, result, training: dict, landscape: dict, command: str, wall_clock: dict,
                evaluation: dict | None = None, changes: dict | None = None) -> RunResult:
    """`demo_metrics.json` as a RunResult: per-strategy totals, the controls and what each earned, the landscape,
    run metadata; with --seeds the multi-seed evaluation, and the config keys that differ from the defaults.

    Series are downsampled to at most 1,000 points so the file stays small for
    any run length; wall-clock values are grouped under "wall_clock"."""
    series_points = 1000
    tl = result.timeline
    return RunResult(
        run=RunInfo(command=command, seed=cfg.simulation.seed, config_hash=cfg.digest(), opportunities=tl.n,
                    planned_opportunities=cfg.simulation.opportunities,
                    candidates_per_opportunity=cfg.market.candidates_per_opportunity,
                    checkpoint=training["checkpoint"], llm=result.readings.report(),
                    versions={"trm_demo": __version__, "numpy": np.__version__, "python": platform.python_version()},
                    numerics=numerics()),
        definitions=DEFINITIONS,
        strategies={key: StrategyResult(**row) for key, row in result.ledger.summary().items()},
        counterfactuals=build(dict[str, Counterfactual], result.counterfactuals),
        scenario=Scenario(tuple(dict(e) for e in cfg.scenario.events)),
        cascade=CascadeSummary(step_cap=training["selected"]["step_cap"] or cfg.model.supervision_steps,
                               measured_trm_error_sd=result.trust.error_sd, reader_bias=result.trust.bias,
                               reader_noise_sd=float(np.sqrt(result.trust.reading_var)),
                               calibration_readings=result.trust.readings,
                               calibration_outcomes=result.trust.outcomes,
                               setup_reads=result.setup.reads, setup_cost=result.setup.cost),
        thermostat=ThermostatSummary(final_hurdle=result.thermostat.hurdle,
                                     moves=sum(h["action"] != "hold" for h in result.thermostat.history),
                                     history=build(tuple[HurdleMove, ...],
                                                   downsample(result.thermostat.history, series_points))),
        sentinel=SentinelSummary(state=result.sentinel.state, llm_spent=result.sentinel.spent,
                                 llm_budget=result.sentinel.budget, events=tuple(result.sentinel.events)),
        frontier=build(tuple[DepthPoint, ...], result.frontier),
        landscape=build(Landscape, landscape),
        training=TrainingSummary(start=training["start"], epochs=len(training["epochs"]),
                                 selected=build(Selection, training["selected"]),
                                 holdout_before=build(tuple[HoldoutPoint, ...], training["holdout_before"]),
                                 holdout_after=build(tuple[HoldoutPoint, ...], training["holdout_after"])),
        wall_clock=WallClock(**wall_clock, trm_pass_ms_per_candidate=result.pass_ms_per_candidate),
        evaluation=None if evaluation is None else build(Evaluation, evaluation),
        changes=None if changes is None else build(Changes, changes),
        reading_trm=None if result.three_tier is None else reading_tier_summary(
            result.three_tier, tl.n * cfg.market.candidates_per_opportunity, cfg.simulation.llm_cost))


def reading_tier_summary(three, candidates: int, llm_cost: float) -> ReadingTierSummary:
    """The reading TRM's tier of a run (simulation.ThreeTier); `candidates`: the run's, each read by trm_reader;
    llm_cost: the configured price of an LLM read."""
    tier, trust = three.tier, three.setup_trust
    return ReadingTierSummary(checkpoint=dict(tier.model.source), step_cap=tier.step_cap,
                              price_per_read=tier.price, llm_bias=trust.bias,
                              llm_noise_sd=float(np.sqrt(trust.reading_var)),
                              llm_price_share=tier.price / llm_cost if llm_cost > 0 else None,
                              base_error_sd=trust.error_sd,
                              setup_reads=tier.setup_reads, trm_reader_reads=candidates,
                              depth=build(tuple[ConstructionDepth, ...], three.depth),
                              examples=build(tuple[ReadingExample, ...], three.examples),
                              bag_of_words_checkpoint=dict(three.bag.source),
                              bag_of_words_price_per_read=three.bag.price)


DEFINITIONS = {
    "expected_net_value": "sum over pursued candidates of P_true x conversion_value, minus every cost: the "
                          "yardstick (free of outcome luck)",
    "net_value": "total_value - total_cost, on the realised outcomes",
    "share_of_oracle_expected": "expected_net_value / the oracle's expected_net_value (a true bound)",
    "share_of_oracle": "net_value / the oracle's net_value (realised; can pass 100 % by luck)",
    "total_cost": "compute_cost + outreach_cost; compute_cost includes llm_cost",
    "llm_reads": "candidates whose reply the LLM read (attempted calls, failed ones included)",
    "roi": "net_value / total_cost", "success_rate": "conversions / opportunities",
}
