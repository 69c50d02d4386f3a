"""The conversion funnel: every strategy decides every opportunity on the same random numbers.

All share one decision rule: pursue the candidate with the best estimated P(convert)
if its expected value beats the outreach cost, else skip the job. One uniform draw
per (opportunity, candidate) settles every strategy's outcome (common random
numbers), and because the true probability is known every decision also has an
expected value: the yardstick for comparisons, free of outcome luck.

  greedy         a recruiter's rule of thumb: the cheapest candidate (ask / budget) among those
                 within budget and with the minimum experience; ignores distance, remote-only,
                 competing offers and the reply. No probability, so it never skips a job it can fill.
  logistic       logistic regression on the recent log's structured fields (logistic.py).
  trm            the fine-tuned TRM on the same fields, at its validated step cap.
  cascade        the keyword reader's belief (the TRM's logit + keyword flags of the reply, free) decides;
                 the LLM reads only where the reading is worth its price (cascade.py), under the
                 thermostat (budget pacing) and the sentinel (guardrails).
  the rivals     keyword, llm_shortlist, router_topk and llm (reads everyone): see "the rivals" below.
  trm_reader,    with reading_trm.enabled, the reading TRM's tier (local_reading.py): the TRM and the reading TRM
  cascade3       reading every candidate; the cascade with the reading TRM read first where it pays;
  bow_reader     and its rival, the TRM and the bag-of-words reader (bag_of_words.py) reading every candidate.
  oracle         the true probability: the upper bound.

The LLM is simulated by default (simulated_llm.py reads the text, plus Gaussian noise `llm_noise` +
`llm_bias` on its logit).

The run's controls are replayed on the same opportunities without each of them
(the hurdle held at the best fixed hurdle chosen on held-out seeds, `thermostat.replay_hurdle`;
the sentinel off), so the report can say what each earned, in expected dollars. Scenario events (config `scenario`)
change the LLM price, cut the LLM off, move the market or change traffic mid-run.
No decision depends on the wall clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from trm_demo.funnel.calibration import Calibration, Labelled, SetUp, Trust, set_up, surprise, trusted_on
from trm_demo.funnel.cascade import belief_from_estimate, combine, expected_probability, logit, value_of_reading
from trm_demo.config import Config, ThermostatConfig
from trm_demo.funnel.ledger import Ledger
from trm_demo.trm.engine import halting_steps, sigmoid
from trm_demo.trm.logistic import Logistic
from trm_demo import memo
from trm_demo.funnel.bag_of_words import BagTier, load_bag_tier
from trm_demo.funnel.keyword import KeywordReader, design_width, fit_keyword_reader, flags_of_sentences
from trm_demo.funnel.local_reading import (DEPTH_OPPORTUNITIES, ReadingTier, depth_by_construction, load_tier,
                                           read_with_depth, reading_examples)
from trm_demo.funnel.market import Market, labelled_history, sample_market, squash
from trm_demo.funnel.messages import number_sentences
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.sentinel import Sentinel
from trm_demo.funnel.simulated_llm import text_readings
from trm_demo.funnel.telemetry import CallLog
from trm_demo.funnel.thermostat import Thermostat
from trm_demo.strategies import STRATEGIES, Recording, recorded
from trm_demo.trm.training import PROB_EPS
from trm_demo.trm.weights import TRM

FUNNEL_BLOCK = 4096   # opportunities generated at once; their candidates are scored in SUB_BATCH slices
SUB_BATCH = 2048   # candidates per model call in the TRM pass: 3.3x less peak memory, a little faster
LANDSCAPE_OPPORTUNITIES = 500   # the deferral curve and break-even map replay this many (landscape.py)


# --- the period: what happens when (scenario events) ---

@dataclass(frozen=True)
class Timeline:
    """Per opportunity of the run, (n,) each: the period's clock and the scenario's state."""
    clock: np.ndarray             # share of the period elapsed once this opportunity is decided
    price_multiplier: np.ndarray
    outage: np.ndarray            # bool: LLM calls fail
    drift: np.ndarray

    @property
    def n(self) -> int:
        return len(self.clock)


def timeline(cfg: Config, llm_events: bool = True) -> Timeline:
    """Apply the scenario to the planned period. More traffic means more opportunities than planned
    in the same period (and budget): the run then decides more opportunities than `opportunities`.
    llm_events False: the LLM's price and outage events are left out (a real reader has its own)."""
    planned = cfg.simulation.opportunities
    events = cfg.scenario.events
    traffic = [(e["at"], e["traffic_multiplier"]) for e in events if "traffic_multiplier" in e]
    # The clock advances 1 / (planned x rate) per opportunity; the rate changes at each traffic event.
    changes = sorted({0, *(at for at, _ in traffic)})
    steps, clock = [], 0.0
    for start, stop in zip(changes, changes[1:] + [None]):
        rate = next((m for at, m in reversed(traffic) if at <= start), 1.0)
        step = 1.0 / (planned * rate)
        room = int(np.ceil((1.0 - clock) / step - 1e-9))             # opportunities left in the period
        count = room if stop is None else min(stop - start, room)
        steps.append(np.full(max(count, 0), step))
        clock += max(count, 0) * step
        if clock >= 1.0 - 1e-12:
            break
    clock = np.minimum(np.cumsum(np.concatenate(steps)), 1.0)
    n, kept = len(clock), [e for e in events if llm_events or not {"llm_price_multiplier", "llm_outage"} & e.keys()]
    price = _piecewise(n, 1.0, [(e["at"], None, e["llm_price_multiplier"]) for e in kept
                                if "llm_price_multiplier" in e])
    outage = _piecewise(n, False, [(e["at"], e["at"] + e["llm_outage"], True) for e in kept if "llm_outage" in e], bool)
    drift = _piecewise(n, cfg.market.drift, [(e["at"], None, e["drift"]) for e in kept if "drift" in e])
    return Timeline(clock, price, outage, drift)


def _piecewise(n: int, start, changes: list[tuple], dtype=float) -> np.ndarray:
    """(n,) start, then each (at, stop, value) change in turn; where nothing changes, a read-only view of the one
    value (a steady 1 M-opportunity run keeps 17 MB less)."""
    if not changes:
        return np.broadcast_to(np.asarray(start, dtype), (n,))
    out = np.full(n, start, dtype)
    for at, stop, value in changes:
        out[at:stop] = value
    return out


# --- one block of opportunities: the market and everything drawn for it ---

