"""The market and the controls, measured (the `market` section of `python -m bench`).

1. What reading is worth, and what keywords get of it: expected net value (before
   reading costs) of deciding with the structured fields only (the exact Bayes
   estimate, an upper bound for any tabular model), with the keyword reader fitted
   on the history's labelled replies (funnel/keyword.py), with the simulated LLM's
   reading of the text (funnel/simulated_llm.py; overall and per construction) and
   with a perfect reading of the reply, as shares of the oracle's and of the perfect
   reading's gain over the fields alone.
2. The strategies over many seeds (the whole pipeline per seed): expected net value,
   reads, paired differences and each control's counterfactual, at the defaults.
3. The reader sweep (`reader_sweep`, issue 21): cascade - TRM alone for readers of noise 0-2 and bias +-1.
Fine-tuning runs once per seed. The controls against their best fixed policies: controls_bench.py.
"""

from __future__ import annotations

import time

import numpy as np

from bench.measure import in_processes


def reading_value(opportunities: int, seed: int) -> dict:
    """Expected net value of deciding with each reading, as a share of the oracle's and of a perfect reading's gain
    over the fields alone; the simulated LLM also per construction (only the facts stated through it are read)."""
    from trm_demo.config import load_config
    from trm_demo.funnel.keyword import fit_keyword_reader, keyword_flags
    from trm_demo.funnel.market import (expected_hidden_logit, conversion_logit, labelled_history, sample_market,
                                        squash, structured_only_probability)
    from trm_demo.funnel.messages import CONSTRUCTIONS, FACTS
    from trm_demo.funnel.simulated_llm import read_facts
    cfg = load_config()
    sim, drift, k = cfg.simulation, cfg.market.drift, cfg.market.candidates_per_opportunity
    history, outcome = labelled_history(np.random.default_rng([seed, 0]), cfg.training.samples, drift)
    keyword = fit_keyword_reader(_logit(structured_only_probability(history.pairs(), drift))[:, 0],
                                 history.messages[:, 0], history.urgency, outcome)
    market = sample_market(np.random.default_rng(seed), opportunities, k, drift)
    n, fields = market.n_opportunities, market.pairs()
    bayes = structured_only_probability(fields, drift)
    urgency = np.broadcast_to(market.urgency[:, None], (n, k)).ravel()
    read_values, read_stated = (
        {fact: a.reshape(n, k) for fact, a in table.items()} for table in read_facts(market.messages.ravel()))
    structured = conversion_logit(**fields, drift=drift)

    def value(estimate):
        pick = estimate.argmax(axis=1)
        rows = np.arange(len(pick))
        pursue = estimate[rows, pick] * sim.conversion_value > sim.outreach_cost
        return float((pursue * (market.p_true[rows, pick] * sim.conversion_value - sim.outreach_cost)).sum())

    def knowing(values, stated, through=None):
        """Decided with these facts, only those stated through `through` (fact -> (n, K) bool) when given."""
        known = {f: stated[f] & (True if through is None else through[f]) for f in FACTS}
        return squash(structured + expected_hidden_logit(values, known, fields, drift))

    llm = knowing(read_values, read_stated)
    noise = np.random.default_rng([seed, 1]).standard_normal((n, k))
    estimates = {"structured fields only (exact Bayes)": bayes,
                 "keyword reader (fitted on the history)": squash(
                     keyword.logit(_logit(bayes).ravel(), keyword_flags(market.messages.ravel()), urgency).reshape(n, k)),
                 "simulated LLM, its reading of the text": llm,
                 f"simulated LLM with its noise ({sim.llm_noise:g} logit)": squash(_logit(llm) + sim.llm_noise * noise),
                 "a perfect reading of the reply": squash(market.read_logit)}
    values = {name: value(e) for name, e in estimates.items()}
    oracle, fields_only = value(market.p_true), values["structured fields only (exact Bayes)"]
    perfect = values["a perfect reading of the reply"]
    truth = market.hidden
    prior = value(knowing(truth.values, truth.stated, {f: False for f in FACTS}))
    by_construction = {}
    for c, name in enumerate(CONSTRUCTIONS):
        through = {f: truth.construction[f] == c for f in FACTS}
        facts = np.concatenate([through[f].ravel() for f in FACTS])
        right = np.concatenate([(read_stated[f] & (read_values[f] == truth.values[f]))[through[f]] for f in FACTS])
        gain = value(knowing(truth.values, truth.stated, through)) - prior
        by_construction[name] = {
            "facts": int(facts.sum()), "llm_read_right": float(right.mean()) if right.size else None,
            "llm_share_of_perfect_gain": (value(knowing(read_values, read_stated, through)) - prior) / gain
            if gain > 0 else None}
    return {"opportunities": opportunities, "candidates": k, "history_replies": cfg.training.samples,
            "share_of_oracle_expected": {name: v / oracle for name, v in values.items()},
            "share_of_perfect_gain": {name: (v - fields_only) / (perfect - fields_only) for name, v in values.items()},
            "by_construction": by_construction}


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def fine_tuned(seed: int):
    """The default config at `seed` and a function that runs the funnel on any config with that seed's model,
    fine-tuned once (imports here: these run in spawned workers)."""
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
            return run_funnel(c, model, baseline, calls, cap)

    return cfg, run


