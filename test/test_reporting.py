"""The executive dossier: rendered from the run's numbers, valid Mermaid, bounded in size.

The Mermaid checks run the real parser (test/mermaid/validate.mjs) and are skipped
locally without node tooling (`npm ci`), but fail in CI.
"""
import copy
import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from trm_demo import cli
from trm_demo.__main__ import main, parse_args
from trm_demo.config import load_config
from trm_demo.funnel.evaluation import summarise
from trm_demo.report import findings
from trm_demo.report.charts import PALETTE, chart, decimal, mermaid, quote
from trm_demo.report import advice
from trm_demo.report.dossier import first_paragraph, headline, render_report, report_document
from trm_demo.report.html import to_html
from trm_demo.report.findings import Drives, Significance
from trm_demo.report.formats import Per, money, num, verdicts
from trm_demo.results import DeferralCurve, DepthPoint, RunResult
from trm_demo.strategies import strategy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mermaid_check  # noqa: E402

SERIES = re.compile(r"^\s+(?:line|bar) \"[^\"]*\" \[(.*)\]$", re.MULTILINE)
Y_AXIS = re.compile(r"^\s+y-axis \"[^\"]*\" (-?[\d.]+) --> (-?[\d.]+)$", re.MULTILINE)
X_AXIS = re.compile(r"^\s+x-axis \"[^\"]*\" \[(.*)\]$", re.MULTILINE)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real small pipeline run, with the reading TRM's tier (its strategies, section and chart are checked
    with the rest); every output inside a temporary directory."""
    out = tmp_path_factory.mktemp("run")
    (out / "tier.yaml").write_text("reading_trm: {enabled: true}\n")
    argv = ["--from-scratch", "--train-epochs", "1", "--opportunities", "60", "--quiet", "--config", str(out / "tier.yaml"),
            "--export-json", str(out / "metrics.json"), "--export-training-log", str(out / "training.json"),
            "--export-report", str(out / "report.md"), "--telemetry", str(out / "calls.json")]
    assert main(argv) == 0
    cfg = load_config(out / "tier.yaml", cli.overrides(parse_args(argv)))
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


def with_expected(metrics: dict, **values) -> dict:
    """A copy of the metrics where the named strategies made these expected net values."""
    edited = copy.deepcopy(metrics)
    for name, value in values.items():
        edited["strategies"][name]["expected_net_value"] = value
    return edited


def top(metrics: dict) -> float:
    """The best contender's expected net value (the oracle is the yardstick, not a contender)."""
    return max(r["expected_net_value"] for k, r in metrics["strategies"].items() if k != "oracle")


def typed(metrics: dict) -> RunResult:
    """The edited JSON as the reports take it."""
    return RunResult.from_dict(metrics)


def render(run, metrics=None, training=None) -> str:
    return render_report(run["cfg"].to_dict(), typed(metrics or run["metrics"]), training or run["training"])


def section_text(text: str, heading: str) -> str:
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def grid(best: dict, default=(100.0, 0.2)) -> dict:
    """A break-even map over 3 prices x 2 values whose winners are `best[(value, price)]` (cascade elsewhere)."""
    prices, values = [0.01, 0.3, 3.0], [40.0, 100.0]
    def one(x):   # one seed: no interval
        return {"mean": x, "ci95": None, "half_width": None, "n": 1}

    def cell(v, p):
        winner = best.get((v, p), "cascade")
        values = {"trm": 1.0, "cascade": 2.0, "llm": 1.5, "logistic": 0.9, "greedy": 0.5, "oracle": 3.0}
        if winner != "cascade":
            values[winner] = 2.5
        return {"conversion_value": v, "llm_price": p, "per_opportunity": {k: one(x) for k, x in values.items()},
                "cascade_share_read": 0.3, "best": winner, "runner_up": "cascade" if winner != "cascade" else "llm",
                "lead_per_opportunity": one(0.5)}
    return {"prices": prices, "values": values, "cells": [cell(v, p) for v in values for p in prices], "seeds": 1,
            "default": {"conversion_value": default[0], "llm_price": default[1]}}


# --- the real report ---

def test_generated_report_parses_with_the_real_mermaid_parser(run):
    mermaid_check.require_node_tooling()
    result = mermaid_check.validate_markdown(run["report"])
    assert result.returncode == 0, result.stdout + result.stderr
    blocks = mermaid_blocks(run["report"].read_text())
    charts = [block for block in blocks if "\nxychart-beta" in block]
    assert len(charts) >= 5   # deferral curve, hurdle, depth, loss, held-out excess
    assert all(block.startswith('%%{init: {"theme": "base"') and "plotColorPalette" in block for block in charts)


def test_written_report_is_exactly_the_rendered_text(run):
    assert run["report"].read_text() == render(run)