@dataclass
class Block:
    """A block of opportunities with its random numbers and the TRM's and logistic model's estimates."""
    ids: np.ndarray             # (n,) opportunity numbers
    market: Market
    draws: np.ndarray           # (n, K) uniform: converts if draw < p_true
    text_reading: np.ndarray    # (n, K) the simulated LLM's reading of each reply (logit, before its noise)
    keyword_flags: np.ndarray   # (n, K, F) 0/1 the keyword reader's flags of each reply (keyword.py)
    reading_noise: np.ndarray   # (n, K) standard normal: the simulated LLM's error
    trm_path: np.ndarray        # (S, n, K) the TRM's P(convert) after each step
    trm_halt: np.ndarray        # (S, n, K) its halt logits
    logistic: np.ndarray        # (n, K)

    def rows(self, part: slice | np.ndarray) -> "Block":
        return Block(self.ids[part], self.market.rows(part), self.draws[part], self.text_reading[part],
                     self.keyword_flags[part], self.reading_noise[part],
                     self.trm_path[:, part], self.trm_halt[:, part], self.logistic[part])


@dataclass
class PassClock:
    """Wall time of the TRM's batched passes, for the telemetry's per-candidate figure."""
    ms: float = 0.0
    candidates: int = 0

    @property
    def ms_per_candidate(self) -> float:
        return self.ms / max(self.candidates, 1)


def blocks(cfg: Config, tl: Timeline, model: TRM, logistic: Logistic, clock: PassClock, step_cap: int):
    """Blocks of at most FUNNEL_BLOCK opportunities, cut where the market's drift changes, the TRM run to the step
    cap the run uses (a deeper pass would compute steps nobody reads; `deepened` runs the depth frontier's)."""
    k = cfg.market.candidates_per_opportunity
    rngs = {purpose: rng_for(cfg.simulation.seed, purpose) for purpose in ("market", "outcomes", "llm")}
    cuts = sorted({0, tl.n, *range(0, tl.n, FUNNEL_BLOCK), *np.flatnonzero(np.diff(tl.drift) != 0) + 1})
    for start, stop in zip(cuts, cuts[1:]):
        market = sample_market(rngs["market"], stop - start, k, float(tl.drift[start]), cfg.world.replies)
        started = time.perf_counter()
        path, halt = _trm_pass(model, market, step_cap)
        clock.ms += (time.perf_counter() - started) * 1000
        clock.candidates += market.p_true.size
        # Every reply is read once here, by the simulated LLM and by the keyword reader's flags, whoever asks for
        # the reading later (the run, its replays, the break-even map's 35 cells: 0.6 s saved per default run).
        sentences = number_sentences(market.sentences.reshape(-1, market.sentences.shape[-1]))   # for both readers
        flags = flags_of_sentences(sentences).reshape(stop - start, k, -1)
        yield Block(np.arange(start, stop), market, rngs["outcomes"].random((stop - start, k)),
                    text_readings(market, sentences),
                    flags, rngs["llm"].standard_normal((stop - start, k)), path, halt,
                    logistic.predict(market.features))
        del market, path, halt, sentences, flags   # freed before the next block is built, not after (20 MB of the peak)


def deepened(block: Block, model: TRM, steps: int) -> Block:
    """The block with the TRM's path and halt logits to `steps` (the depth frontier replays every step cap): the
    first block's LANDSCAPE_OPPORTUNITIES only, not all of it at full depth (the frontier needs no more)."""
    path, halt = _trm_pass(model, block.market, steps)
    return dataclasses.replace(block, trm_path=path, trm_halt=halt)


def _trm_pass(model: TRM, market: Market, max_steps: int):
    """Every step for every candidate of the block, in sub-batches that keep activations in cache."""
    n, k = market.n_opportunities, market.n_candidates
    x = market.features.reshape(n * k, -1)
    path, halt = np.zeros((max_steps, n * k)), np.zeros((max_steps, n * k))
    for start in range(0, n * k, SUB_BATCH):
        rows = slice(start, start + SUB_BATCH)
        result = model.infer(x[rows], max_steps, halt_threshold=1.0, trajectory=True)
        path[:, rows], halt[:, rows] = result.trajectory, result.halt_logits
    return path.reshape(max_steps, n, k), halt.reshape(max_steps, n, k)


# --- decisions and their money ---

def decide(estimate: np.ndarray, conversion_value: float, outreach_cost: float):
    """The shared rule: best candidate by estimate; pursue when its expected value beats outreach. (n, K) -> (n,), (n,)"""
    pick = estimate.argmax(axis=1)
    best = np.take_along_axis(estimate, pick[:, None], axis=1)[:, 0]
    return pick, best * conversion_value > outreach_cost


def greedy_choice(market: Market):
    """The rule of thumb: the lowest ask relative to the budget among candidates within budget and with the
    minimum experience; skip the job when nobody qualifies. (n,), (n,)"""
    qualifies = ((market.asking_salary <= market.budget_high[:, None])
                 & (market.experience >= market.min_experience[:, None]))
    score = np.where(qualifies, -market.asking_salary / market.budget_high[:, None], -np.inf)
    return score.argmax(axis=1), qualifies.any(axis=1)


class Decision(NamedTuple):
    """One strategy's decisions on a chunk: the candidate picked, whether to pursue, and the money (settle)."""
    pick: np.ndarray
    pursue: np.ndarray
    money: dict


def settle(block: Block, pick, pursue, cfg: Config) -> dict:
    """Realised and expected money of each decision, (n,) columns for the ledger."""
    sim = cfg.simulation
    rows = np.arange(len(pick))
    p = block.market.p_true[rows, pick]
    converted = pursue & (block.draws[rows, pick] < p)
    return {"pursued": pursue, "converted": converted, "value": converted * sim.conversion_value,
            "expected_value": pursue * p * sim.conversion_value, "outreach_cost": pursue * sim.outreach_cost}


# --- the cascade, in one world (the run, or a replay without one control) ---

@dataclass
class World:
    """The cascade's state in one replay of the period."""
    thermostat: Thermostat
    sentinel: Sentinel
    calibration: Calibration   # its trust in the reader and the TRM, refitted on the readings it makes
    totals: dict = field(default_factory=lambda: {"expected_net_value": 0.0, "net_value": 0.0, "llm_cost": 0.0,
                                                  "llm_reads": 0, "llm_failures": 0})


@dataclass
class CascadeChunk:
    """What the cascade did on one chunk, (n, K) or (n,) arrays."""
    estimate: np.ndarray
    read: np.ndarray          # (n, K) bool: a read was attempted
    reading: np.ndarray       # (n, K) the reading's P(convert), NaN where none or failed
    failed: np.ndarray        # (n, K) bool
    llm_cost: np.ndarray      # (n,)
    waited_ms: np.ndarray     # (n,) time on LLM rounds
    fallback: np.ndarray      # (n,) "" or why the decision fell back: trm_non_finite, trm_latency (logistic decides), llm_breaker_open (no reads)
    reading_logit: np.ndarray  # (n, K) the reading as the reader gave it (logit, NaN where none): calibration's data


