"""Multi-seed evaluation: the interval maths, the paired differences' significance and wording, parallel == serial."""

import math
from functools import partial

import pytest

from trm_demo.funnel.pipeline import strategies_for_seed
from trm_demo.config import load_config
from trm_demo.funnel.evaluation import evaluate_seeds, mean_ci
from trm_demo.report.findings import Significance, comparison
from trm_demo.report.formats import verdicts
from trm_demo.results import Interval
from trm_demo.strategies import KEYS, STRATEGIES, strategy
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


def test_a_paired_difference_is_significant_only_when_its_interval_excludes_zero():
    def stat(mean, half=8.0):
        return Interval(mean, None if half is None else (mean - half, mean + half), half, 10)
    assert comparison("trm-greedy", stat(5.0)).significance is Significance.NOT_SIGNIFICANT
    assert comparison("trm-greedy", stat(-8.0)).significance is Significance.NOT_SIGNIFICANT   # touching zero
    assert comparison("trm-greedy", stat(50.0)).significance is Significance.AHEAD
    assert comparison("trm-greedy", stat(-50.0)).significance is Significance.BEHIND
    assert comparison("trm-greedy", stat(50.0, None)).significance is Significance.ONE_SEED
    assert (comparison("trm-greedy", stat(5.0)).a, comparison("trm-greedy", stat(5.0)).b) == ("trm", "greedy")


def test_every_strategy_is_one_record_and_the_verdicts_use_its_phrase():
    assert len(set(KEYS)) == len(STRATEGIES)
    assert all(s.name and s.short and s.phrase and s.advice.startswith("**") for s in STRATEGIES)
    assert [s.key for s in STRATEGIES if not s.rival] == ["oracle"]
    stat = {"mean": 50.0, "ci95": [42.0, 58.0], "half_width": 8.0, "n": 10}
    assert verdicts({"cascade-llm": stat, "trm-greedy": {**stat, "mean": -2.0}}) == [
        "the cascade beats the LLM reading everyone by $50 ± $8 per run of expected net value over 10 seeds",
        "the TRM alone vs the greedy rule of thumb: no significant difference in expected net value (-$2 ± $8 per "
        "run over 10 seeds)"]
    assert strategy("newcomer").phrase == "newcomer"   # a key this version does not know is named by itself


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