def test_report_has_every_section_and_labels_the_llm_simulated(run):
    text = run["report"].read_text()
    for heading in ("## What you changed", "## Headline", "## Strategies", "## The reading TRM", "## Where reading pays",
                    "## Break-even map", "## Controls", "## Depth: what recursion bought",
                    "## Training", "## Halting: does stopping early buy anything?", "## Configuration snapshot",
                    "## Reproducibility"):
        assert heading in text
    assert "The LLM here is **simulated**" in text and "- LLM: simulated" in text
    assert "the logistic regression and the greedy rule of thumb decide with the structured applicant-tracking " \
           "fields." in text and "The rivals are held to the cascade's terms." in text
    assert f"`{run['metrics']['run']['config_hash']}`" in text
    assert "ablation (docs/BENCHMARKS.md)" in text
    assert "## Multi-seed evaluation" not in text    # absent section, skipped
    assert "## Architecture" not in text and "flowchart" not in text   # docs/ARCHITECTURE.md's, not the run's


def test_the_json_round_trips_through_the_typed_result(run):
    assert json.loads(json.dumps(typed(run["metrics"]).to_dict())) == run["metrics"]
    with pytest.raises(TypeError, match="expected_net_valu"):
        edited = copy.deepcopy(run["metrics"])
        edited["strategies"]["trm"]["expected_net_valu"] = edited["strategies"]["trm"].pop("expected_net_value")
        typed(edited)


def test_a_real_llm_is_labelled_real(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["run"]["llm"] = {"provider": "openai_compatible", "real": True, "model": "llama3.1:8b"}
    text = render(run, metrics)
    assert "**real (openai\\_compatible, llama3.1:8b)**" in text and "The LLM here is **simulated**" not in text


def test_a_real_llm_gets_a_section_on_its_cost_latency_and_calibration(run):
    metrics = copy.deepcopy(run["metrics"])
    assert "## The LLM reader" not in render(run, metrics)      # simulated: nothing to measure about it
    metrics["run"]["llm"] = {
        "provider": "openai_compatible", "real": True, "model": "llama3.1:8b", "host": "localhost:11434",
        "prompt_version": "v1", "charged": 3.38,
        "stats": {"reads": 10, "hits": 4, "misses": 6, "failures": {"timeout": 1}, "spend": 2.0,
                  "latency_ms": {"count": 6, "p50": 120.0, "p90": 300.0, "p99": 900.0}},
        "calibration": [{"bucket": "0.0-0.2", "readings": 0, "mean_reading": None, "mean_true_probability": None},
                        {"bucket": "0.6-0.8", "readings": 9, "mean_reading": 0.7, "mean_true_probability": 0.435}]}
    text = render(run, metrics)
    section = text[text.index("## The LLM reader"):]
    assert "**llama3.1:8b** at localhost:11434" in section and "timeout 1" in section
    assert "median 120 ms" in section and "| 0.6-0.8 | 9 | 0.700 | 0.435 |" in section
    assert "| 0.0-0.2 | 0 | n/a | n/a |" in section


# --- the strategies table: expected net value first, realised beside it ---

def test_the_strategy_table_puts_expected_and_realised_side_by_side_for_every_strategy(run):
    table = section_text(render(run), "Strategies")
    assert ("| Strategy | Expected net value ($ per run) | Share of oracle (expected) | Realised net value ($ per "
            "run) | LLM reads | LLM cost ($ per run) |") in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| Cascade (TRM + LLM)", "| Three-tier cascade", "| TRM alone", "| Keyword reader + TRM",
        "| Reading TRM + TRM", "| Bag of words + TRM", "| LLM reads the TRM's top k", "| Top-k router (TRM + LLM)", "| LLM reads everyone",
        "| Logistic regression", "| Greedy rule of thumb", "| Oracle (upper bound)"]
    for row, (key, totals) in zip(rows, run["metrics"]["strategies"].items()):   # the JSON's figures, row by row
        assert row.startswith(f"| {strategy(key).name} | {money(totals['expected_net_value'], Per.CELL)} |"), key
        assert f"| {totals['llm_reads']:,} |" in row, key


def test_the_reading_tier_section_quotes_the_json(run):
    text = section_text(render(run), "The reading TRM: a tiny local reader between the fields and the LLM")
    tier, s = run["metrics"]["reading_trm"], run["metrics"]["strategies"]
    assert f"{tier['trm_reader_reads']:,} reads" in text and f"the LLM's bias {num(tier['llm_bias'])}" in text
    assert f"the LLM {s['cascade3']['llm_reads']:,} (the cascade: {s['cascade']['llm_reads']:,})" in text
    assert (f"read, {money(tier['bag_of_words_price_per_read'], Per.READ, 5)}), "
            f"{money(s['bow_reader']['expected_net_value'], Per.RUN, 0)}") in text
    assert len(tier["examples"]) == len({e["reply"] for e in tier["examples"]}) > 0   # one reply per construction