class TRMDecision(NamedTuple):
    """The TRM at its step cap on a block: (n, K) estimates and steps, (n,) compute cost and modelled latency."""
    estimate: np.ndarray
    steps: np.ndarray
    cost: np.ndarray
    latency: np.ndarray


def trm_estimate(block: Block, cfg: Config, step_cap: int) -> TRMDecision:
    """The TRM at its step cap (and halting threshold): estimates, steps, cost and modelled latency."""
    sim = cfg.simulation
    estimate, steps = at_step_cap(block.trm_path, block.trm_halt, step_cap, sim.trm_halt_threshold)
    cost = (sim.trm_base_cost + sim.trm_cost_per_step * steps).sum(axis=1)
    latency = sim.trm_latency_base_ms + sim.trm_latency_per_step_ms * steps.max(axis=1)
    return TRMDecision(estimate, steps, cost, latency)


def at_step_cap(path: np.ndarray, halt: np.ndarray, step_cap: int, halt_threshold: float):
    """The TRM's P(convert) where halting stops it within the step cap: (S, n, K) path and halt logits ->
    (n, K) estimate and steps."""
    steps, _ = halting_steps(halt, step_cap, halt_threshold)
    return np.take_along_axis(path, steps[None] - 1, axis=0)[0], steps


def read_everyone(block: Block, readings: Readings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate of the block read once: logits, answered and cost, each (n, K)."""
    n, k = block.market.p_true.shape
    rows, cols = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    return tuple(a.reshape(n, k) for a in readings.read(block, rows, cols))


def run_cascade(world: World, block: Block, tl: Timeline, base: np.ndarray, fallback: np.ndarray,
                cfg: Config, readings: Readings, shared: dict | None = None) -> CascadeChunk:
    """Read in rounds, highest value of information first, while it beats hurdle x price (cascade.py), with the
    world's fitted trust (calibration.py): the base belief's error, the reader's noise and bias. base (n, K): the
    keyword reader's P(convert) (cascade3's: the reading tier's; the logistic model's where the TRM guard tripped);
    shared: the chunk's values of reading so far, by their beliefs (_voi), for the worlds that hold the same."""
    sim, trust = cfg.simulation, world.calibration.trust
    reading_var = trust.reading_var
    n, k = base.shape
    rows = np.arange(n)
    mean, var = belief_from_estimate(base, trust.error_var)
    price = sim.llm_cost * tl.price_multiplier[block.ids]                                   # (n,)
    outage = tl.outage[block.ids]
    chunk = CascadeChunk(np.zeros((n, k)), np.zeros((n, k), bool), np.full((n, k), np.nan),
                         np.zeros((n, k), bool), np.zeros(n), np.zeros(n), fallback, np.full((n, k), np.nan))
    failed_before = np.zeros(n, bool)
    # Jobs still worth a look: one whose best VOI missed the hurdle, or whose next round would not fit the
    # latency limit, stays that way (no new reading changes its beliefs; waits only grow): skip it.
    active = rows
    for round_ in range(k):
        allowed = world.sentinel.reads_allowed(int(block.ids[0]))
        if allowed == 0:
            if round_ == 0:   # the breaker is open: the TRM (or its guard's logistic model) decides alone
                chunk.fallback = np.where(fallback == "", "llm_breaker_open", fallback).astype(object)
            break
        voi = np.where(chunk.read[active], 0.0, _voi(mean[active], var[active], reading_var, sim,
                                                     {} if shared is None else shared))
        if round_ == 0:   # every candidate's VOI before any reading: what the thermostat paces the budget on
            world.thermostat.observe(voi, price)
        best, gain = np.zeros(n, int), np.zeros(n)
        best[active] = voi.argmax(axis=1)
        gain[active] = voi[np.arange(len(active)), best[active]]
        fits = world.sentinel.round_fits(chunk.waited_ms, failed_before)
        active = np.flatnonzero((gain > world.thermostat.hurdle * price) & fits)
        wanted = active
        wanted = wanted[np.argsort(-gain[wanted], kind="stable")][:allowed]               # best first
        wanted = wanted[world.sentinel.affordable(price[wanted])]
        if wanted.size == 0:
            break
        cols = best[wanted]
        world.sentinel.book(price[wanted])                  # the budget reserves the expected price per read
        # An outage fails the call without an answer (and the timed-out call is still billed).
        reading, answered, cost = readings.read(block, wanted, cols)
        failed = outage[wanted] | ~answered
        charged = np.where(outage[wanted], price[wanted], cost * tl.price_multiplier[block.ids[wanted]])
        if readings.real:   # the reservation becomes what the read was charged: one figure for spend and cost
            world.sentinel.book(charged - price[wanted])
        world.sentinel.record_calls(int(block.ids[0]), failed[readings.sent(block, wanted, cols)])
        chunk.read[wanted, cols] = True
        chunk.failed[wanted, cols] = failed
        chunk.llm_cost[wanted] += charged
        chunk.waited_ms[wanted] += np.where(failed, sim.llm_timeout_ms, sim.llm_latency_ms)
        failed_before[wanted] |= failed
        ok, ok_cols, reading = wanted[~failed], cols[~failed], reading[~failed]
        mean[ok, ok_cols], var[ok, ok_cols] = combine(mean[ok, ok_cols], var[ok, ok_cols], reading - trust.bias,
                                                      reading_var)
        chunk.reading[ok, ok_cols], chunk.reading_logit[ok, ok_cols] = squash(reading), reading
    # A candidate no reading came for keeps its base estimate bit for bit (the belief's round trip rounds).
    chunk.estimate = np.where(np.isnan(chunk.reading), base, expected_probability(mean, var))
    return chunk


def _voi(mean: np.ndarray, var: np.ndarray, reading_var: float, sim, shared: dict) -> np.ndarray:
    """value_of_reading of these beliefs (m, K), computed once per chunk for every world that holds them: the replays
    hold the run's beliefs until their control binds (in most chunks of a 10k run 3 of the 5 worlds start alike), and
    it is a function of the beliefs alone, so they are its key (hashing them costs 1 % of computing it)."""
    digest = hashlib.blake2b(digest_size=16)
    for beliefs in (mean, var):   # fed their buffers as they are: the same digest as of their bytes joined, no copies
        digest.update(np.ascontiguousarray(beliefs))
    key = ("voi", mean.shape, reading_var, digest.digest())
    if key not in shared:
        shared[key] = value_of_reading(mean, var, reading_var, sim.conversion_value, sim.outreach_cost)
    return shared[key]


