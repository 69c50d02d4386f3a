"""The executive dossier: rendered from the run's numbers, valid Mermaid, bounded in size.

The Mermaid checks run the real parser (test/mermaid/validate.mjs) and are skipped
locally without node tooling (`npm ci`), but fail in CI.
"""
import copy
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from trm_demo import cli
from trm_demo.config import load_config
from trm_demo.evaluation import summarise
from trm_demo.charts import PALETTE, chart, decimal, mermaid, quote
from trm_demo.reporting import advice, headline, render_report

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mermaid_check  # noqa: E402

SERIES = re.compile(r"^\s+(?:line|bar) \"[^\"]*\" \[(.*)\]$", re.MULTILINE)
Y_AXIS = re.compile(r"^\s+y-axis \"[^\"]*\" (-?[\d.]+) --> (-?[\d.]+)$", re.MULTILINE)
X_AXIS = re.compile(r"^\s+x-axis \"[^\"]*\" \[(.*)\]$", re.MULTILINE)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real small pipeline run; every output inside a temporary directory."""
    out = tmp_path_factory.mktemp("run")
    argv = ["--from-scratch", "--train-epochs", "1", "--opportunities", "60", "--quiet",
            "--export-json", str(out / "metrics.json"), "--export-training-log", str(out / "training.json"),
            "--export-report", str(out / "report.md"), "--telemetry", str(out / "calls.json")]
    assert cli.main(argv) == 0
    cfg = load_config(None, cli.overrides(cli.parse_args(argv)))
    return {"cfg": cfg, "report": out / "report.md",
            "metrics": json.loads((out / "metrics.json").read_text()),
            "training": json.loads((out / "training.json").read_text())}


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", text, re.DOTALL)


def assert_parses(tmp_path, text: str) -> None:
    mermaid_check.require_node_tooling()
    path = tmp_path / "check.md"
    path.write_text(text)
    result = mermaid_check.validate_markdown(path)
    assert result.returncode == 0, result.stdout + result.stderr


def with_net_values(metrics: dict, **net_values) -> dict:
    edited = copy.deepcopy(metrics)
    for name, value in net_values.items():
        edited["strategies"][name]["net_value"] = value
    return edited


# --- the real report ---

def test_generated_report_parses_with_the_real_mermaid_parser(run):
    mermaid_check.require_node_tooling()
    result = mermaid_check.validate_markdown(run["report"])
    assert result.returncode == 0, result.stdout + result.stderr
    blocks = mermaid_blocks(run["report"].read_text())
    assert len(blocks) >= 5
    charts = [block for block in blocks if "\nxychart-beta\n" in block]
    assert len(charts) >= 4
    assert all(block.startswith('%%{init: {"theme": "base"') and "plotColorPalette" in block for block in charts)
    assert any(block.startswith("flowchart") for block in blocks)


def test_written_report_is_exactly_the_rendered_text(run):
    assert run["report"].read_text() == render_report(run["cfg"], run["metrics"], run["training"])


def test_report_has_every_section_and_labels_the_llm_simulated(run):
    text = run["report"].read_text()
    for heading in ("## What you changed", "## Headline", "## Strategies", "## Architecture",
                    "## Control: thermostat", "## Depth vs quality frontier",
                    "## Training", "## Cost breakdown", "## Halting", "## Finding", "## Sentinel",
                    "## Configuration snapshot", "## Reproducibility"):
        assert heading in text
    assert "| LLM (simulated) |" in text
    assert f"`{run['metrics']['run']['config_hash']}`" in text
    assert "ablation (docs/BENCHMARKS.md)" in text
    assert "## Multi-seed evaluation" not in text    # absent section, skipped


# --- the headline follows the data ---

def test_headline_names_greedy_and_says_the_trm_lost_when_greedy_makes_most(run):
    s = run["metrics"]["strategies"]
    top = max(s["trm"]["net_value"], s["llm"]["net_value"])
    text = headline(with_net_values(run["metrics"], greedy=top + 500.0))
    assert text.startswith("**Greedy made the most net value")
    assert "The TRM lost on net value" in text


def test_headline_names_the_llm_when_it_beats_the_trm(run):
    s = run["metrics"]["strategies"]
    text = headline(with_net_values(run["metrics"], llm=s["trm"]["net_value"] + 250.0,
                                    greedy=s["trm"]["net_value"] - 1000.0))
    assert text.startswith("**LLM (simulated) made the most net value")
    assert "$250.00" in text and "The TRM lost on net value" in text


def test_headline_names_the_trm_when_it_wins_and_not_the_oracle(run):
    s = run["metrics"]["strategies"]
    metrics = with_net_values(run["metrics"], trm=max(s["llm"]["net_value"], s["greedy"]["net_value"]) + 400.0,
                              oracle=1e9)   # the oracle is the yardstick, never the winner
    text = headline(metrics)
    assert text.startswith("**TRM made the most net value") and "$400.00" in text
    assert "lost" not in text
    assert "of the oracle's net value" in text and "simulated LLM" in text


def test_headline_says_where_the_trm_falls_short_even_when_it_wins(run):
    metrics = copy.deepcopy(run["metrics"])
    s = metrics["strategies"]
    s["trm"]["net_value"] = max(s["llm"]["net_value"], s["greedy"]["net_value"]) + 1.0
    s["trm"]["success_rate"], s["llm"]["success_rate"] = 0.40, 0.55
    assert "its success rate is below LLM (simulated)'s (40.0% vs 55.0%)" in headline(metrics)


def test_headline_says_when_one_seed_cannot_separate_the_leaders(run):
    metrics = copy.deepcopy(run["metrics"])
    s = metrics["strategies"]
    s["trm"]["net_value"], s["llm"]["net_value"], s["greedy"]["net_value"] = 900.0, 800.0, 100.0
    s["trm"]["success_rate"], s["trm"]["conversions"], s["llm"]["conversions"] = 0.5, 30, 29
    assert "1 conversion apart" in headline(metrics) and "one seed cannot separate them" in headline(metrics)
    s["llm"]["conversions"] = 5   # 25 apart; yardstick 2 * sqrt(60 * 0.25) = 7.7
    assert "cannot separate" not in headline(metrics)


# --- chart builders ---

def xychart(title, x_title, labels, series, points):
    """A chart's Markdown: its Mermaid block, or the note of a chart with nothing to draw."""
    spec = chart(title, x_title, "value (units)", labels, series, points)
    return f"_{title}: no finite values to chart in this run._" if spec.empty else mermaid(spec)