def charted(block: str) -> list[tuple[str, list[float]]]:
    return [(kind, [float(v) for v in values.split(", ")])
            for kind, values in re.findall(r'^    (line|bar) "[^"]*" \[(.*)\]$', block, re.MULTILINE)]


@pytest.mark.parametrize("cap", [1, 3])
def test_the_depth_charts_draw_one_series_each_from_the_json(run, cap):
    """The constructions' lines lay on top of each other (within a few points on an axis of hundreds): one line
    over all replies by step, and one bar per construction at the run's step cap."""
    metrics = copy.deepcopy(run["metrics"])
    tier = metrics["reading_trm"]
    tier["step_cap"] = cap
    shares = {d["construction"]: d["share_of_perfect_gain"] for d in tier["depth"]}
    assert all(v is not None for s in shares.values() for v in s)   # else a dropped point would shift the lists
    by_step, by_construction = mermaid_blocks(section_text(
        render(run, metrics), "The reading TRM: a tiny local reader between the fields and the LLM"))
    assert charted(by_step) == [("line", pytest.approx([100 * v for v in shares["all"]]))]
    assert charted(by_construction) == [("bar", pytest.approx([100 * s[cap - 1] for s in shares.values()]))]
    best = max(range(len(shares["all"])), key=lambda i: shares["all"][i])
    assert f"best at step {best + 1} ({100 * shares['all'][best]:.0f}% of reading's gain)" in by_step
    assert f'"Step {cap} (the run\'s cap) by construction: ' in by_construction


# --- the first paragraph and the headline follow the data ---

@pytest.mark.parametrize("winner, words", [
    ("cascade", "**Use the cascade"), ("trm", "**Use the TRM alone"), ("llm", "**Have the LLM read every reply"),
    ("keyword", "**Use the keyword reader"), ("llm_shortlist", "**Have the LLM read each job's shortlist"),
    ("router_topk", "**Read each job's top k candidates by the keyword reader"),
    ("logistic", "**Use the logistic regression"), ("greedy", "**Keep the rule of thumb (greedy)"),
    ("cascade3", "**Use the three-tier cascade"), ("trm_reader", "**Use the reading TRM"),
    ("bow_reader", "**Use the bag-of-words reader")])
def test_the_first_paragraph_names_the_strategy_with_the_highest_expected_net_value(run, winner, words):
    best = top(run["metrics"])
    others = [k for k in ("cascade", "trm", "keyword", "llm_shortlist", "router_topk", "llm", "logistic", "greedy",
                          "cascade3", "trm_reader", "bow_reader") if k != winner]
    metrics = with_expected(run["metrics"], **{winner: best + 500.0, others[0]: best},
                            **{k: best - 1000.0 for k in others[1:]})
    metrics["strategies"]["oracle"]["expected_net_value"] = 1e9   # the yardstick is never the advice
    result = typed(metrics)
    assert findings.ranking(result)[:2] == [winner, others[0]]
    text = first_paragraph(result)
    assert text.startswith(words)
    assert "($500.00 per run) more expected net value than" in text
    assert render(run, metrics).split("\n\n")[1] == text
    assert headline(result).startswith("**" + {"cascade": "Cascade", "trm": "TRM alone", "llm": "LLM reads",
                                              "keyword": "Keyword", "llm_shortlist": "LLM reads the TRM",
                                              "router_topk": "Top-k", "logistic": "Logistic",
                                              "greedy": "Greedy", "cascade3": "Three-tier",
                                              "trm_reader": "Reading TRM", "bow_reader": "Bag of words"}[winner])
    # A winner that read says how much.
    assert ("The LLM read" in text) == (winner in ("cascade", "llm", "llm_shortlist", "router_topk", "cascade3"))