# --- the run ---

@dataclass
class FunnelResult:
    ledger: Ledger
    thermostat: Thermostat
    sentinel: Sentinel
    counterfactuals: dict      # control -> {"expected_net_value_delta", ...}: the run minus a replay without it
    frontier: list[dict]       # the TRM at each fixed step cap, in expected net value, on the landscape's sample
    timeline: Timeline
    trust: Trust               # the run's trust in the reader and the TRM by the end of the period (calibration.py)
    setup: SetUp               # the set-up fit: the history replies read, their cost, the trust the run started from
    pass_ms_per_candidate: float
    sample: tuple              # (first Block, the step cap, the set-up trust): for the landscape
    keyword: KeywordReader     # the keyword reader fitted on the run's history: the map decides with it too
    readings: Readings         # the LLM's readings: who read, what it cost, how well calibrated
    three_tier: ThreeTier | None = None   # the reading TRM's tier (reading_trm.enabled): cascade3's state


@dataclass
class ThreeTier:
    """The reading TRM's tier in a run: trm_reader's reader and cascade3's own world (the cascade's thermostat,
    sentinel and budget settings; its trust fitted on the set-up readings against the tier's belief; not replayed
    without its controls)."""
    tier: ReadingTier
    world: World
    bag: BagTier               # bow_reader's reader, calibrated on the same set-up rows as the reading TRM
    setup_trust: Trust         # cascade3's trust at set-up: the LLM's bias and noise, the tier's belief's error
    depth: list = field(default_factory=list)      # local_reading.depth_by_construction on the run's first block
    examples: list = field(default_factory=list)   # local_reading.reading_examples there


def run_funnel(cfg: Config, model: TRM, logistic: Logistic, calls: CallLog, step_cap: int,
               on_progress: Callable[[int], None] | None = None, readings: Readings | None = None,
               beliefs: tuple[KeywordReader, Labelled] | None = None) -> FunnelResult:
    """Decide every opportunity with every strategy; the cascade also in replays without each control.
    `readings`: the LLM (reading.py); None reads with the simulated LLM. `beliefs`: history_beliefs' result if
    the caller has it (remembered_beliefs)."""
    readings = readings or Readings(cfg)
    tl = timeline(cfg, llm_events=not readings.real or cfg.llm.scenario_events)
    sim = cfg.simulation
    budget = cfg.sentinel.llm_budget_per_opportunity * sim.opportunities
    keyword, labelled = beliefs or history_beliefs(cfg, model, step_cap)
    setup = set_up(cfg, labelled, readings)
    trusted = setup.calibration
    # The run, and the same period replayed without each control: the hurdle held at the best fixed hurdle
    # chosen on held-out seeds (config thermostat.replay_hurdle); the sentinel's reactive guardrails (breaker,
    # TRM guard) off; and without each of the two limits the operator sets, which can only cost: the latency
    # limit and the budget. Every world starts from the same set-up trust and refits its own copy.
    worlds = {"run": world_for(cfg, budget, trusted),
              "thermostat": world_for(cfg, budget, trusted, fixed_hurdle=cfg.thermostat.replay_hurdle),
              "sentinel": world_for(cfg, budget, trusted, guardrails_on=False),
              "latency_limit": world_for(cfg, budget, trusted, latency_limit_on=False),
              "budget": world_for(cfg, np.inf, trusted)}
    rivals = rival_worlds(cfg, budget, trusted)
    three = three_tier(cfg, model, step_cap, labelled, budget, setup) if cfg.reading_trm.enabled else None
    ledger = Ledger(recorded(three is not None), tl.n)
    clock, sample, frontier = PassClock(), None, None
    for block in blocks(cfg, tl, model, logistic, clock, step_cap):
        own = None   # the reading TRM's own logit of the block, when _show_tier has read it
        if sample is None:
            # copies (rows by index, not a slice): views of the first block's rows would keep all of it alive for the
            # landscape (20 MB)
            head = deepened(block.rows(np.arange(min(LANDSCAPE_OPPORTUNITIES, len(block.ids)))), model,
                            cfg.model.supervision_steps)
            sample, frontier = (head, step_cap, trusted.trust), depth_frontier(head, cfg)
            if three:
                own = _show_tier(three, block, head, cfg, step_cap, keyword)
        decide_block(ledger, block, tl, cfg, readings, step_cap, worlds, rivals, keyword, calls,
                     clock.ms_per_candidate, on_progress, three, own)
        del block, own   # before the next one is built: two at once were a fifth of the run's peak
    run = worlds["run"]
    return FunnelResult(ledger, run.thermostat, run.sentinel, _counterfactuals(worlds), frontier, tl,
                        run.calibration.trust, setup, clock.ms_per_candidate, sample, keyword, readings, three)


def _show_tier(three: ThreeTier, block: Block, head: Block, cfg: Config, step_cap: int,
               keyword: KeywordReader) -> np.ndarray:
    """What the report shows of the reading tier, from the run's first opportunities (`head`, the first of
    `block`; local_reading.py). Returns the reading TRM's own logit of the block (n, K) for trm_reader and cascade3:
    it is read there once, the depth chart's opportunities to full depth in the same pass."""
    trm = trm_estimate(head, cfg, step_cap).estimate
    fields = _fields_logit(trm)
    own, read = read_with_depth(three.tier, block.market, DEPTH_OPPORTUNITIES)
    three.examples = reading_examples(three.tier, head.market, fields, keyword_estimate(keyword, head, trm),
                                      head.text_reading, own)
    first = slice(0, DEPTH_OPPORTUNITIES)
    three.depth = depth_by_construction(head.market.rows(first), fields[first], read)
    return own


def three_tier(cfg: Config, model: TRM, step_cap: int, labelled: Labelled, budget: float, setup: SetUp) -> ThreeTier:
    """The reading tier fitted on the set-up rows (their fields-only TRM logit at the run's step cap) and
    cascade3's world: its trust fitted on the set-up's LLM readings against the tier's out-of-fold belief (the
    cascade's set-up trust where the rows were too few to calibrate it), its hurdles `reading_trm.llm_hurdle` times
    the thermostat's."""
    fields = _fields_logit(at_step_cap(*_trm_pass(model, labelled.market, step_cap), step_cap,
                                       cfg.simulation.trm_halt_threshold)[0][:, 0])
    tier, ok = load_tier(cfg, model.spec, fields, labelled), setup.ok
    trusted = setup.calibration if tier.setup_belief is None else trusted_on(
        cfg, tier.setup_belief[ok], setup.reading[ok], labelled.outcome[ok])
    hurdles = dataclasses.replace(cfg, thermostat=_scaled(cfg.thermostat, cfg.reading_trm.llm_hurdle))
    return ThreeTier(tier, world_for(hurdles, budget, trusted), load_bag_tier(cfg, model.spec, fields, labelled),
                     trusted.trust)


