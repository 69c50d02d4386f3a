"""The terminal summary and the `puzzle eval` table: every figure in 80 columns, the full layout when wider."""
import io

import pytest

from trm_demo.puzzle_cli import print_eval_table
from trm_demo.ui import UI, Console, config_line

ROW = {"success_rate": 0.62, "roi": 2.46, "total_value": 12_400_000.0, "total_cost": 3_580_032.94,
       "net_value": 8_819_967.06, "share_of_oracle": 1.0376, "compute_cost": 0.0329, "avg_steps": 3.96,
       "fallback_decisions": 1}
METRICS = {"strategies": {key: dict(ROW) for key in ("trm", "llm", "greedy", "oracle")},
           "halting": {"mean_steps_per_call": 3.49},
           "thermostat": {"final": {"step_cap": 1, "halt_threshold": 0.5}, "moves": 1, "target_roi": 50.0},
           "sentinel": {"events": [{"opportunity": 40, "guardrail": "roi_floor", "value": -0.2, "limit": 0.0,
                                    "state": "open"}], "state": "open", "spent": 0.03, "budget": 1.0},
           "changes": {"config_file": "my.yaml", "flags": ["--config"],
                       "keys": [{"key": "thermostat.target_roi", "default": 1.5, "value": 50.0, "set_by": "my.yaml"},
                                {"key": "simulation.outreach_cost", "default": 20.0, "value": 0.0,
                                 "set_by": "my.yaml"}]}}


def summary(width: int, quiet: bool = False) -> str:
    ui = UI(quiet=quiet)
    ui.out = Console(file=io.StringIO(), width=width, highlight=False)
    ui.summary(METRICS, {"report": "assets/trm_executive_report.md"})
    return ui.out.file.getvalue()


@pytest.mark.parametrize("width", [60, 80])
def test_every_figure_survives_a_narrow_terminal(width):
    text = summary(width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "…" not in text
    for figure in ("62.00%", "2.46", "$12,400,000.00", "$3,580,032.94", "$8,819,967.06", "103.76%"):
        assert figure in text
    assert "LLM (sim.) = LLM (simulated)" in text   # short names are explained under the table


def test_a_wide_terminal_gets_the_full_names_and_no_legend():
    text = summary(160)
    assert "Tiny Recursive Model" in text and "Share of Oracle" in text and " = Tiny Recursive Model" not in text


def test_plurals_and_the_config_line():
    text = summary(120)
    assert "after 1 move " in text and "1 event," in text and "1 greedy fallback decision\n" in text
    assert ("Config: my.yaml; 2 keys differ from the defaults: thermostat.target_roi 50 (default 1.5), "
            "simulation.outreach_cost 0 (default 20)") in " ".join(text.split())
    assert config_line({"config_file": None, "flags": [], "keys": []}) == \
        "Config: shipped defaults; no key differs from the defaults"


def test_quiet_prints_only_the_summary_table():
    text = summary(120, quiet=True)
    assert "Tiny Recursive Model" in text and "Wrote:" not in text and "Config:" not in text


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
