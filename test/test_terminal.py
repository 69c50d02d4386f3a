"""The terminal summary and the `puzzle eval` table: every figure in 80 columns, the full layout when wider."""
import dataclasses
import io

import pytest

from trm_demo.config import load_config
from trm_demo.funnel.landscape import break_even_map, grid
from trm_demo.report.formats import Per, price
from trm_demo.results import (BreakEvenMap, CascadeSummary, ChangedKey, Changes, Counterfactual, DeferralCurve,
                              Economics, Evaluation, Interval, Landscape, Replay, RunInfo, RunResult, Scenario,
                              Selection, SentinelSummary, StrategyIntervals, StrategyResult, ThermostatSummary,
                              TrainingSummary, WallClock, build)
from trm_demo.strategies import KEYS
from trm_demo.sudoku.cli import print_eval_table
from trm_demo.ui import UI, Console, config_line

ROW = {"expected_net_value": 8_819_967.06, "share_of_oracle_expected": 0.9237, "net_value": 8_901_234.56,
       "llm_reads": 12_345, "llm_cost": 2_469.0}
SIMULATED = {"provider": "simulated", "real": False, "model": "simulated reader", "noise_logit_sd": 0.3,
             "bias_logit": 0.0}


def totals(**figures) -> StrategyResult:
    """A strategy's totals: these figures, zero elsewhere."""
    return StrategyResult(**{**{f.name: 0 for f in dataclasses.fields(StrategyResult)}, **figures})


def control(expected: float, realised: float) -> Counterfactual:
    return Counterfactual(expected, realised, 0.0, Replay(0.0, 0.0, 0.0, 0, 0))


RESULT = RunResult(
    run=RunInfo("python main.py", 7, "abc", opportunities=200, planned_opportunities=200,
                candidates_per_opportunity=8, checkpoint=None, llm=SIMULATED, versions={}, numerics={}),
    definitions={},
    strategies={key: totals(**{**ROW, "llm_reads": 302 if key == "cascade" else ROW["llm_reads"]}) for key in KEYS},
    counterfactuals={"thermostat": control(54.27, 99.8), "sentinel": control(-21.64, 280.1),
                     "budget": control(-171.27, 352.8)},
    scenario=Scenario(()), cascade=CascadeSummary(2, 0.8, 0.0, 0.3, 600, 450, 512, 102.4),
    thermostat=ThermostatSummary(final_hurdle=9.19, moves=1, history=()),
    sentinel=SentinelSummary("closed", llm_spent=89.8, llm_budget=90.0,
                             events=({"opportunity": 140, "state": "open", "from": "closed",
                                      "reason": "50% of the last 20 LLM calls failed"},)),
    frontier=(),
    landscape=Landscape(500, DeferralCurve((), {}, None, ""), BreakEvenMap((), (), (), 1, Economics(100.0, 0.2))),
    training=TrainingSummary("scratch", 0, Selection(None, None, None), (), ()),
    wall_clock=WallClock(0.0, 0.0, 0.0, 0.0, ""),
    changes=Changes("my.yaml", ("--config",),
                    (ChangedKey("simulation.llm_cost", 0.2, 0.05, "my.yaml"),
                     ChangedKey("scenario.events", [{"at": 80, "llm_price_multiplier": 2.5}], [], "my.yaml"))))


def summary(width: int, quiet: bool = False, result: RunResult = RESULT) -> str:
    ui = UI(quiet=quiet)
    ui.out = Console(file=io.StringIO(), width=width, highlight=False)
    ui.summary(result, {"report": "assets/trm_executive_report.md"})
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
    assert "Expected = at the true conversion probabilities" in text and "Realised = on the drawn outcomes" in text
    assert "the LLM read 302 replies (18.9% of candidates); LLM spend per run: $89.80 of a $90.00 budget" in text
    assert "escalation threshold ended at 9.19 x the LLM price after 1 move; against the best fixed threshold:" in text
    assert ("+$0.27 per opportunity (+$54.27 per run) of expected net value on this seed (realised on this seed's "
            "outcomes: +$99.80 per run; run `--seeds 10` for an interval)") in text
    assert ("LLM outage guard: 1 event, LLM in use at the end; against no outage guard or TRM fallback: -$0.11 per "
            "opportunity (-$21.64 per run)") in text
    assert "opportunity 140: LLM in use -> LLM switched off (TRM decides) (50% of the last 20 LLM calls failed)" in text
    assert "LLM budget: against no budget: -$0.86 per opportunity (-$171.27 per run)" in text and "LLM: simulated" in text


@pytest.mark.parametrize("width", [80, 120])
def test_the_advice_is_the_first_line_after_the_table_and_the_main_lines_speak_plainly(width):
    from trm_demo.report import advice
    text = summary(width)
    after = text.split("Oracle (upper bound)" if width > 100 else "Oracle ", 1)[1].split("\n", 2)[-1]
    lines = after.splitlines()
    if width <= 100:   # the narrow layout's key to its short names comes first
        assert "Cascade = " not in lines[0] and "Expected = Expected" not in lines[0]
        lines = lines[lines.index(next(line for line in lines if line.startswith("Advice: "))):]
    assert " ".join(" ".join(lines).split()).startswith("Advice: " + " ".join(advice.sentence(RESULT).split()))
    for jargon in ("hurdle", "breaker", "half_open", "TRM guard", "logit", "P(convert)"):
        assert jargon not in text


