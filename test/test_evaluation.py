"""Multi-seed evaluation: the interval maths, the verdict wording, and parallel == serial."""

import math
from functools import partial

import pytest

from trm_demo.funnel.pipeline import strategies_for_seed
from trm_demo.config import load_config
from trm_demo.funnel.evaluation import evaluate_seeds, mean_ci
from trm_demo.funnel.simulation import STRATEGIES
from trm_demo.report.formats import FULL, ORDER, PHRASE, SHORT, verdict, verdicts
from trm_demo.ui import UI

TINY = {"simulation.opportunities": 30, "training.epochs": 1, "training.samples": 64,
        "training.holdout_samples": 64}
ONE_SEED = partial(strategies_for_seed, ui=UI(quiet=True))   # as the CLI sends it to a worker


def test_mean_ci_matches_a_hand_computed_student_t_interval():
    # values 1..5: mean 3, sample sd sqrt(2.5), t(0.975, df=4) = 2.776
    stat = mean_ci([1, 2, 3, 4, 5])
    assert stat["mean"] == 3 and stat["n"] == 5
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert stat["half_width"] == pytest.approx(half, rel=1e-9)
    assert stat["ci95"] == pytest.approx([3 - half, 3 + half], rel=1e-9)
    assert mean_ci([7.0])["ci95"] is None
    assert mean_ci([2.0] * 40)["ci95"] == [2.0, 2.0]


def test_verdict_says_no_significant_difference_when_the_interval_crosses_zero():
    def stat(mean):
        return {"mean": mean, "half_width": 8.0, "n": 10}
    assert "no significant difference" in verdict(stat(5.0), "TRM vs greedy", "per run")
    assert verdict(stat(50.0), "TRM vs greedy", "per run").startswith("TRM beats greedy by $50")
    assert verdict(stat(-50.0), "TRM vs greedy", "per run").startswith("TRM trails greedy")


def test_every_strategy_has_its_names_and_the_verdicts_use_the_phrases():
    assert sorted(ORDER) == sorted(STRATEGIES)
    assert all(FULL[k] and SHORT[k] and PHRASE[k] for k in ORDER)
    stat = {"mean": 50.0, "half_width": 8.0, "n": 10}
    assert verdicts({"cascade-llm": stat, "trm-greedy": {**stat, "mean": -2.0}}) == [
        "the cascade beats the LLM reading everyone by $50 ± $8 expected net value per run over 10 seeds",
        "the TRM alone vs the greedy rule of thumb: no significant difference (-$2 ± $8 expected net value per run "
        "over 10 seeds)"]


def test_parallel_and_serial_evaluation_give_identical_results():
    cfg = load_config(None, TINY)
    serial = evaluate_seeds(cfg, [3, 4], ONE_SEED, workers=1)
    parallel = evaluate_seeds(cfg, [3, 4], ONE_SEED, workers=2)
    assert serial == parallel
    assert serial["per_seed_expected_net_value"]["trm"][0] != serial["per_seed_expected_net_value"]["trm"][1]
    # the names the checks read: paired differences and each control's counterfactual
    assert {"cascade-llm", "cascade-trm"} <= set(serial["paired"])
    assert set(serial["counterfactuals"]) == {"thermostat", "sentinel"}
    low, high = serial["strategies"]["cascade"]["expected_net_value"]["ci95"]
    assert low <= serial["strategies"]["cascade"]["expected_net_value"]["mean"] <= high
