"""The market and the controls, measured (the `market` section of `python -m bench`).

1. What reading is worth, and what keywords get of it: expected net value (before
   reading costs) of deciding with the structured fields only (the exact Bayes
   estimate, an upper bound for any tabular model), with keyword rules on the reply,
   and with a perfect reading of the reply, as shares of the oracle's.
2. The strategies over many seeds (the whole pipeline per seed): expected net value,
   reads, paired differences and each control's counterfactual, at the defaults.
3. The thermostat where it exists for: a mid-run price rise, a traffic surge and a steady
   market, against the fixed initial hurdle, and on the steady market against every
   fixed hurdle of a grid (the best one in hindsight).
Fine-tuning runs once per seed; every scenario replays the same opportunities.
"""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np

from bench.measure import in_processes

SCENARIOS = {"steady": [], "price rise x2.5 at 80": [{"at": 80, "llm_price_multiplier": 2.5}],
             "traffic x1.5 from 80": [{"at": 80, "traffic_multiplier": 1.5}]}
FIXED_HURDLES = (1.0, 1.5, 2.0, 3.0, 5.0, 8.0)

# A keyword reader: the obvious regular expressions for each fact (what a quick rule would do).
KEYWORDS = {
    "intent": [(r"actively looking|ready for a move|on the market|interviewing", 0), (r"open", 1),
               (r"curious|not really looking|not planning", 2)],
    "offer": [(r"accepted|signed|said yes", 2), (r"offer|answer from me", 1)],
    "notice": [(r"right away|immediately|no notice", 0), (r"three-month|three months|quarter", 2),
               (r"one month|four weeks", 1)],
    "salary": [(r"flexible|negotiable|money isn't", 1), (r"firm", 0)],
    "remote": [(r"come in|office days", 1), (r"only work fully remote|not able to commute", 0)],
}


def keyword_facts(messages: np.ndarray) -> tuple[dict, dict]:
    """Facts a keyword rule reads off each reply: (values, stated) like messages.Hidden; first match wins."""
    shape = messages.shape
    values = {f: np.zeros(shape, int) for f in KEYWORDS}
    stated = {f: np.zeros(shape, bool) for f in KEYWORDS}
    for index, message in np.ndenumerate(messages):
        lowered = message.lower()
        for fact, rules in KEYWORDS.items():
            for pattern, value in rules:
                if re.search(pattern, lowered):
                    values[fact][index], stated[fact][index] = value, True
                    break
    return values, stated


def reading_value(opportunities: int, seed: int) -> dict:
    from trm_demo.funnel.market import (conversion_logit, expected_hidden_logit, sample_market, squash,
                                 structured_only_probability)
    from trm_demo.funnel.messages import Hidden
    from trm_demo.config import load_config
    cfg = load_config()
    drift, k = cfg.market.drift, cfg.market.candidates_per_opportunity
    market = sample_market(np.random.default_rng(seed), opportunities, k, drift)
    fields = market.pairs()
    structured = conversion_logit(**fields, drift=drift)
    bayes = structured_only_probability(fields, drift)
    values, stated = keyword_facts(market.messages)
    keyword = squash(structured + expected_hidden_logit(Hidden(values, stated), fields, drift))
    sim = cfg.simulation

    def value(estimate):
        pick = estimate.argmax(axis=1)
        rows = np.arange(len(pick))
        pursue = estimate[rows, pick] * sim.conversion_value > sim.outreach_cost
        return float((pursue * (market.p_true[rows, pick] * sim.conversion_value - sim.outreach_cost)).sum())

    oracle = value(market.p_true)
    shares = {"structured fields only (exact Bayes)": value(bayes) / oracle,
              "keyword rules on the reply": value(keyword) / oracle,
              "a perfect reading of the reply": value(squash(market.read_logit)) / oracle}
    hidden_value = shares["a perfect reading of the reply"] - shares["structured fields only (exact Bayes)"]
    intent_right = float(np.mean(values["intent"] == market.hidden.values["intent"]))
    return {"opportunities": opportunities, "candidates": k, "share_of_oracle_expected": shares,
            "keyword_recovers": (shares["keyword rules on the reply"]
                                 - shares["structured fields only (exact Bayes)"]) / hidden_value,
            "keyword_intent_accuracy": intent_right}


def one_seed(seed: int) -> dict:
    """Fine-tune once; replay the period under every scenario and fixed hurdle."""
    from trm_demo.config import load_config
    from trm_demo.funnel import pipeline
    from trm_demo.funnel.simulation import run_funnel
    from trm_demo.funnel.telemetry import call_log
    from trm_demo.ui import UI
    cfg = load_config().replace(**{"simulation.seed": seed})
    model = pipeline.starting_model(cfg)
    training = pipeline.fine_tune(cfg, model, UI(quiet=True))
    baseline, cap = pipeline.fit_baseline(cfg), pipeline.step_cap(cfg, training)

    def run(c):
        with call_log(None) as calls:
            result = run_funnel(c, model, baseline, calls, cap)
        return {"strategies": result.ledger.summary(), "counterfactuals": result.counterfactuals}

    out = {"default": run(cfg), "scenarios": {}, "fixed": {}}
    for name, events in SCENARIOS.items():
        c = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, events=tuple(events)))
        out["scenarios"][name] = run(c)
    steady = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, events=()))
    for hurdle in FIXED_HURDLES:
        fixed = dataclasses.replace(steady, thermostat=dataclasses.replace(
            steady.thermostat, enabled=False, initial_hurdle=hurdle, min_hurdle=min(hurdle, 1.0),
            max_hurdle=max(hurdle, steady.thermostat.max_hurdle)))
        out["fixed"][hurdle] = run(fixed)["strategies"]["cascade"]["expected_net_value"]
    return out


def summarise(per_seed: list[dict]) -> dict:
    from trm_demo.funnel.evaluation import mean_ci, summarise as evaluation_summary
    scenarios = {}
    for name in SCENARIOS:
        runs = [s["scenarios"][name] for s in per_seed]
        scenarios[name] = {"thermostat_delta": mean_ci([r["counterfactuals"]["thermostat"]["expected_net_value_delta"]
                                                        for r in runs]),
                           "cascade": mean_ci([r["strategies"]["cascade"]["expected_net_value"] for r in runs])}
    thermostat_steady = [s["scenarios"]["steady"]["strategies"]["cascade"]["expected_net_value"] for s in per_seed]
    fixed = {h: mean_ci([s["fixed"][h] for s in per_seed]) for h in FIXED_HURDLES}
    best = max(FIXED_HURDLES, key=lambda h: fixed[h]["mean"])
    return {"default": evaluation_summary([s["default"] for s in per_seed]), "scenarios": scenarios,
            "fixed_hurdles": {str(h): v for h, v in fixed.items()}, "best_fixed_hurdle": best,
            "thermostat_minus_best_fixed": mean_ci([t - s["fixed"][best]
                                                    for t, s in zip(thermostat_steady, per_seed)])}


def run(seeds: int, opportunities: int) -> dict:
    started = time.perf_counter()
    per_seed = in_processes(one_seed, list(range(1, seeds + 1)))
    return {"reading": reading_value(opportunities, seed=12345), **summarise(per_seed),
            "seed_list": list(range(1, seeds + 1)), "wall_seconds": time.perf_counter() - started}