def decide_block(ledger: Ledger, block: Block, tl: Timeline, cfg: Config, readings: Readings, step_cap: int,
                 worlds: dict[str, World], rivals: dict[str, World], keyword: KeywordReader,
                 calls: CallLog | None = None, pass_ms: float = 0.0,
                 on_progress: Callable[[int], None] | None = None, three: ThreeTier | None = None,
                 own: np.ndarray | None = None) -> None:
    """Every strategy on one block, into the ledger: the one-round strategies, then chunk by chunk the TRM and
    the cascade in every world (the "run" world's cascade is the ledger's). The run and the break-even map
    (landscape.py) both decide through here, so the map has every strategy the run has. `own`: the reading TRM's
    own logit of the block (n, K) if the caller has read it (_show_tier)."""
    sim = cfg.simulation
    whole = trm_estimate(block, cfg, step_cap)
    believed = keyword_estimate(keyword, block, whole.estimate)     # (n, K) the base belief of those that read
    _record_baselines(ledger, block, cfg, whole, believed)
    local = _record_reader(ledger, "trm_reader", block, cfg, whole, three.tier, own) if three else None   # (n, K)
    if three:
        _record_reader(ledger, "bow_reader", block, cfg, whole, three.bag)
    for start in range(0, len(block.ids), sim.chunk_size):
        part = block.rows(slice(start, start + sim.chunk_size))
        trm, belief = trm_estimate(part, cfg, step_cap), believed[start:start + sim.chunk_size]
        refits = {}   # the chunk's calibration refits and values of reading, shared by the worlds alike (_learn, _voi)
        for name, world in worlds.items():
            chunk, decision, waiting, compute = _cascade_chunk(world, part, trm, belief, tl, cfg, readings, refits)
            if name == "run":
                ledger.record("cascade", part.ids, compute_cost=compute, llm_cost=chunk.llm_cost,
                              latency_cost=waiting,
                              llm_reads=chunk.read.sum(axis=1), steps=trm.steps.max(axis=1),
                              latency_ms=trm.latency + chunk.waited_ms, fallback=chunk.fallback != "",
                              **decision.money)
                if calls is not None:
                    _log_calls(calls, part, trm, chunk, decision, world, pass_ms)
        trm_pick, trm_pursue = decide(trm.estimate, sim.conversion_value, sim.outreach_cost)
        ledger.record("trm", part.ids, compute_cost=trm.cost, steps=trm.steps.max(axis=1), latency_ms=trm.latency,
                      **settle(part, trm_pick, trm_pursue, cfg))
        _record_rivals(ledger, part, trm, belief, tl, cfg, readings, rivals, refits)
        if three:
            _record_cascade3(ledger, part, trm, local[start:start + sim.chunk_size], tl, cfg, readings, three,
                             refits)
        if on_progress:
            on_progress(int(part.ids[-1]) + 1)


def _cascade_chunk(world: World, part: Block, trm: TRMDecision, belief: np.ndarray, tl: Timeline, cfg: Config,
                   readings: Readings, refits: dict, local_cost: float = 0.0):
    """The cascade in one world on one chunk: its guard, its reads, its decisions, its refit and its pacing.
    belief (n, K): its base P(convert); local_cost: $ per opportunity of the local reads behind it (cascade3's).
    -> (CascadeChunk, Decision, waiting cost (n,), compute cost (n,))"""
    sim = cfg.simulation
    fallback = world.sentinel.trm_guard(trm.estimate, trm.latency)
    base = np.where((fallback != "")[:, None], part.logistic, belief)
    chunk = run_cascade(world, part, tl, base, fallback, cfg, readings, refits)
    pick, pursue = decide(chunk.estimate, sim.conversion_value, sim.outreach_cost)
    decision = Decision(pick, pursue, settle(part, pick, pursue, cfg))
    world.thermostat.observe_readings(_learn(world.calibration, base, chunk.reading_logit,
                                             chunk.fallback == "", decision, refits))
    waiting = waiting_cost(cfg, chunk.waited_ms)
    compute = trm.cost + local_cost + chunk.llm_cost + waiting
    _add_totals(world, decision.money, compute, chunk)
    world.thermostat.update(int(part.ids[-1]) + 1, float(tl.clock[part.ids[-1]]), world.sentinel.spent)
    return chunk, decision, waiting, compute


def _record_reader(ledger: Ledger, key: str, block: Block, cfg: Config, trm: TRMDecision,
                   tier: ReadingTier | BagTier, own: np.ndarray | None = None) -> np.ndarray:
    """trm_reader (the reading TRM) or bow_reader (the bag of words) on one block: every candidate read by the
    tier (its own logit `own` if already read), decided on its calibrated probability. Returns that probability's
    logit (n, K), the reading TRM's cascade3's local reading of each candidate."""
    sim, k = cfg.simulation, block.market.n_candidates
    own = tier.own_logit(block.market) if own is None else own
    estimate = tier.probability(_fields_logit(trm.estimate), own)
    pick, pursue = decide(estimate, sim.conversion_value, sim.outreach_cost)
    ledger.record(key, block.ids, compute_cost=trm.cost + k * tier.price, steps=trm.steps.max(axis=1),
                  latency_ms=trm.latency, **settle(block, pick, pursue, cfg))
    return _fields_logit(estimate)


def _record_cascade3(ledger: Ledger, part: Block, trm: TRMDecision, local: np.ndarray, tl: Timeline, cfg: Config,
                     readings: Readings, three: ThreeTier, refits: dict) -> None:
    """cascade3 on one chunk: the cascade's LLM step from trm_reader's belief (local (n, K): its logit), every
    candidate read by the reading TRM as trm_reader reads it (and paid for as there)."""
    chunk, decision, waiting, compute = _cascade_chunk(three.world, part, trm, squash(local), tl, cfg, readings,
                                                       refits, part.market.n_candidates * three.tier.price)
    ledger.record("cascade3", part.ids, compute_cost=compute, llm_cost=chunk.llm_cost, latency_cost=waiting,
                  llm_reads=chunk.read.sum(axis=1), steps=trm.steps.max(axis=1),
                  latency_ms=trm.latency + chunk.waited_ms, fallback=chunk.fallback != "", **decision.money)


