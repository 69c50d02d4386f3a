"""Where each strategy wins: the deferral curve and the break-even map, on the run's own opportunities.

Both replay the first block of the run on a steady market (no scenario events, no
budget, no controls), so they describe the economics, not this period's incidents,
and both read with the simulated LLM, even when the run reads with a real one (they
would read every candidate of the block many times over).

Deferral curve: read the top x % of candidates in some order, decide with the
readings, and measure the expected net value before LLM cost as a share of the
oracle's. Orders: the cascade's value of information (from the TRM's beliefs and
the run's set-up trust, calibration.py: the TRM's error, the reader's noise and
bias), each job's top candidates by the TRM first (the router a
practitioner writes: every job's best, then every job's second, ...), random, and
the oracle's (each candidate's true gain from being read, in hindsight): how close
VOI gets to the best possible order.

Break-even map: over LLM price x value of a placement, every strategy's expected net value
per opportunity (the strategies are the ledger's: decide_block decides each as the run does,
so a new strategy appears here without a line of this module), and which rival wins. The grid
is the run's own price and value times fixed steps, so the run's cell is on it. Over --seeds,
each cell holds the mean over the seeds and the winner's paired lead over the runner-up.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trm_demo import memo
from trm_demo.funnel.calibration import Calibration, Trust
from trm_demo.funnel.cascade import belief_from_estimate, combine, expected_probability, value_of_reading
from trm_demo.config import Config
from trm_demo.funnel.evaluation import mean_ci
from trm_demo.funnel.ledger import Ledger
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.keyword import KeywordReader
from trm_demo.funnel.simulation import (Block, Timeline, decide, decide_block, keyword_estimate, read_everyone,
                                        rival_worlds, settle, trm_estimate, world_for)
from trm_demo.strategies import RIVALS, recorded
from trm_demo.trm.weights import TRM

SHARES_READ = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
# The map's axes, as multiples of the run's own LLM price and value per placement (1.0: the run's cell).
# With the shipped $0.20 and $100: $0.01 to $3.00 per read, $40 to $400 per placement.
# The map decides without the reading TRM's tier (reading_trm): the strategies every run records.
MAPPED = recorded(False)
PRICE_STEPS = (0.05, 0.15, 0.5, 1.0, 2.0, 5.0, 15.0)
VALUE_STEPS = (0.4, 0.7, 1.0, 2.0, 4.0)


def landscape(block: Block, step_cap: int, trust: Trust, cfg: Config, rng: np.random.Generator,
              break_even: dict, keyword: KeywordReader) -> dict:
    """break_even: break_even_map of this run's seed, or of every seed of --seeds; trust: the run's set-up trust;
    keyword: the run's keyword reader, the cascade's base belief."""
    trm = trm_estimate(block, cfg, step_cap).estimate
    return {"opportunities": int(len(block.ids)),
            "deferral": deferral_curve(block, keyword_estimate(keyword, block, trm), trust, cfg, rng, trm),
            "break_even": break_even, "reader": "simulated"}   # always: see the module's docstring


def _expected_value(block: Block, estimate, cfg: Config) -> float:
    pick, pursue = decide(estimate, cfg.simulation.conversion_value, cfg.simulation.outreach_cost)
    money = settle(block, pick, pursue, cfg)
    return float(money["expected_value"].sum() - money["outreach_cost"].sum())


def deferral_curve(block: Block, base: np.ndarray, trust: Trust, cfg: Config, rng: np.random.Generator,
                   trm: np.ndarray) -> dict:
    """base (n, K): the cascade's base belief (the keyword reader's P(convert)); trm (n, K): the TRM's, for its row."""
    sim, reading_var = cfg.simulation, trust.reading_var
    mean, var = belief_from_estimate(base, trust.error_var)
    readings = read_everyone(block, Readings(cfg))[0]       # the simulated reader (see landscape())
    read_mean, read_var = combine(mean, var, readings - trust.bias, reading_var)
    after = expected_probability(read_mean, read_var)                     # (n, K) belief if read
    oracle = _expected_value(block, block.market.p_true, cfg)
    # Each candidate's true gain from being read alone: the oracle's order.
    gains = np.zeros(base.shape)
    for j in range(base.shape[1]):
        one = base.copy()
        one[:, j] = after[:, j]
        gains[:, j] = _per_opportunity_value(block, one, cfg) - _per_opportunity_value(block, base, cfg)
    orders = {"voi": -value_of_reading(mean, var, reading_var, sim.conversion_value, sim.outreach_cost).ravel(),
              "top_k": top_k_order(base).ravel(), "random": rng.random(base.size), "oracle": -gains.ravel()}
    curves = {}
    for name, key in orders.items():
        rank = np.argsort(key, kind="stable")
        shares = []
        for share in SHARES_READ:
            chosen = np.zeros(base.size, bool)
            chosen[rank[:int(round(share * base.size))]] = True
            estimate = np.where(chosen.reshape(base.shape), after, base)
            shares.append(_expected_value(block, estimate, cfg) / oracle if oracle > 0 else None)
        curves[name] = shares
    return {"share_read": list(SHARES_READ), "share_of_oracle_expected": curves,
            "trm_alone": _expected_value(block, trm, cfg) / oracle if oracle > 0 else None,
            "note": "expected net value before LLM cost, as a share of the oracle's; at 0 % read: the base belief "
                    "(the keyword reader)"}