def test_control_characters_a_user_typed_never_reach_the_terminal():
    hostile = "evil\x1b]0;pwned\x07\x1b[2J\nforged line\x9b"
    real = {"provider": "openai_compatible", "real": True, "model": hostile}
    result = dataclasses.replace(RESULT, run=dataclasses.replace(RESULT.run, llm=real),
                                 changes=Changes(hostile + ".yaml", (), (ChangedKey("llm.model", "", hostile, "x"),)))
    text = summary(120, result=result)
    assert not any(ch in text for ch in "\x1b\x07\x9b") and "\nforged line" not in text
    assert "evil\\x1b]0;pwned\\x07" in text   # shown as escapes, so the user sees what was typed
    ui = UI()
    ui.err = Console(file=io.StringIO(), width=120, stderr=True)
    ui.warn("file " + hostile)
    assert "\x1b" not in ui.err.file.getvalue()


def test_help_defines_the_terms_the_summary_uses(capsys):
    from trm_demo.__main__ import main
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for term in ("Escalation threshold:", "LLM outage guard:", "Expected net value:", "Spend pacing:", "Logit:"):
        assert term in text


def test_a_real_llm_is_named_as_real():
    real = {"provider": "openai_compatible", "real": True, "model": "llama3.1:8b"}
    result = dataclasses.replace(RESULT, run=dataclasses.replace(RESULT.run, llm=real))
    assert "LLM: real (openai_compatible, model llama3.1:8b)" in summary(120, result=result)


def test_plurals_and_the_config_line():
    text = " ".join(summary(120).split())
    assert ("Config: my.yaml; 2 keys differ from the defaults: simulation.llm_cost 0.05 (default: 0.2), "
            "scenario.events [] (default: [{at: 80, llm_price_multiplier: 2.5}])") in text
    assert config_line(Changes(None, (), ())) == \
        "Config: shipped defaults; no key differs from the defaults"


def test_quiet_prints_only_the_summary_table():
    text = summary(120, quiet=True)
    assert "TRM alone" in text and "Wrote:" not in text and "Config:" not in text


def test_the_seeds_table_fits_80_columns_with_intervals_and_verdicts():
    stat = Interval(10_311.4, (10_100.0, 10_522.8), 211.4, 10)
    share, reads = Interval(0.923, (0.91, 0.936), 0.013, 10), Interval(301.0, (290.0, 312.0), 11.0, 10)
    evaluation = Evaluation(
        seeds=10, strategies={k: StrategyIntervals(stat, stat, share, reads, stat) for k in KEYS}, paired={},
        counterfactuals={"thermostat": Interval(31.5, (2.0, 61.0), 29.5, 10),
                         "sentinel": Interval(-4.0, (-20.0, 12.0), 16.0, 10)},
        per_seed_expected_net_value={}, seed_list=tuple(range(10)),
        verdicts=("the cascade beats the LLM reading everyone by $1,203 ± $140 expected net value per run "
                  "over 10 seeds",))
    result = dataclasses.replace(RESULT, evaluation=evaluation)
    for width in (80, 120):
        text = summary(width, result=result)
        assert all(len(line) <= width for line in text.splitlines()) and "…" not in text
        assert "$10,311 ± 211" in text and "92.3% ± 1.3%" in text and "Over 10 seeds" in text
        assert "the cascade beats the LLM reading everyone by $1,203" in " ".join(text.split())
        assert "thermostat +$31.50 ± $29.50" in " ".join(text.split())


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


def test_the_break_even_map_fits_80_columns_with_every_price_and_the_runs_cell():
    cfg = load_config()
    prices, values = grid(cfg)
    per_seed = [[{"conversion_value": v, "llm_price": p, "cascade_share_read": 0.2,
                  "per_opportunity": {k: {"trm": 40.0 + i, "cascade": 40.0 + (2 if p < 1 else -1) + i}.get(k, 10.0)
                                      for k in KEYS}} for v in values for p in prices] for i in range(5)]
    grid_ = build(BreakEvenMap, break_even_map(per_seed, cfg))
    result = dataclasses.replace(RESULT, landscape=dataclasses.replace(RESULT.landscape, break_even=grid_))
    for width in (80, 160):
        text = summary(width, result=result)
        assert all(len(line) <= width for line in text.splitlines()) and "…" not in text
        table = text[text.index("Break-even map"):]
        assert all(price(p, Per.CELL) in table for p in prices) and table.count("★") == 3   # the title, the cell and its line
        assert "TRM alone" in table and "mean over 5 seeds" in table
        assert "Cascade − TRM alone +$2.00 ± $0.00 per opportunity paired over 5 seeds" in " ".join(table.split())


@pytest.mark.parametrize("terminal", [True, False])
def test_a_long_message_wraps_at_its_spaces_on_a_terminal_and_stays_one_line_when_piped(monkeypatch, capsys,
                                                                                         terminal):
    """The checkpoint's line at 80 columns: the terminal would cut its hash; rich breaks it before `(sha256`.
    Piped or captured (a log, grep), the message keeps one line."""
    from trm_demo.trm.weights import describe_source
    line = describe_source({"path": "/home/someone/trm-demo/trm_demo/checkpoints/pretrained_trm.npz",
                            "sha256": "925d526f" * 8})
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1" if terminal else "0")
    UI().message(line)
    printed = capsys.readouterr().err
    assert printed == (line.replace(" (sha256", "\n(sha256") if terminal else line) + "\n"
    assert all(len(part) <= 80 for part in printed.splitlines()) == terminal
