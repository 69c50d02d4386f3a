"""The market and the controls, measured (the `market` section of `python -m bench`).

1. What reading is worth, and what keywords get of it: expected net value (before
   reading costs) of deciding with the structured fields only (the exact Bayes
   estimate, an upper bound for any tabular model), with the keyword reader fitted
   on the history's labelled replies (funnel/keyword.py), with the simulated LLM's
   reading of the text (funnel/simulated_llm.py; overall and per construction) and
   with a perfect reading of the reply, as shares of the oracle's and of the perfect
   reading's gain over the fields alone.
2. The strategies over many seeds (the whole pipeline per seed): expected net value,
   reads, paired differences and each control's counterfactual, at the defaults with the
   reading TRM's tier on (reading_trm.enabled: the three-tier table, issue 25; the other
   strategies decide exactly as in a default run).
3. The reader sweep (`reader_sweep`, the `readers` section, issue 21): the cascade against the TRM alone, the keyword
   reader and itself with the default reader, for readers of noise 0-2, bias +-1, no signal and blank replies;
   and the deferral curve's orders (VOI, the base's top k, hindsight) at equal shares read.
Fine-tuning runs once per seed. The controls against their best fixed policies: controls_bench.py.
"""

from __future__ import annotations

import time

import numpy as np

from bench.measure import in_processes
from trm_demo.funnel.reading import Readings


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

    def run(c, readings=None):
        with call_log(None) as calls:
            return run_funnel(c, model, baseline, calls, cap, readings=readings)

    return cfg, run


def one_seed(seed: int) -> dict:
    """Fine-tune once; the default run with the reading TRM's tier on."""
    cfg, run = fine_tuned(seed)
    result = run(cfg.replace(**{"reading_trm.enabled": True}))
    return {"default": {"strategies": result.ledger.summary(), "counterfactuals": result.counterfactuals}}


# The reader sweep (issue 21): each reader is the default config with these knobs, on the same opportunities and
# random numbers; "no signal" reads noise independent of reply, fields and truth (NoSignal); "blank replies" is the
# same world with every reply empty (world.replies: blank), where the text carries nothing to read.
READERS = {"default (noise 0.3)": {}, "noise 0": {"simulation.llm_noise": 0.0},
           "noise 1.0": {"simulation.llm_noise": 1.0}, "noise 1.5": {"simulation.llm_noise": 1.5},
           "noise 2.0": {"simulation.llm_noise": 2.0}, "bias -1": {"simulation.llm_bias": -1.0},
           "bias +1": {"simulation.llm_bias": 1.0}, "no signal": {}, "blank replies": {"world.replies": "blank"}}
DEFERRAL_SHARES = (0.1, 0.2, 0.4)   # shares of candidates read where the deferral curve's orders are compared


class NoSignal(Readings):
    """A reader whose logit is noise (sd 1.5, mean -1), independent of reply, fields and truth; priced as the LLM."""

    def read(self, block, rows, cols, history=False):
        return (1.5 * block.reading_noise[rows, cols] - 1.0, np.ones(len(rows), bool),
                np.full(len(rows), self.cfg.simulation.llm_cost))


def reader_sweep_seed(seed: int) -> dict:
    """Fine-tune once; every reader of READERS on the same opportunities: cascade, TRM and keyword reader's expected
    net value and the cascade's reads; with the default reader also the deferral curve (landscape.py)."""
    from trm_demo.funnel.landscape import deferral_curve
    from trm_demo.funnel.simulation import keyword_estimate, trm_estimate
    cfg, run = fine_tuned(seed)
    out = {}
    for name, knobs in READERS.items():
        c = cfg.replace(**knobs) if knobs else cfg
        result = run(c, NoSignal(c) if name == "no signal" else None)
        s = result.ledger.summary()
        out[name] = {key: s[key]["expected_net_value"] for key in ("cascade", "trm", "keyword", "oracle")}
        out[name]["reads"] = s["cascade"]["llm_reads"]
        if name == "default (noise 0.3)":
            block, cap, trust = result.sample
            trm = trm_estimate(block, c, cap).estimate
            curve = deferral_curve(block, keyword_estimate(result.keyword, block, trm), trust, c,
                                   np.random.default_rng([seed, 7]), trm)
            shares = curve["share_read"]
            deferral = {order: {f"{x:g}": values[shares.index(x)] for x in DEFERRAL_SHARES}
                        for order, values in curve["share_of_oracle_expected"].items()}
    return {"readers": out, "deferral": deferral}


def reader_sweep(seeds: list[int]) -> dict:
    """Issue 21's reader sweep: per reader, cascade - TRM alone, cascade - keyword reader and cascade - the cascade
    with the default reader ($ per run, paired 95 % interval) and the cascade's reads; the cascade's trust is fitted
    on outcomes (calibration.py). And the deferral curve at equal shares read: VOI, the base's top k, hindsight."""
    started = time.perf_counter()
    per_seed = in_processes(reader_sweep_seed, list(seeds))
    return {"seed_list": list(seeds), **summarise_readers(per_seed), "wall_seconds": time.perf_counter() - started}


def summarise_readers(per_seed: list[dict]) -> dict:
    """reader_sweep_seed's results over seeds: paired differences per reader, the deferral orders per share read."""
    from trm_demo.funnel.evaluation import mean_ci
    runs = [s["readers"] for s in per_seed]
    default = [r["default (noise 0.3)"]["cascade"] for r in runs]

    def paired(name, rival):
        return mean_ci([r[name]["cascade"] - r[name][rival] for r in runs])

    readers = {name: {"cascade_minus_trm": paired(name, "trm"), "cascade_minus_keyword": paired(name, "keyword"),
                      "cascade_minus_default_reader": mean_ci([r[name]["cascade"] - d for r, d in zip(runs, default)]),
                      "cascade_share_of_oracle": mean_ci([r[name]["cascade"] / r[name]["oracle"] for r in runs]),
                      "reads": mean_ci([r[name]["reads"] for r in runs])} for name in READERS}
    orders = per_seed[0]["deferral"]
    deferral = {order: {x: mean_ci([s["deferral"][order][x] for s in per_seed]) for x in orders[order]}
                for order in orders}
    deferral["voi_minus_top_k"] = {x: mean_ci([s["deferral"]["voi"][x] - s["deferral"]["top_k"][x] for s in per_seed])
                                   for x in orders["voi"]}
    deferral["oracle_minus_voi"] = {x: mean_ci([s["deferral"]["oracle"][x] - s["deferral"]["voi"][x]
                                                for s in per_seed]) for x in orders["voi"]}
    return {"readers": readers, "deferral": deferral}


def summarise(per_seed: list[dict]) -> dict:
    from trm_demo.funnel.evaluation import summarise as evaluation_summary
    return {"default": evaluation_summary([s["default"] for s in per_seed])}


def run(seeds: int, opportunities: int) -> dict:
    started = time.perf_counter()
    per_seed = in_processes(one_seed, list(range(1, seeds + 1)))
    return {"reading": reading_value(opportunities, seed=12345), **summarise(per_seed),
            "seed_list": list(range(1, seeds + 1)), "wall_seconds": time.perf_counter() - started}