def top_k_order(base: np.ndarray) -> np.ndarray:
    """Each candidate's place in the router's order: its rank by the base belief within its job, then by it across
    jobs (every job's best before any job's second). (n, K) -> (n, K), smaller first."""
    rank = np.argsort(np.argsort(-base, axis=1, kind="stable"), axis=1)         # 0 = the job's best
    return rank - base                                                         # P in (0, 1) breaks ties only


def _per_opportunity_value(block: Block, estimate, cfg: Config) -> np.ndarray:
    pick, pursue = decide(estimate, cfg.simulation.conversion_value, cfg.simulation.outreach_cost)
    money = settle(block, pick, pursue, cfg)
    return money["expected_value"] - money["outreach_cost"]


def grid(cfg: Config) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The map's LLM prices and values per placement: the run's own times PRICE_STEPS and VALUE_STEPS."""
    sim = cfg.simulation
    return (tuple(round(sim.llm_cost * step, 6) for step in PRICE_STEPS),
            tuple(round(sim.conversion_value * step, 6) for step in VALUE_STEPS))


def break_even_values(block: Block, step_cap: int, trust: Trust, cfg: Config,
                      keyword: KeywordReader) -> list[dict]:
    """One seed's map: at each (value, price) cell, every strategy's expected net value per opportunity on the
    block, on a steady market with no budget and no controls, decided as the run decides (decide_block).

    One decide_block call per value decides every price at once: the block repeated once per price, each copy's
    reads priced through the timeline's price multiplier (llm_cost 1.0 times the cell's price: the very products
    a call per cell makes), each copy recorded into its own cell's ledger. Without budget or controls no copy's
    decisions touch another's (one chunk: nothing acts between chunks), so the cells are those of a call per cell,
    to the bit (test_break_even_map), in 5 calls instead of 35."""
    n = len(block.ids)
    prices, values = grid(cfg)
    copies = dataclasses.replace(block.rows(np.tile(np.arange(n), len(prices))), ids=np.arange(len(prices) * n))
    steady = Timeline(np.tile(np.linspace(1 / n, 1.0, n), len(prices)), np.repeat(prices, n),
                      np.zeros(copies.ids.size, bool), np.full(copies.ids.size, cfg.market.drift))
    off = {"fixed_hurdle": cfg.thermostat.initial_hurdle, "guardrails_on": False, "latency_limit_on": False}
    cells = []
    for value in values:
        sim = dataclasses.replace(cfg.simulation, llm_cost=1.0, conversion_value=value, chunk_size=copies.ids.size)
        value_cfg = dataclasses.replace(cfg, simulation=sim)
        ledgers = CellLedgers(len(prices), n)
        decide_block(ledgers, copies, steady, value_cfg, Readings(value_cfg), step_cap,
                     {"run": world_for(value_cfg, np.inf, Calibration(trust), **off)},
                     rival_worlds(value_cfg, np.inf, Calibration(trust), **off), keyword)
        for price, ledger in zip(prices, ledgers.cells):
            totals = ledger.summary()
            cells.append({"conversion_value": value, "llm_price": price,
                          "per_opportunity": {key: totals[key]["expected_net_value"] / n for key in MAPPED},
                          "cascade_share_read": totals["cascade"]["llm_reads"] / block.market.p_true.size})
    return cells


def remembered_break_even(block: Block, step_cap: int, trust: Trust, cfg: Config, keyword: KeywordReader,
                          model: TRM, warn) -> list[dict]:
    """break_even_values through the memo (memo.py): a rerun of the same weights, step cap, config and code reads
    the map's cells (floats exact through JSON) instead of deciding them again. With a real reader the set-up
    trust comes from its answers, not from the inputs: computed every time."""
    if cfg.llm.provider != "simulated":
        return break_even_values(block, step_cap, trust, cfg, keyword)
    key = memo.derived_key(model, step_cap, cfg.to_dict())
    record = memo.recall_record("break_even", key, warn)
    if record is not None and _is_map(record.get("cells"), cfg):
        return record["cells"]
    if record is not None:
        warn(f"break_even memo '{memo.entry_path(key, 'break_even', '.json')}' has the wrong shape; deciding again")
    cells = break_even_values(block, step_cap, trust, cfg, keyword)
    memo.remember_record("break_even", key, {"cells": cells}, warn)
    return cells


def _is_map(cells, cfg: Config) -> bool:
    """Whether `cells` (from JSON) are break_even_values' cells for this config's grid, in its order."""
    prices, values = grid(cfg)
    where = [(value, price) for value in values for price in prices]
    return (isinstance(cells, list) and len(cells) == len(where) and all(
        isinstance(c, dict) and list(c) == ["conversion_value", "llm_price", "per_opportunity", "cascade_share_read"]
        and (c["conversion_value"], c["llm_price"]) == cell and isinstance(c["per_opportunity"], dict)
        and list(c["per_opportunity"]) == list(MAPPED)
        and all(isinstance(v, float) for v in (*c["per_opportunity"].values(), c["cascade_share_read"]))
        for c, cell in zip(cells, where)))


class CellLedgers:
    """One Ledger per copy of the block (opportunities copy x n ... copy x n + n - 1), filled by decide_block's
    `record` calls on all the copies at once."""

    def __init__(self, copies: int, n: int):
        self.n, self.cells = n, [Ledger(MAPPED, n) for _ in range(copies)]

    def record(self, strategy: str, opportunity: np.ndarray, **columns) -> None:
        copy = opportunity // self.n
        for c, ledger in enumerate(self.cells):
            rows = copy == c
            ledger.record(strategy, opportunity[rows] - c * self.n, **{name: np.asarray(column)[rows]
                                                                       for name, column in columns.items()})


def break_even_map(per_seed: list[list[dict]], cfg: Config) -> dict:
    """The map over seeds (one list of break_even_values per seed, same grid): each strategy's mean expected net
    value per opportunity, the rival with the highest mean, and its paired lead over the runner-up (an interval
    from two seeds on; one seed has none)."""
    prices, values = grid(cfg)
    cells = []
    for seeds in zip(*per_seed):
        value = {key: [seed["per_opportunity"][key] for seed in seeds] for key in MAPPED}
        ranked = sorted([key for key in RIVALS if key in MAPPED], key=lambda key: -np.mean(value[key]))
        best, runner_up = ranked[:2]
        cells.append({"conversion_value": seeds[0]["conversion_value"], "llm_price": seeds[0]["llm_price"],
                      "per_opportunity": {key: mean_ci(v) for key, v in value.items()},
                      "cascade_share_read": float(np.mean([seed["cascade_share_read"] for seed in seeds])),
                      "best": best, "runner_up": runner_up,
                      "lead_per_opportunity": mean_ci(np.subtract(value[best], value[runner_up]))})
    return {"prices": list(prices), "values": list(values), "cells": cells, "seeds": len(per_seed),
            "default": {"conversion_value": cfg.simulation.conversion_value, "llm_price": cfg.simulation.llm_cost}}