def rival_worlds(cfg: Config, budget: float, calibration: Calibration, **controls) -> dict[str, World]:
    """The rivals that read, each under its own sentinel: the cascade's latency limit, breaker and (if its record
    says so) budget; `controls` as world_for's (the break-even map turns them off)."""
    return {s.key: world_for(cfg, budget if s.budgeted else np.inf, calibration, **controls) for s in STRATEGIES
            if s.recording is Recording.SHORTLIST}


def _learn(calibration: Calibration, base: np.ndarray, reading_logit: np.ndarray, on_base: np.ndarray,
           decision: Decision, refits: dict) -> np.ndarray:
    """The chunk's readings (n, K) logits, NaN where none, refit the trust: every one's gap to the base belief, and
    the outcome where it was pursued. Readings beside the logistic model's estimate (the TRM guard decided: on_base
    (n,) False) say nothing of the base belief: left out. Returns their surprise at the trust they were read with.

    refits: the chunk's refits so far, by their data and starting trust. The replays read what the run reads until
    their control binds (half of a 3,000-opportunity run's refits at chunk 10 were repeats): a world whose readings
    are another's takes that world's fit instead of refitting (refit is a function of the data and the trust; equal
    lineages, equal data)."""
    rows, cols = np.nonzero(~np.isnan(reading_logit) & on_base[:, None])
    if rows.size == 0:
        return np.empty(0)
    gaps = surprise(base[rows, cols], reading_logit[rows, cols], calibration.trust)
    pursued = decision.pursue[rows] & (decision.pick[rows] == cols)
    outcome = np.where(pursued, decision.money["converted"][rows], np.nan)
    calibration.add(base[rows, cols], reading_logit[rows, cols], outcome)
    key = (calibration.lineage, calibration.trust)
    if key in refits:
        calibration.trust = refits[key]
    else:
        refits[key] = calibration.refit()
    return gaps


def world_for(cfg: Config, budget: float, calibration: Calibration, fixed_hurdle: float | None = None,
              guardrails_on: bool = True, latency_limit_on: bool = True) -> World:
    """The cascade's state for one replay; `fixed_hurdle`: the thermostat off, holding that hurdle all period."""
    sim = cfg.simulation
    thermostat_cfg = cfg.thermostat if fixed_hurdle is None else _held_at(cfg.thermostat, fixed_hurdle)
    sentinel = Sentinel(cfg.sentinel, budget, sim.llm_latency_ms, sim.llm_timeout_ms, guardrails_on, latency_limit_on)
    return World(Thermostat(thermostat_cfg, budget), sentinel, calibration.copy())


def waiting_cost(cfg: Config, waited_ms: np.ndarray) -> np.ndarray:
    """What the decisions' wait on LLM rounds costs, $ (sentinel.latency_cost_per_s): part of their compute cost."""
    return cfg.sentinel.latency_cost_per_s * waited_ms / 1000.0


def _held_at(thermostat: ThermostatConfig, hurdle: float) -> ThermostatConfig:
    return dataclasses.replace(thermostat, enabled=False, initial_hurdle=hurdle)


def _scaled(thermostat: ThermostatConfig, multiplier: float) -> ThermostatConfig:
    """The thermostat with its initial hurdle, floor and ceiling `multiplier` times the configured ones."""
    t = thermostat
    return dataclasses.replace(t, initial_hurdle=t.initial_hurdle * multiplier, min_hurdle=t.min_hurdle * multiplier,
                               max_hurdle=t.max_hurdle * multiplier)


def _add_totals(world: World, money: dict, compute: np.ndarray, chunk: CascadeChunk) -> None:
    t = world.totals
    cost = compute.sum() + money["outreach_cost"].sum()
    t["expected_net_value"] += float(money["expected_value"].sum() - cost)
    t["net_value"] += float(money["value"].sum() - cost)
    t["llm_cost"] += float(chunk.llm_cost.sum())
    t["llm_reads"] += int(chunk.read.sum())
    t["llm_failures"] += int(chunk.failed.sum())


def _counterfactuals(worlds: dict[str, World]) -> dict:
    """What each control earned: the run minus the same opportunities replayed without it."""
    run = worlds["run"].totals
    out = {}
    for name in ("thermostat", "sentinel", "latency_limit", "budget"):
        other = worlds[name]
        out[name] = {"expected_net_value_delta": run["expected_net_value"] - other.totals["expected_net_value"],
                     "net_value_delta": run["net_value"] - other.totals["net_value"],
                     "llm_cost_delta": run["llm_cost"] - other.totals["llm_cost"],
                     "without": dict(other.totals)}
    return out


def _record_baselines(ledger: Ledger, block: Block, cfg: Config, trm: TRMDecision, keyword: np.ndarray) -> None:
    """greedy, logistic, keyword and the oracle on one block: none of them reads through the LLM."""
    sim, (n, k) = cfg.simulation, block.market.p_true.shape
    choices = {
        "greedy": (*greedy_choice(block.market), np.full(n, sim.greedy_cost * k), {}),
        "logistic": (*decide(block.logistic, sim.conversion_value, sim.outreach_cost), np.zeros(n), {}),
        # The keyword reader runs on the TRM's score: it costs what the TRM costs, its regular expressions nothing.
        "keyword": (*decide(keyword, sim.conversion_value, sim.outreach_cost),
                    trm.cost, {"steps": trm.steps.max(axis=1), "latency_ms": trm.latency}),
        "oracle": (*decide(block.market.p_true, sim.conversion_value, sim.outreach_cost), np.zeros(n), {}),
    }
    for name, (pick, pursue, compute, extra) in choices.items():
        ledger.record(name, block.ids, compute_cost=compute, **extra, **settle(block, pick, pursue, cfg))


# --- the rivals, at their best under the cascade's budget, scenario and fallback ---
#
#   keyword        the keyword reader (keyword.py) on the TRM's logit and the reply, fitted on the run's labelled
#                  history: free to run, so it reads every reply, and decides alone.
#   llm            the LLM reads every candidate; where a read fails (an outage, a failed call) or the sentinel
#                  holds it back (breaker, latency limit), the TRM's estimate stands in.
#   llm_shortlist  the LLM reads each job's top `rivals.shortlist_k` candidates by the TRM and picks among them on
#                  its readings (the TRM's estimate where a read failed or was not allowed).
#   router_topk    reads each job's top `rivals.router_k` by the cascade's base belief (the keyword reader's) and
#                  decides with the cascade's belief: that base combined with the reading (cascade.combine), over
#                  every candidate, at a trust refitted in the run as the cascade's: only VOI vs top k differs.
# Those that read do so in one round per job (the reads run in parallel), each under its own sentinel (world_for:
# the cascade's latency limit, breaker and, if its record is `budgeted`, budget), charged as the cascade's reads
# are. The keyword reader's compute is the TRM's: its regular expressions are priced at nothing.