def test_the_advice_renders_whichever_strategy_wins_even_one_this_version_does_not_know(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["strategies"]["newcomer"] = {**metrics["strategies"]["trm"], "expected_net_value": top(metrics) + 700.0}
    result = typed(metrics)
    assert findings.ranking(result)[0] == "newcomer"
    text = first_paragraph(result)
    assert text.startswith("**Use newcomer: it made the most expected net value in this run. It made")
    assert "($700.00 per run) more expected net value than" in text
    assert render(run, metrics).split("\n\n")[1] == text


def test_where_the_winner_changes_is_read_off_the_break_even_map(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["landscape"]["break_even"] = grid({(100.0, 3.0): "trm", (40.0, 0.3): "trm"}, default=(100.0, 0.25))
    where = findings.where_it_changes(typed(metrics).landscape.break_even)
    assert (where.value, where.price) == (100.0, 0.3)   # the map's point nearest $0.25 per read, on a log scale
    assert where.by_price == findings.Span("cascade", 0.01, 0.3, False, None, findings.Neighbour("trm", 3.0))
    assert where.by_value == findings.Span("cascade", 100.0, 100.0, False, findings.Neighbour("trm", 40.0), None)
    # the wording of that finding
    assert ("at $100 per placement the cascade wins from $0.01 per read to $0.30 per read, the TRM alone at "
            "$3.00 per read") in first_paragraph(typed(metrics))
    metrics["landscape"]["break_even"] = grid({})
    assert findings.where_it_changes(typed(metrics).landscape.break_even).by_price == findings.Span(
        "cascade", 0.01, 3.0, True, None, None)


def with_evaluation(metrics: dict, bumps=(0.0, 50.0, 100.0)) -> dict:
    """A copy of the metrics with a multi-seed evaluation of seeds that differ by the cascade's bumps."""
    per_seed = []
    for bump in bumps:
        strategies = copy.deepcopy(metrics["strategies"])
        strategies["cascade"]["expected_net_value"] += bump
        per_seed.append({"strategies": strategies, "counterfactuals": metrics["counterfactuals"]})
    edited = copy.deepcopy(metrics)
    edited["evaluation"] = {**summarise(per_seed), "seed_list": list(range(len(bumps)))}
    edited["evaluation"]["verdicts"] = verdicts(edited["evaluation"]["paired"])   # as the command adds them
    return edited


def test_the_first_paragraph_asks_for_seeds_or_quotes_the_paired_lead(run):
    assert findings.lead_over_seeds(typed(run["metrics"]), "cascade", "trm") is None
    assert "one seed: run `--seeds 10` for an interval" in first_paragraph(typed(run["metrics"]))
    metrics = with_evaluation(run["metrics"])
    first, second = findings.ranking(typed(metrics))[:2]
    for mean, significance in ((10.0, Significance.NOT_SIGNIFICANT), (100.0, Significance.AHEAD)):
        metrics["evaluation"]["paired"][f"{first}-{second}"] = {"mean": mean, "ci95": [mean - 40.0, mean + 40.0],
                                                               "half_width": 40.0, "n": 3}
        assert findings.lead_over_seeds(typed(metrics), first, second).significance is significance
    assert "($100 ± $40 per run, 95 % interval) more expected net value than" in first_paragraph(typed(metrics))


def test_a_rival_that_beats_the_cascade_quotes_the_cascade_minus_rival_pair_turned_round(run):
    metrics = with_evaluation(with_expected(run["metrics"], keyword=top(run["metrics"]) + 400.0,
                                            cascade=top(run["metrics"])))
    metrics["evaluation"]["paired"]["cascade-keyword"] = {"mean": -452.0, "ci95": [-500.0, -404.0],
                                                          "half_width": 48.0, "n": 20}
    lead = findings.lead_over_seeds(typed(metrics), "keyword", "cascade")
    assert (lead.a, lead.b, lead.mean, lead.significance) == ("keyword", "cascade", 452.0, Significance.AHEAD)
    text = first_paragraph(typed(metrics))
    assert text.startswith("**Use the keyword reader") and "Across 20 seeds it made" in text
    assert "($452 ± $48 per run, 95 % interval)" in text


def test_the_headline_quotes_realised_values_beside_the_expected_ones(run):
    s = run["metrics"]["strategies"]
    text = headline(typed(run["metrics"]))
    assert "made the most expected net value" in text and "Realised on this run's drawn outcomes" in text
    assert f"the cascade ${s['cascade']['net_value']:,.2f} per run" in text
    assert "the oracle knows the true probability" in text


# --- where reading pays, and the break-even map ---

def test_the_deferral_chart_has_the_four_orders_and_a_finding_title(run):
    block = next(b for b in mermaid_blocks(render(run)) if "share of candidates read (%)" in b)
    assert len(SERIES.findall(block)) == 4
    assert '"VOI order (the cascade\'s)"' in block and '"random order"' in block and '"oracle order' in block
    assert '"each job\'s top by the base belief first"' in block
    assert X_AXIS.search(block).group(1).startswith('"0", "10"')
    assert re.search(r'title "(90% of reading\'s gain: read \d+% in the cascade\'s order(, \d+% in a random one)?|'
                     r'Reading the replies added nothing here)', block)


def test_the_deferral_finding_is_how_much_each_order_must_read_for_most_of_the_gain():
    curve = DeferralCurve(share_read=(0.0, 0.5, 1.0), trm_alone=0.8, note="",
                          share_of_oracle_expected={"voi": (0.8, 0.95, 0.96), "random": (0.8, 0.85, 0.96)})
    assert findings.deferral(curve) == findings.Deferral(True, voi=0.5, random=1.0)
    flat = dataclasses.replace(curve, share_of_oracle_expected={"voi": (0.8, 0.8, 0.8)})
    assert findings.deferral(flat) == findings.Deferral(False, None, None)


def test_the_break_even_table_marks_the_cell_nearest_the_default(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["landscape"]["break_even"] = grid({(40.0, 3.0): "trm", (100.0, 0.01): "llm"}, default=(100.0, 0.2))
    table = section_text(render(run, metrics), "Break-even map: which strategy wins where")
    assert table.count("★") == 2   # the note and the one marked cell
    assert "| $100 | LLM alone | **Cascade** ★ | Cascade |" in table
    assert "| $40 | Cascade | Cascade | TRM alone |" in table
    assert "TRM alone wins in 1 cell" in table and "LLM alone wins in 1 cell" in table
    metrics["landscape"]["break_even"]["default"] = {"conversion_value": 45.0, "llm_price": 2.0}
    assert "| $40 | Cascade | Cascade | **TRM alone** ★ |" in render(run, metrics)


def test_the_cascades_degradation_is_found_on_the_map(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["landscape"]["break_even"] = grid({(40.0, 3.0): "trm", (100.0, 0.01): "llm"})
    found = findings.degradation(typed(metrics).landscape.break_even)
    assert {k: [(c.conversion_value, c.llm_price) for c in cells] for k, cells in found.wins.items()} == {
        "trm": [(40.0, 3.0)], "llm": [(100.0, 0.01)]}
    assert not found.cascade_everywhere
    assert found.shortfall == pytest.approx(0.5)   # 2.5 where a rival wins against the cascade's 2.0
    assert found.worst_rival in ("trm", "llm")
    table = section_text(render(run), "Break-even map: which strategy wins where")
    assert "where it is nearly the TRM alone" in table
    assert findings.degradation(typed(run["metrics"]).landscape.break_even).cascade_everywhere == \
        ("The cascade wins in every cell of the map." in table)


# --- the controls, each with its counterfactual dollars ---

def test_controls_list_the_scenario_and_each_controls_dollars(run):
    text = section_text(render(run), "Controls")
    cf = run["metrics"]["counterfactuals"]
    for event in run["metrics"]["scenario"]["events"]:
        assert f"at opportunity {event['at']:,}:" in text
    for name in ("thermostat", "sentinel"):
        delta = cf[name]["expected_net_value_delta"]
        assert f"({'+' if delta >= 0 else '-'}${abs(delta):,.2f} per run) of expected net value on this seed" in text
    assert "earned" not in text, "one seed never says earned"
    assert "one seed: run `--seeds 10` for an interval" in text
    assert "**Budget.**" in text and "## " not in text


def test_a_control_is_given_as_a_signed_figure_of_one_seed(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["counterfactuals"]["thermostat"].update(expected_net_value_delta=-12.5, net_value_delta=3.0)
    metrics["scenario"]["events"] = []
    text = section_text(render(run, metrics), "Controls")
    assert ("(the best fixed hurdle on held-out seeds): -$0.21 per opportunity (-$12.50 per run) of expected net value "
            "on this seed (realised on this seed's outcomes: +$3.00 per run; run `--seeds 10` for an interval)"
            in text)   # a figure and the hint, never a verdict
    assert "No scenario events: a steady market." in text


def test_sentinel_events_are_tabled_with_their_transitions_or_none_said(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["sentinel"]["events"] = []
    assert "No guardrail fired" in render(run, metrics)
    metrics["sentinel"]["events"] = [{"opportunity": 140, "state": "open", "from": "closed",
                                      "reason": "50% of the last 20 LLM calls failed"},
                                     {"opportunity": 160, "state": "half_open", "from": "open",
                                      "reason": "cooldown over: one probe read"}]
    text = render(run, metrics)
    assert "| 140 | closed | open | 50% of the last 20 LLM calls failed |" in text
    assert "| 160 | open | half_open | cooldown over: one probe read |" in text


def test_the_hurdle_chart_title_says_where_it_went(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["thermostat"]["history"] = [{"opportunity": 10 * (i + 1), "elapsed": 0.1 * (i + 1), "spent": 1.0,
                                         "shadow_hurdle": 1.0, "hurdle": h, "action": "hold"}
                                        for i, h in enumerate([1.0, 2.0, 6.0, 3.0])]
    assert findings.hurdle_path(typed(metrics).thermostat.history) == findings.HurdlePath(1.0, 3.0, 6.0, 30)
    assert "The hurdle went from 1.00 to 3.00, peaking at 6.00 at opportunity 30" in render(run, metrics)
    for row in metrics["thermostat"]["history"]:
        row["hurdle"] = 1.0
    assert "The hurdle held at 1.00 all period" in render(run, metrics)


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
    with pytest.raises(ValueError, match="Mermaid clips it"):   # a 97-character title was clipped when rendered
        chart("t" * 97, "x (#)", "y (#)", ["a"], [("line", "p", [1.0])], 10)


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
    n = 10_000   # 100x the charts' points: undownsampled, one series alone would be ~50 KB, the events table ~0.5 MB
    metrics = copy.deepcopy(run["metrics"])
    metrics["thermostat"]["history"] = [{"opportunity": i + 1, "elapsed": (i + 1) / n, "spent": i * 0.01,
                                         "shadow_hurdle": None if i < 20 else 1.0 + (i % 7) / 10,
                                         "hurdle": 1.0 + (i % 97) / 10, "action": "hold"} for i in range(n)]
    metrics["sentinel"]["events"] = [{"opportunity": i, "state": ("open", "half_open")[i % 2],
                                      "from": ("half_open", "open")[i % 2], "reason": "flapping"} for i in range(n)]
    training = copy.deepcopy(run["training"])
    training["epochs"] = [{**training["epochs"][0], "epoch": i + 1, "loss": 1 / (i + 1)} for i in range(n)]
    text = render(run, metrics, training)
    limit = run["cfg"].report.max_chart_points
    hurdle = next(b for b in mermaid_blocks(text) if "hurdle (× LLM price)" in b)
    assert '"opportunity (#)" 1 --> 10000' in hurdle
    assert 2 < len(SERIES.findall(hurdle)[0].split(", ")) <= limit
    for block in mermaid_blocks(text):
        for values in SERIES.findall(block):
            assert len(values.split(", ")) <= limit
    assert len(text.encode()) < 60_000
    assert "9,980 more in demo_metrics.json" in text
    assert_parses(tmp_path, text)


# --- honest wording ---

def depth_of(values: list[float]) -> findings.Depth | None:
    """The depth finding of a frontier whose caps 1, 2, ... made these expected net values."""
    return findings.depth(tuple(DepthPoint(cap, value, 0.1, 10, 60) for cap, value in enumerate(values, start=1)))


def test_depth_bought_nothing_when_deeper_caps_zigzag():
    found = depth_of([9535.0, 9426.0, 9730.0, 9478.0, 9734.0, 9594.0])
    # the largest drop of a deeper cap below a shallower one (9,730 - 9,478) is this run's noise between caps
    assert found.largest_drop == found.noise == 252.0
    assert (found.best_cap, found.enough_cap, found.paid) == (5, 1, False)
    assert depth_of([9535.0]) is None   # one cap: nothing to compare


def test_depth_paid_when_it_clearly_did(run):
    found = depth_of([1000.0, 2000.0, 3000.0, 3000.0, 3000.0, 3000.0])
    assert (found.enough_cap, found.paid, found.largest_drop) == (3, True, None)
    metrics = copy.deepcopy(run["metrics"])
    for row in metrics["frontier"]:
        row["expected_net_value"] = 1000.0 * min(row["step_cap"], 3)
    text = section_text(render(run, metrics), "Depth: what recursion bought")
    assert "Depth paid: step cap 3 beat step 1 beyond noise" in text   # the wording of that finding


def test_halting_comparison_comes_from_the_training_log(run):
    training = copy.deepcopy(run["training"])
    assert "## Halting: does stopping early buy anything?" in render(run)
    training["halting"] = []
    assert "## Halting" not in render(run, training=training)


def test_what_you_changed_shows_scenario_events_as_yaml_with_their_effect(run):
    metrics = copy.deepcopy(run["metrics"])
    metrics["changes"] = {"config_file": "my.yaml", "flags": ["--config"], "keys": [
        {"key": "scenario.events", "default": [{"at": 80, "llm_price_multiplier": 2.5}], "value": [],
         "set_by": "my.yaml"},
        {"key": "simulation.llm_cost", "default": 0.2, "value": 0.05, "set_by": "my.yaml"},
        {"key": "cascade.calibration_reads", "default": 512, "value": 256, "set_by": "my.yaml"}]}
    text = section_text(render(run, metrics), "What you changed")
    assert "| `scenario.events` | `[{at: 80, llm_price_multiplier: 2.5}]` | `[]` | `my.yaml` |" in text
    assert "each control against its replay (expected, one seed: run `--seeds 10` for an interval): thermostat" in text
    assert "| `simulation.llm_cost` | `0.2` | `0.05` | `my.yaml` | LLM reads: cascade" in text
    assert "measured TRM error sd" in text


def test_a_changed_key_drives_the_figures_of_its_longest_matching_prefix():
    assert findings.drives("scenario.events") is Drives.SCENARIO
    assert findings.drives("sentinel.max_latency_ms") is Drives.SENTINEL
    assert findings.drives("sentinel.llm_budget_per_opportunity") is Drives.BUDGET
    assert findings.drives("report.path") is None


def test_multi_seed_evaluation_renders_when_present(run):
    metrics = with_evaluation(run["metrics"])
    text = render(run, metrics)
    assert "## Multi-seed evaluation" in text and "3 seeds" in text
    assert "| Cascade − LLM alone |" in text and "| Cascade − TRM alone |" in text and " ± $" in text
    assert "| thermostat |" in text and "| sentinel |" in text
    assert "Across 3 seeds: " + metrics["evaluation"]["verdicts"][0] in headline(typed(metrics))


def test_the_html_and_markdown_share_one_document(run):
    doc = report_document(run["cfg"].to_dict(), typed(run["metrics"]), run["training"])
    assert [s.heading for s in doc.sections] == re.findall(r"^## (.+)$", render(run), re.MULTILINE)


# --- the advice: every number it quotes is the metrics' own ---

FIGURE = re.compile(r"(-?)\$([\d,.]+)(?: ± \$([\d,.]+))? per (run|opportunity)")


def quoted(text: str) -> list[tuple[str, float, int]]:
    """(unit, value, decimal places) of every money figure in the text; a 'mean ± half-width' gives both."""
    out = []
    for sign, mean, half, unit in FIGURE.findall(text):
        for figure, signed_ in ((mean, sign), (half, "")):
            if figure:
                places = len(figure.split(".")[1]) if "." in figure else 0
                out.append((unit, float(signed_ + figure.replace(",", "")), places))
    return out


def assert_quotes_only(text: str, allowed: dict[str, list[float]]) -> None:
    figures = quoted(text)
    assert figures, text
    for unit, shown, places in figures:
        assert any(abs(shown - x) <= 0.5 * 10 ** -places + 1e-9 for x in allowed[unit]), (unit, shown, text)


def test_every_number_the_advice_quotes_is_the_winners_lead_from_the_metrics(run):
    s, n = run["metrics"]["strategies"], run["metrics"]["run"]["opportunities"]
    values = sorted((r["expected_net_value"] for k, r in s.items() if k != "oracle"), reverse=True)
    margin = values[0] - values[1]
    sentence = advice.sentence(typed(run["metrics"]))
    assert_quotes_only(sentence, {"run": [margin], "opportunity": [margin / n]})
    assert "one seed: run `--seeds 10` for an interval" in sentence
    # With seeds the interval replaces the seed's figure, per run and per opportunity.
    metrics = with_evaluation(run["metrics"])
    first, second = findings.ranking(typed(metrics))[:2]
    metrics["evaluation"]["paired"][f"{first}-{second}"] = {"mean": 123.0, "ci95": [100.0, 146.0],
                                                           "half_width": 23.0, "n": 3}
    sentence = advice.sentence(typed(metrics))
    assert_quotes_only(sentence, {"run": [123.0, 23.0], "opportunity": [123.0 / n, 23.0 / n]})
    assert "Across 3 seeds it made" in sentence and "95 % interval" in sentence
    # The report's first paragraph opens with the same sentence, in bold.
    assert render(run, metrics).split("\n\n")[1].startswith(f"**{sentence}**")


def test_a_controls_effect_is_a_figure_on_one_seed_and_a_verb_over_seeds(run):
    metrics = copy.deepcopy(run["metrics"])
    n = metrics["run"]["opportunities"]
    metrics["counterfactuals"]["thermostat"].update(expected_net_value_delta=74.91, net_value_delta=-20.0)
    text = advice.control_effect(typed(metrics), "thermostat")
    assert text.startswith(f"+${74.91 / n:.2f} per opportunity (+$74.91 per run) of expected net value on this seed")
    assert "realised on this seed's outcomes: -$20.00 per run; run `--seeds 10` for an interval" in text
    assert "earned" not in text and "cost" not in text
    metrics = with_evaluation(metrics)
    for mean, half, verb in ((62.91, 109.97, "no measurable effect: +$"), (62.91, 10.0, "earned $"),
                             (-62.91, 10.0, "cost $")):
        metrics["evaluation"]["counterfactuals"]["thermostat"] = {"mean": mean, "ci95": [mean - half, mean + half],
                                                                   "half_width": half, "n": 5}
        text = advice.control_effect(typed(metrics), "thermostat")
        assert text.startswith(verb), text
        assert f"${abs(mean):.2f} ± ${half:.2f} per run) of expected net value over 5 seeds" in text
        assert "this seed: " in text
    assert advice.control_effect(typed(metrics), "no such control") is None


def test_the_training_charts_title_the_runs_step_cap_from_zero_and_keep_each_loss_on_its_own_axis(run):
    training = copy.deepcopy(run["training"])
    training["selected"] = {**(training.get("selected") or {}), "step_cap": 1, "epoch": 1}
    steps = [r["step"] for r in training["holdout_after"]]
    training["holdout_before"] = [{**r, "excess_log_loss": 0.0594 + 0.0001 * i} for i, r in
                                  enumerate(training["holdout_before"])]
    training["holdout_after"] = [{**r, "excess_log_loss": 0.0604 - 0.0003 * i} for i, r in
                                 enumerate(training["holdout_after"])]
    one = {**training["epochs"][0], "halting_loss": 0.1}
    training["epochs"] = [one]
    single = render(run, training=training)
    assert not [b for b in mermaid_blocks(single) if "epoch (#)" in b], "a line of one point shows nothing"
    assert f"One epoch ran (fine-tuning loss {one['loss']:.3f} nats per pair; halting loss 0.100" in single
    training["epochs"] = [one, {**one, "epoch": 2, "loss": one["loss"] * 0.9}]
    blocks = mermaid_blocks(render(run, training=training))
    holdout = next(b for b in blocks if "supervision step (#)" in b)
    assert 'title "At step cap 1 (the run\'s), fine-tuning did not cut the excess: 0.0594 to 0.0604"' in holdout
    assert Y_AXIS.search(holdout).group(1) == "0", "a 0.001 change must not fill the axis"
    assert len(steps) > 1
    losses = [b for b in blocks if "epoch (#)" in b]
    assert [len(SERIES.findall(b)) for b in losses] == [1, 1]   # loss and halting loss: two charts


# --- what a user typed, shown in the Markdown ---

HOSTILE = "a|b `tick` ``two`` ]] <script>alert(1)</script> **bold** [link](x) \x1b]0;title\x07\n## Injected\n```mermaid\nxychart-beta\n"


def with_typed(run, value: str):
    """The run's metrics and settings with `value` wherever a user's text is shown: file, flags, key, command, LLM."""
    metrics = copy.deepcopy(run["metrics"])
    metrics["changes"] = {"config_file": "my " + value + ".yaml", "flags": ["--llm-model", "--x`" + value],
                          "keys": [{"key": "llm.model" + value, "default": "", "value": value,
                                    "set_by": "--llm-model" + value}]}
    metrics["run"]["command"] = "python main.py --llm-model '" + value + "'"
    metrics["run"]["llm"] = {**metrics["run"]["llm"], "real": True, "provider": "openai_compatible",
                             "model": value, "host": "127.0.0.1" + value, "prompt_version": value,
                             "stats": {"failures": {value: 1}}, "calibration": []}
    settings = run["cfg"].to_dict()
    settings["llm"]["model"] = value
    return settings, typed(metrics)


def test_hostile_values_stay_inside_their_cell_code_span_and_fence_and_the_report_still_parses(run, tmp_path):
    settings, result = with_typed(run, HOSTILE)
    text = render_report(settings, result, run["training"])
    clean = render_report(*with_typed(run, "plain"), run["training"])
    # No block appears that the run did not make: headings, Mermaid blocks and fences are the clean report's.
    assert [line for line in text.splitlines() if line.startswith("#")] == \
        [line for line in clean.splitlines() if line.startswith("#")]
    assert mermaid_blocks(text) == mermaid_blocks(clean)
    assert len(re.findall(r"^`{3,}", text, re.M)) == len(re.findall(r"^`{3,}", clean, re.M))
    assert "\x1b" not in text and "\x07" not in text and "## Injected" not in text.replace("\\n## Injected", "")
    # Every row of the changes table has its five cells: a | inside a value is escaped.
    table = [line for line in section_text(text, "What you changed").splitlines() if line.startswith("|")]
    assert [len(re.split(r"(?<!\\)\|", line)) - 2 for line in table] == [5] * len(table)
    # A tag or a mark outside a code span is escaped (Markdown renders it as text).
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", text, flags=re.M | re.S)   # fenced blocks hold text verbatim
    outside = re.sub(r"(`+).*?\1", "", prose.replace("\\`", ""))
    assert not re.search(r"(?<!\\)<script", outside) and not re.search(r"(?<!\\)\*(?<!\\)\*bold", outside)
    assert_parses(tmp_path, text)   # the real Mermaid parses every block
    # The HTML twin reads the escapes back: the user's text, as typed, and no tag.
    html = to_html(report_document(settings, result, run["training"]))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a|b `tick` ``two`` ]]" in html.replace("&#x27;", "'")


def test_hostile_chart_labels_parse_with_the_real_mermaid(tmp_path):
    label = 'x]] "q" `b` <script>; %%{init: {}}%% #quot; \nline2 --> [1, 2]'
    text = xychart(label[:60], label, [label, "b" + label, "c"], [("line", label, [1.0, 2.0, 3.0]),
                                                                 ("bar", "%%" + label, [1.0, 2.0, 3.0])], 10)
    block = mermaid_blocks(text)[0]
    assert "\nline2" not in block and len(block.splitlines()) == 7
    assert_parses(tmp_path, text)
