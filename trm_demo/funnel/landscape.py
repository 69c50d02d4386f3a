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

Break-even map: over LLM price x conversion value, which of TRM alone, the
cascade and the LLM reading everyone makes the most expected net value.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trm_demo.funnel.calibration import Calibration, Trust
from trm_demo.funnel.cascade import belief_from_estimate, combine, expected_probability, value_of_reading
from trm_demo.config import Config
from trm_demo.funnel.market import squash
from trm_demo.funnel.reading import Readings
from trm_demo.funnel.simulation import Block, Timeline, decide, read_everyone, run_cascade, settle, world_for

SHARES_READ = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
PRICES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
VALUES = (40.0, 70.0, 100.0, 200.0, 400.0)


def landscape(block: Block, trm: np.ndarray, trust: Trust, cfg: Config, rng: np.random.Generator) -> dict:
    return {"opportunities": int(len(block.ids)), "deferral": deferral_curve(block, trm, trust, cfg, rng),
            "break_even": break_even_map(block, trm, trust, cfg)}


def _expected_value(block: Block, estimate, cfg: Config) -> float:
    pick, pursue = decide(estimate, cfg.simulation.conversion_value, cfg.simulation.outreach_cost)
    money = settle(block, pick, pursue, cfg)
    return float(money["expected_value"].sum() - money["outreach_cost"].sum())


def deferral_curve(block: Block, trm: np.ndarray, trust: Trust, cfg: Config, rng: np.random.Generator) -> dict:
    sim, reading_var = cfg.simulation, trust.reading_var
    mean, var = belief_from_estimate(trm, trust.error_var)
    readings = read_everyone(block, Readings(cfg))[0]       # the simulated reader (see landscape())
    read_mean, read_var = combine(mean, var, readings - trust.bias, reading_var)
    after = expected_probability(read_mean, read_var)                     # (n, K) belief if read
    oracle = _expected_value(block, block.market.p_true, cfg)
    # Each candidate's true gain from being read alone: the oracle's order.
    base = _expected_value(block, trm, cfg)
    gains = np.zeros(trm.shape)
    for j in range(trm.shape[1]):
        one = trm.copy()
        one[:, j] = after[:, j]
        gains[:, j] = _per_opportunity_value(block, one, cfg) - _per_opportunity_value(block, trm, cfg)
    orders = {"voi": -value_of_reading(mean, var, reading_var, sim.conversion_value, sim.outreach_cost).ravel(),
              "top_k": top_k_order(trm).ravel(), "random": rng.random(trm.size), "oracle": -gains.ravel()}
    curves = {}
    for name, key in orders.items():
        rank = np.argsort(key, kind="stable")
        shares = []
        for share in SHARES_READ:
            chosen = np.zeros(trm.size, bool)
            chosen[rank[:int(round(share * trm.size))]] = True
            estimate = np.where(chosen.reshape(trm.shape), after, trm)
            shares.append(_expected_value(block, estimate, cfg) / oracle if oracle > 0 else None)
        curves[name] = shares
    return {"share_read": list(SHARES_READ), "share_of_oracle_expected": curves,
            "trm_alone": base / oracle if oracle > 0 else None,
            "note": "expected net value before LLM cost, as a share of the oracle's"}


def top_k_order(trm: np.ndarray) -> np.ndarray:
    """Each candidate's place in the router's order: its rank by the TRM within its job, then by the TRM across
    jobs (every job's best before any job's second). (n, K) -> (n, K), smaller first."""
    rank = np.argsort(np.argsort(-trm, axis=1, kind="stable"), axis=1)          # 0 = the job's best
    return rank - trm                                                          # P in (0, 1) breaks ties only


def _per_opportunity_value(block: Block, estimate, cfg: Config) -> np.ndarray:
    pick, pursue = decide(estimate, cfg.simulation.conversion_value, cfg.simulation.outreach_cost)
    money = settle(block, pick, pursue, cfg)
    return money["expected_value"] - money["outreach_cost"]


def break_even_map(block: Block, trm: np.ndarray, trust: Trust, cfg: Config) -> dict:
    """Expected net value per opportunity of TRM alone, the cascade and LLM-only at each price and value."""
    cells = []
    for value in VALUES:
        for price in PRICES:
            sim = dataclasses.replace(cfg.simulation, llm_cost=price, conversion_value=value)
            cell_cfg = dataclasses.replace(cfg, simulation=sim)
            cells.append({"conversion_value": value, "llm_price": price,
                          **_three_strategies(block, trm, trust, cell_cfg)})
    for cell in cells:
        cell["best"] = max(("trm", "cascade", "llm"), key=lambda name: cell[name])
    return {"prices": list(PRICES), "values": list(VALUES), "cells": cells,
            "default": {"conversion_value": cfg.simulation.conversion_value, "llm_price": cfg.simulation.llm_cost}}


def _three_strategies(block: Block, trm: np.ndarray, trust: Trust, cfg: Config) -> dict:
    n, k = trm.shape
    sim = cfg.simulation
    steady = Timeline(np.linspace(1 / n, 1.0, n), np.ones(n), np.zeros(n, bool), np.full(n, cfg.market.drift))
    world = world_for(cfg, np.inf, Calibration(trust), thermostat_on=False, guardrails_on=False,
                      latency_limit_on=False)
    simulated = Readings(cfg)
    chunk = run_cascade(world, block, steady, trm, np.full(n, "", dtype=object), cfg, simulated)
    llm = squash(read_everyone(block, simulated)[0])
    return {"trm": _expected_value(block, trm, cfg) / n,
            "cascade": (_expected_value(block, chunk.estimate, cfg) - chunk.llm_cost.sum()) / n,
            "llm": (_expected_value(block, llm, cfg) - sim.llm_cost * k * n) / n,
            "cascade_share_read": float(chunk.read.mean())}