def history_beliefs(cfg: Config, model: TRM, step_cap: int,
                    fitted: tuple[KeywordReader, np.ndarray] | None = None) -> tuple[KeywordReader, Labelled]:
    """The keyword reader fitted on the run's labelled history, the stream the TRM was fine-tuned on (the same rows
    and outcomes, with their replies), beside the TRM's logit at the run's step cap; and the rows the reader reads
    at set-up (calibration.set_up: the last `cascade.calibration_reads` of the validation split, the TRM never
    trained on them) with their keyword belief from a reader refitted without them: an in-sample belief would look
    surer than it is, and the trust fitted on it would undervalue every reading.
    fitted: the reader and the set-up rows' belief as an identical earlier run fitted them (remembered_beliefs):
    the TRM's pass over the history, its flagging and both fits are skipped."""
    sim, t = cfg.simulation, cfg.training
    history, outcome = labelled_history(rng_for(sim.seed, "recent_log"), t.samples, cfg.market.drift,
                                        cfg.world.replies)
    cut = t.samples - set_up_rows(cfg)
    if fitted is None:
        trm, _ = at_step_cap(*_trm_pass(model, history, step_cap), step_cap, sim.trm_halt_threshold)    # (m, 1)
        fields, replies, urgency = _fields_logit(trm[:, 0]), history.messages[:, 0], history.urgency
        flags = flags_of_sentences(history.sentences[:, 0])
        keyword = fit_keyword_reader(fields, replies, urgency, outcome, flags=flags)
        held = fit_keyword_reader(fields[:cut], replies[:cut], urgency[:cut], outcome[:cut], keyword.l2, flags[:cut])
        fitted = keyword, sigmoid(held.logit(fields[cut:], flags[cut:], urgency[cut:]))
    keyword, base = fitted
    return keyword, Labelled(history.rows(slice(cut, t.samples)), outcome[cut:], base)


def set_up_rows(cfg: Config) -> int:
    """How many of the history's last rows the reader reads at set-up: `cascade.calibration_reads`, within the
    validation split even without fine-tuning (so that reloading a checkpoint repeats its run)."""
    t = cfg.training
    return min(cfg.cascade.calibration_reads, int(round(t.samples * t.validation_share)))


def remembered_beliefs(cfg: Config, model: TRM, step_cap: int, warn) -> tuple[KeywordReader, Labelled]:
    """history_beliefs through the memo (memo.py): a rerun of the same weights, step cap, config and code reads
    the fitted reader and the set-up rows' belief (floats exact through JSON) instead of fitting them again; a
    record of the wrong shape is named in one `warn` line and rebuilt."""
    key = memo.derived_key(model, step_cap, cfg.to_dict())
    record = memo.recall_record("beliefs", key, warn)
    fitted = _fitted(record, cfg) if record is not None else None
    if record is not None and fitted is None:
        warn(f"beliefs memo '{memo.entry_path(key, 'beliefs', '.json')}' has the wrong shape; fitting again")
    keyword, labelled = history_beliefs(cfg, model, step_cap, fitted)
    if fitted is None:
        memo.remember_record("beliefs", key, {"weights": keyword.model.weights.tolist(),
                                              "bias": float(keyword.model.bias), "l2": keyword.l2,
                                              "base": labelled.base.tolist()}, warn)
    return keyword, labelled


def _fitted(record: dict, cfg: Config) -> tuple[KeywordReader, np.ndarray] | None:
    """A beliefs record as history_beliefs' `fitted`, or None if any entry is missing or of the wrong size."""
    sizes = {"weights": design_width(), "base": set_up_rows(cfg)}
    try:
        arrays = {name: np.array(record[name], dtype=np.float64) for name in sizes}
        bias, l2 = float(record["bias"]), float(record["l2"])
    except (KeyError, TypeError, ValueError):
        return None
    if any(arrays[name].shape != (size,) for name, size in sizes.items()):
        return None
    return KeywordReader(Logistic(arrays["weights"], bias), l2), arrays["base"]


def keyword_estimate(keyword: KeywordReader, block: Block, trm: np.ndarray) -> np.ndarray:
    """The keyword reader's P(convert) of each candidate from the TRM's and its reply. (n, K) -> (n, K)"""
    n, k = trm.shape
    fields, flags = _fields_logit(trm).ravel(), block.keyword_flags.reshape(n * k, -1)
    urgency = np.repeat(block.market.urgency, k)
    # SUB_BATCH candidates at a time: the reader's design matrix is 2 x flags + 1 floats per candidate (74 MB for a
    # whole block).
    reading = np.concatenate([keyword.logit(fields[at:at + SUB_BATCH], flags[at:at + SUB_BATCH],
                                            urgency[at:at + SUB_BATCH]) for at in range(0, n * k, SUB_BATCH)])
    return sigmoid(reading).reshape(n, k)


def _fields_logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, PROB_EPS, 1 - PROB_EPS))


class TopK(NamedTuple):
    """One round of reads of each job's top k candidates by the TRM, on a chunk: (n, K) or (n,) arrays."""
    shortlist: np.ndarray   # (n, K) bool: among the job's top k
    read: np.ndarray        # (n, K) bool: a read was attempted
    reading: np.ndarray     # (n, K) the reading's logit; NaN where none came (not read, failed, outage)
    llm_cost: np.ndarray    # (n,)
    waited_ms: np.ndarray   # (n,)