def test_labels_with_quotes_and_brackets_are_escaped_and_still_parse(tmp_path):
    label = 'the "best" [cap] %% (x)'
    text = xychart(f'ROI of {label}', 'step "n"', [label, "%%start", ""], [("line", label, [1.0, 2.0, 3.0])], 10)
    block = mermaid_blocks(text)[0]
    assert "#quot;best#quot; [cap]" in block
    assert all(line.count('"') % 2 == 0 for line in block.splitlines() if not line.startswith("%%{"))
    assert quote('say "hi"') == '"say #quot;hi#quot;"' and quote("") == '"-"'
    assert_parses(tmp_path, text)


def test_non_finite_values_are_dropped_never_emitted():
    labels = ["a", "b", "c", "d", "e", "f"]
    text = xychart("roi", "x", labels, [("line", "roi", [float("nan"), None, 1.5, float("inf"), 2.0, -float("inf")]),
                                        ("line", "target", [1.0] * 6)], 10)
    block = mermaid_blocks(text)[0]
    assert not re.search(r"nan|inf|None|null|e-?\d", block.split("x-axis")[1], re.IGNORECASE)
    assert X_AXIS.search(block).group(1) == '"c", "e"'
    assert SERIES.findall(block) == ["1.5, 2", "1, 1"]
    assert "no finite values" in xychart("empty", "x", ["a"], [("line", "v", [float("nan")])], 10)


def test_series_length_must_match_the_x_axis():
    with pytest.raises(ValueError, match="2 values for 3 x labels"):
        chart("t", "x", "y", ["a", "b", "c"], [("line", "short", [1.0, 2.0])], 10)


def test_a_chart_spec_refuses_what_would_draw_unreadably():
    with pytest.raises(ValueError, match="13 category labels"):
        chart("t", "x (#)", "y", [f"label {i}" for i in range(13)], [("line", "v", [1.0] * 13)], 100)
    with pytest.raises(ValueError, match="one bar series"):
        chart("t", "x", "y", ["a"], [("bar", "p", [1.0]), ("bar", "q", [2.0])], 10)
    with pytest.raises(ValueError, match="axes need a title"):
        chart("t", "x", "", ["a"], [("line", "p", [1.0])], 10)


def test_bars_start_at_zero_and_every_series_has_a_palette_colour():
    spec = chart("Net value", "cap (steps)", "net value ($)", ["1", "2"],
                 [("bar", "net", [8030.0, 8200.0]), ("line", "llm", [8000.0, 8000.0])], 10)
    block = mermaid(spec)
    assert Y_AXIS.search(block).group(1) == "0"
    assert f'"plotColorPalette": "{PALETTE[0]}, {PALETTE[1]}"' in block


def test_a_long_numeric_x_axis_is_a_range_not_a_hundred_labels():
    spec = chart("ROI", "opportunity (#)", "ROI", list(range(200)), [("line", "roi", [1.0 + i % 7 for i in range(200)])], 100)
    assert '"opportunity (#)" 0 --> 199' in mermaid(spec) and not X_AXIS.search(mermaid(spec))


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_numbers_are_plain_decimals(x):
    assert re.fullmatch(r"-?\d+(\.\d+)?", decimal(x))


