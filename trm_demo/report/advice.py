"""The advice: what to do, by how much and how sure, in plain text, for a reader who reads nothing else.

The terminal prints it under the strategy table and the dossier opens with it (in bold: the dossier adds the
Markdown), so both say the same sentence. Every figure in it comes from `recommendation`, which tests check
against the metrics. The margin is over the runner-up among the rivals (the oracle is a yardstick): what the
winner gains against the best alternative, not against a weak one.
"""

from __future__ import annotations

from dataclasses import dataclass

from trm_demo.report.findings import Comparison, Significance, comparison, lead_over_seeds, ranking
from trm_demo.report.formats import Per, finite, money, plus_minus, signed
from trm_demo.results import RunResult
from trm_demo.strategies import strategy

# One seed is one seed: the reader is told how to get an interval (the controls' figures say it too).
SEEDS_HINT = "run `--seeds 10` for an interval"
ONE_SEED = f"one seed: {SEEDS_HINT}"


@dataclass(frozen=True)
class Recommendation:
    best: str
    runner_up: str
    per_run: float                # best minus runner-up, expected net value, $ per run (this run's seed)
    per_opportunity: float
    over_seeds: Comparison | None  # the paired lead over the --seeds evaluation, $ per run, when it measured it
    seeds: int                    # 1 without --seeds


def recommendation(result: RunResult) -> Recommendation:
    first, second = ranking(result)[:2]
    s = result.strategies
    margin = s[first].expected_net_value - s[second].expected_net_value
    evaluation = result.evaluation
    return Recommendation(first, second, margin, margin / max(result.run.opportunities, 1),
                          lead_over_seeds(result, first, second), evaluation.seeds if evaluation else 1)


def llm_failed(llm: dict) -> bool:
    """A real LLM failed more reads than reading.MAX_FAILED_SHARE: no verdict involving it is valid."""
    return bool(llm.get("real")) and not llm.get("verdicts_valid", True)


def sentence(result: RunResult) -> str:
    """The advice in plain text (no Markdown marks)."""
    llm = result.run.llm
    if llm_failed(llm):   # no advice from an outage
        return (f"The LLM failed {llm.get('failed_reads', 0):,} of {llm.get('candidates_read', 0):,} reads: no "
                "verdict involving it (the cascade, the LLM alone) is valid in this run; check the server at "
                "llm.base_url and rerun.")
    r = recommendation(result)
    what = strategy(r.best).advice.strip("*")   # the record carries the dossier's bold
    runner = f"{strategy(r.runner_up).phrase}, the next best"
    lead, n = r.over_seeds, result.run.opportunities
    if lead is None:
        how_sure = ONE_SEED if r.seeds == 1 else f"this seed only: the {r.seeds}-seed evaluation did not pair the two"
        return (f"{what} It made {money(r.per_opportunity, Per.OPPORTUNITY, 2)} ({money(r.per_run, Per.RUN, 2)}) "
                f"more expected net value than {runner}; {how_sure}.")
    per_opportunity = plus_minus(lead.mean / n, lead.half_width / n, Per.OPPORTUNITY, 2)
    per_run = plus_minus(lead.mean, lead.half_width, Per.RUN, 0)
    if lead.significance is Significance.NOT_SIGNIFICANT:
        return (f"{what} Across {lead.seeds} seeds it is not measurably ahead of {runner} ({per_opportunity}, "
                f"{per_run}, 95 % interval): either will do.")
    if lead.significance is Significance.BEHIND:   # this seed's winner is not the seeds' winner
        return (f"{what} That holds on this seed only: across {lead.seeds} seeds it made {per_opportunity} "
                f"({per_run}, 95 % interval) of expected net value against {runner}.")
    return (f"{what} Across {lead.seeds} seeds it made {per_opportunity} ({per_run}, 95 % interval) more expected "
            f"net value than {runner}.")


# --- what a control did: expected first, per opportunity and per run; realised beside it, labelled --------------

def control_effect(result: RunResult, control: str) -> str | None:
    """The run minus its replay without `control`, in words; None when the run made no such replay. One seed gives
    a signed figure and no verb; over --seeds the 95 % interval decides the verb (earned / cost / no measurable
    effect)."""
    cf = result.counterfactuals.get(control)
    if cf is None:
        return None
    n = max(result.run.opportunities, 1)
    this_seed = (f"{signed(cf.expected_net_value_delta / n, Per.OPPORTUNITY, 2)} "
                 f"({signed(cf.expected_net_value_delta, Per.RUN, 2)}) of expected net value on this seed")
    realised = f"realised on this seed's outcomes: {signed(cf.net_value_delta, Per.RUN, 2)}"
    over = result.evaluation.counterfactuals.get(control) if result.evaluation else None
    if over is None or not (finite(over.mean) and finite(over.half_width)):
        return f"{this_seed} ({realised}; {SEEDS_HINT})"
    found = comparison("run-replay", over)
    figures = (f"{plus_minus(abs(over.mean) / n, over.half_width / n, Per.OPPORTUNITY, 2)} "
               f"({plus_minus(abs(over.mean), over.half_width, Per.RUN, 2)}) of expected net value over "
               f"{over.n} seeds (95 % interval)")
    verb = {Significance.AHEAD: "earned ", Significance.BEHIND: "cost "}.get(found.significance)
    if verb is None:
        figures = (f"no measurable effect: {plus_minus(over.mean / n, over.half_width / n, Per.OPPORTUNITY, 2, sign=True)}"
                   f" ({plus_minus(over.mean, over.half_width, Per.RUN, 2, sign=True)}) of expected net value over "
                   f"{over.n} seeds (95 % interval)")
    return f"{verb or ''}{figures}; this seed: {this_seed} ({realised})"