def read_top_k(world: World, part: Block, base: np.ndarray, k: int, tl: Timeline, cfg: Config,
               readings: Readings) -> TopK:
    """Each job's top k by `base` (the TRM's estimate, or the router's base belief), read job by job, best first, as far as the rival's
    sentinel allows: the latency limit, the breaker (none while open; one probe when half-open), the budget."""
    sim, (n, K) = cfg.simulation, base.shape
    top = np.argsort(-base, axis=1, kind="stable")[:, :k]                                # (n, k)
    shortlist = np.zeros((n, K), bool)
    np.put_along_axis(shortlist, top, True, axis=1)
    rows, cols = np.repeat(np.arange(n), top.shape[1]), top.ravel()
    price = sim.llm_cost * tl.price_multiplier[part.ids]                                 # (n,)
    wanted = np.flatnonzero(world.sentinel.round_fits(np.zeros(n), np.zeros(n, bool))[rows])
    wanted = wanted[:world.sentinel.reads_allowed(int(part.ids[0]))]
    wanted = wanted[world.sentinel.affordable(price[rows[wanted]])]
    rows, cols = rows[wanted], cols[wanted]
    world.sentinel.book(price[rows])
    # As the cascade's: an outage fails the call without an answer, and the timed-out call is still billed.
    reading, answered, cost = readings.read(part, rows, cols)
    outage = tl.outage[part.ids[rows]]
    failed = outage | ~answered
    world.sentinel.record_calls(int(part.ids[0]), failed[readings.sent(part, rows, cols)])
    out = TopK(shortlist, np.zeros((n, K), bool), np.full((n, K), np.nan), np.zeros(n), np.zeros(n))
    out.read[rows, cols] = True
    out.reading[rows[~failed], cols[~failed]] = reading[~failed]
    np.add.at(out.llm_cost, rows, np.where(outage, price[rows], cost * tl.price_multiplier[part.ids[rows]]))
    np.maximum.at(out.waited_ms, rows, np.where(failed, sim.llm_timeout_ms, sim.llm_latency_ms))
    return out


def shortlist_estimate(top: TopK, base: np.ndarray) -> np.ndarray:
    """llm_shortlist's (and the LLM reading everyone's, whose shortlist is everyone): the reading where one came,
    the TRM's estimate where not; only the shortlist may be picked. (n, K)"""
    return np.where(top.shortlist, np.where(np.isnan(top.reading), base, squash(top.reading)), -np.inf)


def router_estimate(world: World, top: TopK, base: np.ndarray) -> np.ndarray:
    """router_topk's: the cascade's belief from its base estimate (the keyword reader's), combined with each reading
    that came (its bias removed), at the world's trust (calibration.py: refitted in the run as the cascade's). (n, K)"""
    trust = world.calibration.trust
    mean, var = belief_from_estimate(base, trust.error_var)
    came = ~np.isnan(top.reading)
    mean[came], var[came] = combine(mean[came], var[came], top.reading[came] - trust.bias, trust.reading_var)
    return expected_probability(mean, var)


def _record_rivals(ledger: Ledger, part: Block, trm: TRMDecision, belief: np.ndarray, tl: Timeline, cfg: Config,
                   readings: Readings, rivals: dict[str, World], refits: dict) -> None:
    """llm, llm_shortlist and router_topk on one chunk; a decision none of whose reads came is recorded as a
    fallback (the TRM, the router's base belief, or the logistic model where the TRM guard trips, decided).
    belief (n, K): the cascade's base belief, the router's (it ranks and decides with it); refits: as _learn's."""
    sim = cfg.simulation
    k = {"llm": part.market.n_candidates, "llm_shortlist": cfg.rivals.shortlist_k, "router_topk": cfg.rivals.router_k}
    for name, world in rivals.items():
        guarded = world.sentinel.trm_guard(trm.estimate, trm.latency) != ""
        router = name == "router_topk"
        base = np.where(guarded[:, None], part.logistic, belief if router else trm.estimate)
        top = read_top_k(world, part, base, k[name], tl, cfg, readings)
        estimate = router_estimate(world, top, base) if router else shortlist_estimate(top, base)
        pick, pursue = decide(estimate, sim.conversion_value, sim.outreach_cost)
        money = settle(part, pick, pursue, cfg)
        if router:
            _learn(world.calibration, base, top.reading, ~guarded, Decision(pick, pursue, money), refits)
        waiting = waiting_cost(cfg, top.waited_ms)
        ledger.record(name, part.ids, compute_cost=trm.cost + top.llm_cost + waiting, llm_cost=top.llm_cost,
                      latency_cost=waiting,
                      llm_reads=top.read.sum(axis=1), steps=trm.steps.max(axis=1),
                      latency_ms=trm.latency + top.waited_ms,
                      fallback=guarded | np.isnan(top.reading).all(axis=1), **money)


def depth_frontier(block: Block, cfg: Config) -> list[dict]:
    """The TRM alone at every fixed step cap on the block, in expected net value (no halting, no controllers)."""
    sim, rows = cfg.simulation, []
    for cap, estimate in enumerate(block.trm_path, start=1):
        pick, pursue = decide(estimate, sim.conversion_value, sim.outreach_cost)
        money = settle(block, pick, pursue, cfg)
        compute = estimate.size * (sim.trm_base_cost + sim.trm_cost_per_step * cap)
        value, outreach = money["expected_value"].sum(), money["outreach_cost"].sum()
        rows.append({"step_cap": cap, "expected_net_value": float(value - outreach - compute),
                     "compute_cost": float(compute), "pursued": int(pursue.sum()), "opportunities": len(block.ids)})
    return rows


def _log_calls(calls: CallLog, part: Block, trm: TRMDecision, chunk: CascadeChunk, decision: Decision, world: World,
               pass_ms: float) -> None:
    """One telemetry record per candidate the TRM scored in the run, with the cascade's reading and decision; the
    columns are built for the calls the file keeps only (past its full part, 1 in telemetry.SAMPLE_EVERY)."""
    if not calls.enabled:   # replays, seed workers and benchmarks: no columns to build
        return
    n, k = trm.estimate.shape
    kept = calls.keep(n * k)
    if kept.size == 0:
        return
    rows, cols = np.divmod(kept, k)
    picked = decision.pick[rows] == cols
    pursued = picked & decision.pursue[rows]
    reading = chunk.reading[rows, cols]
    calls.write({"opportunity": part.ids[rows], "candidate": cols, "message": part.market.messages[rows, cols],
                 "trm_probability": _shown(trm.estimate[rows, cols]), "steps": trm.steps[rows, cols],
                 "llm_read": chunk.read[rows, cols], "llm_failed": chunk.failed[rows, cols],
                 "llm_probability": np.where(np.isnan(reading), None, np.round(reading, 6).astype(object)),
                 "probability": _shown(chunk.estimate[rows, cols]), "fallback": chunk.fallback[rows],
                 "decision": np.where(pursued, "pursue", np.where(picked, "skip", "not_picked")),
                 "outcome": np.where(pursued, decision.money["converted"][rows], None)},
                {"hurdle": round(world.thermostat.hurdle, 6), "breaker": world.sentinel.state}, pass_ms)


def _shown(p: np.ndarray) -> np.ndarray:
    """Probabilities as written: clipped away from 0 and 1 (a log-loss of them stays finite), 6 decimals."""
    return np.round(np.clip(p, PROB_EPS, 1 - PROB_EPS), 6)