def one_seed(seed: int) -> dict:
    """Fine-tune once; the default run."""
    cfg, run = fine_tuned(seed)
    result = run(cfg)
    return {"default": {"strategies": result.ledger.summary(), "counterfactuals": result.counterfactuals}}


READER_NOISE = (0.0, 0.3, 1.0, 2.0)   # simulation.llm_noise of the reader sweep
READER_BIAS = (-1.0, 0.0, 1.0)        # simulation.llm_bias


def reader_sweep_seed(seed: int) -> dict:
    """Fine-tune once; the cascade minus the TRM alone for every reader of the sweep (same opportunities)."""
    from trm_demo.config import load_config
    from trm_demo.funnel import pipeline
    from trm_demo.funnel.simulation import run_funnel
    from trm_demo.funnel.telemetry import call_log
    from trm_demo.ui import UI
    cfg = load_config().replace(**{"simulation.seed": seed})
    model = pipeline.starting_model(cfg)
    cap = pipeline.step_cap(cfg, pipeline.fine_tune(cfg, model, UI(quiet=True)))
    baseline, out = pipeline.fit_baseline(cfg), {}
    for noise in READER_NOISE:
        for bias in READER_BIAS:
            c = cfg.replace(**{"simulation.llm_noise": noise, "simulation.llm_bias": bias})
            with call_log(None) as calls:
                s = run_funnel(c, model, baseline, calls, cap).ledger.summary()
            out[f"{noise:g},{bias:g}"] = {"cascade_minus_trm": s["cascade"]["expected_net_value"]
                                          - s["trm"]["expected_net_value"],
                                          "cascade": s["cascade"]["expected_net_value"]}
    return out


def reader_sweep(seeds: list[int]) -> dict:
    """Issue 21's reader sweep: cascade - TRM alone ($ per run, paired 95 % interval) for every reader noise x bias,
    and each reader's cascade minus the default reader's; the cascade calibrates on outcomes (calibration.py)."""
    from trm_demo.funnel.evaluation import mean_ci
    per_seed = in_processes(reader_sweep_seed, list(seeds))
    default = [s["0.3,0"]["cascade"] for s in per_seed]
    return {"seed_list": list(seeds), "readers": {
        key: {"cascade_minus_trm": mean_ci([s[key]["cascade_minus_trm"] for s in per_seed]),
              "cascade_minus_default_reader": mean_ci([s[key]["cascade"] - d for s, d in zip(per_seed, default)])}
        for key in per_seed[0]}}


def summarise(per_seed: list[dict]) -> dict:
    from trm_demo.funnel.evaluation import summarise as evaluation_summary
    return {"default": evaluation_summary([s["default"] for s in per_seed])}


def run(seeds: int, opportunities: int) -> dict:
    started = time.perf_counter()
    per_seed = in_processes(one_seed, list(range(1, seeds + 1)))
    return {"reading": reading_value(opportunities, seed=12345), **summarise(per_seed),
            "seed_list": list(range(1, seeds + 1)), "wall_seconds": time.perf_counter() - started}