def test_decimal_refuses_non_finite_values():
    assert decimal(1e-05) == "0.00001" and decimal(-0.0) == "0" and decimal(3.0) == "3"
    with pytest.raises(ValueError, match="non-finite"):
        decimal(float("nan"))


# --- scale: a 100,000-opportunity run gives the same charts ---

def test_huge_series_are_downsampled_and_the_report_stays_small(run, tmp_path):
    n = 100_000
    metrics = copy.deepcopy(run["metrics"])
    metrics["rolling_roi"]["points"] = [{"opportunity": i, "roi": None if i < 50 else 1 + (i % 97) / 50}
                                        for i in range(n)]
    metrics["thermostat"]["history"] = [{"opportunity": i, "rolling_roi": 1.0, "step_cap": 1 + i % 6,
                                         "halt_threshold": 0.5 + (i % 10) / 20, "action": "hold", "deadband": 0.25}
                                        for i in range(n)]
    metrics["sentinel"]["events"] = [{"opportunity": i, "guardrail": "roi_floor", "value": -0.5, "limit": 0.0,
                                      "state": "open"} for i in range(n)]
    training = copy.deepcopy(run["training"])
    training["epochs"] = [{**training["epochs"][0], "epoch": i + 1, "loss": 1 / (i + 1)} for i in range(n)]
    text = render_report(run["cfg"], metrics, training)
    limit = run["cfg"].report.max_chart_points
    for block in mermaid_blocks(text):
        for values in SERIES.findall(block):
            assert len(values.split(", ")) <= limit
    assert len(text.encode()) < 60_000
    assert "99,980 more in demo_metrics.json" in text
    assert_parses(tmp_path, text)


# --- honest wording ---

def test_depth_finding_says_recursion_bought_nothing_when_step_one_is_best(run):
    metrics = copy.deepcopy(run["metrics"])
    for row in metrics["frontier"]:
        row["net_value"] = 1000.0 - row["step_cap"]
    text = render_report(run["cfg"], metrics, run["training"])
    assert "Recursion beyond step 1 bought nothing here" in text


def test_halting_section_says_when_halting_does_not_track_difficulty(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["halting"]["steps_uncertainty_correlation"] = -0.2
    assert "halting does not track difficulty here" in render_report(run["cfg"], metrics, run["training"])
    metrics["halting"]["steps_uncertainty_correlation"] = 0.45
    assert "harder cases got more steps" in render_report(run["cfg"], metrics, run["training"])


def test_sentinel_events_are_tabled_or_none_said(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["sentinel"]["events"] = []
    assert "No guardrail fired." in render_report(run["cfg"], metrics, run["training"])
    metrics["sentinel"]["events"] = [{"opportunity": 40, "guardrail": "roi_floor", "value": -0.25, "limit": 0.0,
                                      "state": "open"}]
    assert "| 40 | roi_floor | -0.2500 | 0.0000 | open |" in render_report(run["cfg"], metrics, run["training"])


def test_multi_seed_evaluation_renders_when_present(run):
    per_seed = []
    for bump in (0.0, 50.0, 100.0):
        strategies = copy.deepcopy(run["metrics"]["strategies"])
        strategies["trm"]["net_value"] += bump
        per_seed.append(strategies)
    metrics = copy.deepcopy(run["metrics"])
    metrics["evaluation"] = summarise(per_seed, run["metrics"]["run"]["opportunities"])
    text = render_report(run["cfg"], metrics, run["training"])
    assert "## Multi-seed evaluation" in text and "3 seeds" in text
    assert "| TRM − Greedy, per 100 opportunities |" in text and " ± $" in text
    assert "Across 3 seeds: " + metrics["evaluation"]["verdicts"][0] in headline(metrics)


# --- the first paragraph, for a non-technical reader ---

def test_the_first_paragraph_says_what_to_do_from_the_runs_numbers(run):
    s = run["metrics"]["strategies"]
    top = max(s["trm"]["net_value"], s["llm"]["net_value"])
    assert advice(with_net_values(run["metrics"], greedy=top + 500.0)).startswith(
        "**Keep Greedy: the TRM did not earn its place in this run.**")
    metrics = with_net_values(run["metrics"], trm=max(s["llm"]["net_value"], s["greedy"]["net_value"]) + 400.0)
    metrics["strategies"]["trm"]["conversions"] = max(s["llm"]["conversions"], s["greedy"]["conversions"]) + 1
    text = advice(metrics)
    assert text.startswith("**Use the TRM to choose candidates, and confirm it with more runs first.**")
    assert "1 placement apart" in text and "`--seeds 10`" in text
    assert render_report(run["cfg"], metrics, run["training"]).split("\n\n")[1] == text


def test_roi_is_not_compared_when_costs_are_near_zero(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["strategies"]["trm"]["roi"], metrics["strategies"]["greedy"]["roi"] = 392_096.0, 1_633_332.0
    assert "its ROI is below" not in headline(metrics)
