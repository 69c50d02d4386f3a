"""The terminal summary and the `puzzle eval` table: every figure in 80 columns, the full layout when wider."""
import copy
import io

import pytest

from trm_demo.sudoku.cli import print_eval_table
from trm_demo.ui import UI, Console, config_line

ROW = {"expected_net_value": 8_819_967.06, "share_of_oracle_expected": 0.9237, "net_value": 8_901_234.56,
       "llm_reads": 12_345, "llm_cost": 2_469.0, "fallback_decisions": 0}
METRICS = {
    "run": {"opportunities": 200, "candidates_per_opportunity": 8,
            "llm": {"provider": "simulated", "real": False, "model": "simulated reader", "noise_logit_sd": 0.3,
                    "bias_logit": 0.0}},
    "strategies": {key: dict(ROW) for key in ("cascade", "trm", "llm", "logistic", "greedy", "oracle")},
    "thermostat": {"final_hurdle": 9.19, "moves": 1, "history": []},
    "sentinel": {"state": "closed", "llm_spent": 89.8, "llm_budget": 90.0,
                 "events": [{"opportunity": 140, "state": "open", "from": "closed",
                             "reason": "50% of the last 20 LLM calls failed"}]},
    "counterfactuals": {"thermostat": {"expected_net_value_delta": 54.27, "net_value_delta": 99.8},
                        "sentinel": {"expected_net_value_delta": -21.64, "net_value_delta": 280.1},
                        "budget": {"expected_net_value_delta": -171.27, "net_value_delta": 352.8}},
    "changes": {"config_file": "my.yaml", "flags": ["--config"],
                "keys": [{"key": "simulation.llm_cost", "default": 0.2, "value": 0.05, "set_by": "my.yaml"},
                         {"key": "scenario.events", "default": [{"at": 80, "llm_price_multiplier": 2.5}],
                          "value": [], "set_by": "my.yaml"}]}}
METRICS["strategies"]["cascade"]["llm_reads"] = 302


def summary(width: int, quiet: bool = False, metrics: dict = METRICS) -> str:
    ui = UI(quiet=quiet)
    ui.out = Console(file=io.StringIO(), width=width, highlight=False)
    ui.summary(metrics, {"report": "assets/trm_executive_report.md"})
    return ui.out.file.getvalue()


@pytest.mark.parametrize("width", [60, 80])
def test_every_figure_survives_a_narrow_terminal(width):
    text = summary(width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "…" not in text
    for figure in ("$8,819,967.06", "92.4%", "$8,901,234.56", "12,345", "$2,469.00", "302"):
        assert figure in text
    assert "LLM alone = LLM reads everyone" in " ".join(text.split())   # short names are explained under the table


def test_the_rows_come_in_the_cascades_order():
    text = summary(160)
    names = ["Cascade (TRM + LLM)", "TRM alone", "LLM reads everyone", "Logistic regression",
             "Greedy rule of thumb", "Oracle (upper bound)"]
    assert [text.index(n) for n in names] == sorted(text.index(n) for n in names)
    assert "% of Oracle (exp.)" in text and " = LLM reads everyone" not in text


def test_the_lines_under_the_table_give_the_controls_dollars_and_say_the_llm_is_simulated():
    text = " ".join(summary(120).split())
    assert "Expected = from the true P(convert)" in text and "Realised = on the drawn outcomes" in text
    assert "the LLM read 302 replies (18.9% of candidates); LLM spend $89.80 of a $90.00 budget" in text
    assert "hurdle 9.19 x price after 1 move;" in text and "+$54.27 expected (+$99.80 realised)" in text
    assert "Sentinel: 1 event, breaker closed; vs no breaker or TRM guard: -$21.64 expected" in text
    assert "opportunity 140: closed -> open (50% of the last 20 LLM calls failed)" in text
    assert "-$171.27 expected" in text and "LLM: simulated" in text


def test_a_real_llm_is_named_as_real():
    metrics = copy.deepcopy(METRICS)
    metrics["run"]["llm"] = {"provider": "openai_compatible", "real": True, "model": "llama3.1:8b"}
    assert "LLM: real (openai_compatible, model llama3.1:8b)" in summary(120, metrics=metrics)


def test_plurals_and_the_config_line():
    text = " ".join(summary(120).split())
    assert ("Config: my.yaml; 2 keys differ from the defaults: simulation.llm_cost 0.05 (default 0.2), "
            "scenario.events [] (default [{at: 80, llm_price_multiplier: 2.5}])") in text
    assert config_line({"config_file": None, "flags": [], "keys": []}) == \
        "Config: shipped defaults; no key differs from the defaults"


def test_quiet_prints_only_the_summary_table():
    text = summary(120, quiet=True)
    assert "TRM alone" in text and "Wrote:" not in text and "Config:" not in text


def test_the_seeds_table_fits_80_columns_with_intervals_and_verdicts():
    metrics = copy.deepcopy(METRICS)
    stat = {"mean": 10_311.4, "ci95": [10_100.0, 10_522.8], "half_width": 211.4, "n": 10}
    metrics["evaluation"] = {
        "seeds": 10,
        "strategies": {k: {"expected_net_value": stat, "share_of_oracle_expected":
                           {"mean": 0.923, "ci95": [0.91, 0.936], "half_width": 0.013, "n": 10},
                           "llm_reads": {"mean": 301.0, "ci95": [290.0, 312.0], "half_width": 11.0, "n": 10}}
                       for k in METRICS["strategies"]},
        "counterfactuals": {"thermostat": {"mean": 31.5, "ci95": [2.0, 61.0], "half_width": 29.5, "n": 10},
                            "sentinel": {"mean": -4.0, "ci95": [-20.0, 12.0], "half_width": 16.0, "n": 10}},
        "verdicts": ["the cascade beats the LLM reading everyone by $1,203 ± $140 expected net value per run "
                     "over 10 seeds"]}
    for width in (80, 120):
        text = summary(width, metrics=metrics)
        assert all(len(line) <= width for line in text.splitlines()) and "…" not in text
        assert "$10,311 ± 211" in text and "92.3% ± 1.3%" in text and "Over 10 seeds" in text
        assert "the cascade beats the LLM reading everyone by $1,203" in " ".join(text.split())
        assert "thermostat +$31.50 ± 29.50" in " ".join(text.split())


def test_the_puzzle_eval_table_splits_to_fit_80_columns():
    curve = [0.358, 0.96, 0.99, 0.996]
    result = {"puzzles": 500, "n_parameters": 28423, "steps": [1, 2, 3, 4], "exact_solve": curve,
              "blank_cell_accuracy": curve, "halting": [],
              "by_difficulty": {band: {"puzzles": 100, "exact_solve": curve}
                                for band in ("3 or fewer", "4", "5", "6 or more")},
              "comparisons": [{"name": "one-pass", "summary": "s", "exact_solve_by_step": curve}]}
    for width, tables in ((80, 2), (200, 1)):
        console = Console(file=io.StringIO(), width=width, highlight=False)
        print_eval_table(console, result)
        text = console.file.getvalue()
        assert all(len(line) <= width for line in text.splitlines()) and "…" not in text
        assert text.count("┏") == tables and text.count("99.6%") == 7
