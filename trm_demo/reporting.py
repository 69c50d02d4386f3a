"""Executive dossier: `assets/trm_executive_report.md` and its one-file HTML twin.

`report_document` is pure (config + metrics + training log -> a document.Document) so tests
can feed it synthetic numbers; `render_report` is its Markdown and `write_report` writes the
Markdown and the HTML atomically. Every figure, every verdict and every chart title is
computed from the run: nothing here claims a winner in advance. Charts are charts.chart specs
(palette, zero-based bars, at most 12 labels, units): a new chart is one more spec here.
"""

from __future__ import annotations

import math

import yaml

from .atomic import write_text
from .charts import chart
from .document import Bullets, Code, Document, Flow, Paragraph, Section, Table, section, to_markdown
from .formats import count, finite, money, num, pct, value
from .html import write_html

NAMES = {"trm": "TRM", "llm": "LLM (simulated)", "greedy": "Greedy", "oracle": "Oracle (upper bound)"}
CONTENDERS = ("trm", "llm", "greedy")     # the oracle knows the true probability: a yardstick, not a rival
# Held-out excess log-loss within this fraction of its best value counts as "settled": the log
# carries no standard error, and the design's prototype gained only ~7 % (0.027 -> 0.025) from depth.
LOG_LOSS_TOLERANCE = 0.05
# ROI divides by cost: above this it means costs are near zero (e.g. outreach_cost: 0) and it ranks
# nothing (ROIs of 392,096 vs 1,633,332), so it is not compared.
ROI_NO_GUIDE = 100


# --- the report ------------------------------------------------------------------------------

def write_report(path, html_path, cfg, metrics: dict, training: dict) -> None:
    doc = report_document(cfg, metrics, training)
    write_text(path, to_markdown(doc))
    write_html(html_path, doc)


def render_report(cfg, metrics: dict, training: dict) -> str:
    return to_markdown(report_document(cfg, metrics, training))


def report_document(cfg, metrics: dict, training: dict) -> Document:
    points = cfg.report.max_chart_points
    sections = [changes_section(metrics),
                section("Headline", Paragraph(headline(metrics))), strategy_section(metrics), ARCHITECTURE,
                control_section(metrics, points), frontier_section(metrics), training_section(training, points),
                cost_section(metrics), halting_section(metrics), halting_comparison_section(training),
                depth_finding(metrics, training),
                sentinel_section(metrics), evaluation_section(metrics.get("evaluation")),
                section("Configuration snapshot",
                        Paragraph("The effective knobs of this run (defaults, config file and flags merged):"),
                        Code(yaml.safe_dump(cfg.to_dict(), sort_keys=False), "yaml")),
                footer(metrics)]
    return Document("TRM executive report", (Paragraph(advice(metrics)),), tuple(s for s in sections if s))


def _ranking(metrics: dict) -> tuple[str, str, float]:
    s = metrics["strategies"]
    first, second = sorted(CONTENDERS, key=lambda k: -s[k]["net_value"])[:2]   # stable: TRM first on a tie
    return first, second, s[first]["net_value"] - s[second]["net_value"]


def advice(metrics: dict) -> str:
    """The first paragraph, for a reader who will read only it: what to do and why, in plain words."""
    s, run = metrics["strategies"], metrics["run"]
    first, second, margin = _ranking(metrics)
    gap = abs(s[first]["conversions"] - s[second]["conversions"])
    noise = _noise(run["opportunities"], s["trm"]["success_rate"])
    lucky = gap <= noise and (metrics.get("evaluation") or {}).get("seeds") is None
    compute = (f" Its computing bill was {money(s['trm']['compute_cost'])} against "
               f"{money(s['llm']['compute_cost'])} for the simulated LLM." if first == "trm" else "")
    if first == "trm":
        what = ("**Use the TRM to choose candidates, and confirm it with more runs first.**" if lucky
                else "**Use the TRM to choose candidates.**")
    else:
        what = f"**Keep {NAMES[first]}: the TRM did not earn its place in this run.**"
    why = (f" In this simulated funnel of {run['opportunities']:,} jobs, {NAMES[first]} left the most money after "
           f"all costs ({money(s[first]['net_value'])}), {money(margin)} more than {NAMES[second]}.")
    doubt = (f" The two are only {count(gap, 'placement')} apart, which one run cannot tell from luck: rerun with "
             "`--seeds 10` before deciding." if lucky else "")
    return what + why + compute + doubt


def changes_section(metrics: dict) -> Section | None:
    """The config file, the keys that differ from the defaults and the flags, each with its measured effect."""
    changes = metrics.get("changes")
    if changes is None:
        return None
    source = (f"Config file: `{changes['config_file']}`." if changes["config_file"]
              else "Config file: none (the shipped defaults, `config/default_config.yaml`).")
    flags = " ".join(f"`{flag}`" for flag in changes["flags"]) or "none"
    keys = changes["keys"]
    table = (Table(("Key", "Default", "This run", "Set by", "Measured effect in this run"),
                   tuple((f"`{k['key']}`", value(k["default"]), value(k["value"]), f"`{k['set_by']}`",
                          effect(k["key"], metrics)) for k in keys))
             if keys else Paragraph("No key differs from the defaults."))
    return section("What you changed", Paragraph(f"{source} Flags: {flags}."), table)


def effect(key: str, metrics: dict) -> str:
    """What this run measured that the key drives (the longest matching prefix in EFFECTS)."""
    prefix = max((p for p in EFFECTS if key.startswith(p)), key=len, default=None)
    return EFFECTS[prefix](metrics) if prefix else "not measured separately by this run"


def _thermostat_effect(m: dict) -> str:
    t = m["thermostat"]
    return (f"thermostat ended at step cap {t['final']['step_cap']}, halt threshold "
            f"{num(t['final']['halt_threshold'])}, after {count(t['moves'], 'move')}")


def _cost_effect(m: dict) -> str:
    trm = m["strategies"]["trm"]
    warning = "; with costs this small ROI is no guide: compare net value" if abs(trm["roi"]) > ROI_NO_GUIDE else ""
    return f"TRM total cost {money(trm['total_cost'])}, net value {money(trm['net_value'])}, ROI {num(trm['roi'])}{warning}"


def _net_effect(m: dict) -> str:
    return "net value: " + ", ".join(f"{NAMES[k]} {money(m['strategies'][k]['net_value'])}" for k in CONTENDERS)


def _compute_effect(m: dict) -> str:
    s = m["strategies"]
    return f"compute: TRM {money(s['trm']['compute_cost'])}, simulated LLM {money(s['llm']['compute_cost'])}"


def _training_effect(m: dict) -> str:
    before, after = m["training"]["holdout_before"][-1], m["training"]["holdout_after"][-1]
    return (f"held-out excess log-loss at step {after['step']}: {before['excess_log_loss']:.4f} before "
            f"fine-tuning, {after['excess_log_loss']:.4f} after")


def _sentinel_effect(m: dict) -> str:
    sentinel = m["sentinel"]
    return (f"{count(len(sentinel['events']), 'guardrail event')}, breaker {sentinel['state']}, "
            f"{count(m['strategies']['trm']['fallback_decisions'], 'greedy fallback decision')}")


# Config key prefix -> the measured effect shown next to a changed key (a new knob family: one line).
EFFECTS = {"thermostat.": _thermostat_effect, "simulation.outreach_cost": _cost_effect,
           "simulation.conversion_value": _net_effect, "simulation.llm_": _compute_effect,
           "simulation.trm_": _compute_effect, "simulation.greedy_cost": _compute_effect,
           "simulation.opportunities": _net_effect, "simulation.seed": _net_effect, "market.": _net_effect,
           "training.": _training_effect, "model.": _training_effect, "sentinel.": _sentinel_effect}


def headline(metrics: dict) -> str:
    s, run = metrics["strategies"], metrics["run"]
    trm, llm, oracle = s["trm"], s["llm"], s["oracle"]
    first, second, margin = _ranking(metrics)
    if margin == 0:
        lead = f"**{NAMES[first]} and {NAMES[second]} tied on net value at {money(s[first]['net_value'])}.**"
    else:
        relative = f" ({pct(margin / s[second]['net_value'])})" if s[second]["net_value"] > 0 else ""
        lead = (f"**{NAMES[first]} made the most net value: {money(s[first]['net_value'])}, "
                f"{money(margin)}{relative} more than {NAMES[second]}.**")
    lines = [lead]
    gap, noise = s[first]["conversions"] - s[second]["conversions"], _noise(run["opportunities"], trm["success_rate"])
    if abs(gap) <= noise:
        lines.append(f"They are {count(abs(gap), 'conversion')} apart, inside the noise yardstick of ±{noise:.0f} "
                     "(two binomial standard deviations): one seed cannot separate them.")
    if first != "trm" and margin != 0:
        lines.append(f"The TRM lost on net value: {money(trm['net_value'])}, "
                     f"{money(s[first]['net_value'] - trm['net_value'])} behind {NAMES[first]}.")
    if finite(trm.get("share_of_oracle")):
        lines.append(f"The TRM captured {pct(trm['share_of_oracle'])} of the oracle's net value "
                     f"({money(oracle['net_value'])}; the oracle knows the true conversion probability, "
                     "so it is the upper bound, not a rival)"
                     + ("; above 100 % here only because the oracle maximises expected value and this "
                        "run's draws favoured the TRM's picks: over many seeds the share stays within noise of 100 %."
                        if trm["share_of_oracle"] > 1 else "."))
    if llm["compute_cost"] > 0:
        ratio = trm["compute_cost"] / llm["compute_cost"]
        times = f", {1 / ratio:,.0f}× less" if 0 < ratio < 1 else f", {ratio:,.1f}× as much" if ratio >= 1 else ""
        lines.append(f"Compute: the TRM spent {money(trm['compute_cost'])} against {money(llm['compute_cost'])} "
                     f"for the simulated LLM: {pct(ratio, 2)} of it{times}.")
    behind = [f"{label} is below {NAMES[rival]}'s ({fmt(trm[key])} vs {fmt(s[rival][key])})"
              for rival in ("llm", "greedy") for key, label, fmt in
              (("success_rate", "success rate", pct), ("roi", "ROI", num))
              if finite(trm[key]) and finite(s[rival][key]) and trm[key] < s[rival][key]
              and not (key == "roi" and max(abs(trm[key]), abs(s[rival][key])) > ROI_NO_GUIDE)]
    if behind:
        lines.append("Where the TRM falls short: its " + "; its ".join(behind) + ".")
    else:
        lines.append("The TRM is not behind greedy or the simulated LLM on success rate or ROI in this run.")
    if trm["fallback_decisions"]:
        lines.append(f"{trm['fallback_decisions']:,} of the TRM row's {trm['attempts']:,} decisions were made "
                     "by the greedy fallback while a sentinel guardrail was tripped.")
    lines.append(f"One seed ({run['seed']}), {run['opportunities']:,} opportunities with "
                 f"{run['candidates_per_opportunity']} candidates each; every strategy faced the same outcome draws.")
    verdicts = (metrics.get("evaluation") or {}).get("verdicts")
    if verdicts:   # the multi-seed intervals outrank one seed's margin
        lines.append(f"Across {metrics['evaluation'].get('seeds', 'several')} seeds: " + "; ".join(verdicts) + ".")
    return " ".join(lines)


def strategy_section(metrics: dict) -> Section:
    latency_kind = {"trm": "modelled", "llm": "simulated"}
    rows = tuple((NAMES.get(key, key), pct(r["success_rate"]), f"{r['conversions']:,}", money(r["total_value"]),
                  money(r["total_cost"]), money(r["net_value"]), num(r["roi"]), pct(r["share_of_oracle"]),
                  num(r.get("avg_steps")),
                  f"{num(r['avg_latency_ms'])} ms ({latency_kind.get(key, 'modelled')})"
                  if finite(r.get("avg_latency_ms")) else "n/a") for key, r in metrics["strategies"].items())
    return section(
        "Strategies",
        Table(("Strategy", "Success rate", "Conversions", "Total value", "Total cost", "Net value", "ROI",
               "Share of oracle", "Avg steps", "Avg latency"), rows, numeric=tuple(range(1, 10))),
        Paragraph("**Net value** is the money left after every cost; **ROI** is net value per dollar spent. A strategy "
                  "that pursues fewer candidates can have the higher ROI and the lower net value, so read both. Avg "
                  "steps is the TRM's deepest call per decision; latency is modelled (TRM) or simulated (LLM), never "
                  "wall clock."),
        Bullets(tuple(f"**{name}** = {text}" for name, text in metrics["definitions"].items())))


ARCHITECTURE = section("Architecture (as built)", Flow(
    nodes=(("CFG", "config.py<br/>typed, validated knobs"),
           ("MKT", "market.py<br/>synthetic jobs and candidates, exact P(convert)"),
           ("TRM", "engine.py / training.py / weights.py<br/>TRM: recursion, deep supervision, halting"),
           ("SIM", "simulation.py<br/>greedy, LLM (simulated), TRM, oracle"),
           ("THM", "thermostat.py<br/>depth controller"),
           ("SEN", "sentinel.py<br/>guardrails, circuit breaker"),
           ("LED", "economic.py<br/>ledger"),
           ("SUB", "subgraph.py<br/>telemetry: trm_calls.json, demo_metrics.json"),
           ("REP", "reporting.py<br/>this dossier (Markdown and HTML)"),
           ("UI", "ui.py<br/>terminal summary")),
    edges=(("CFG", "MKT", "", False), ("MKT", "TRM", "historical log (observed 0/1)", False),
           ("TRM", "SIM", "fine-tuned EMA weights", False), ("MKT", "SIM", "opportunities", False),
           ("SIM", "THM", "rolling ROI / step cap, halt threshold", True),
           ("SIM", "SEN", "spend, ROI, latency / allow or greedy fallback", True),
           ("SIM", "LED", "", False), ("LED", "SUB", "", False), ("SUB", "REP", "", False),
           ("REP", "UI", "", False))))


def control_section(metrics: dict, points: int) -> Section:
    t, rolling, history = metrics["thermostat"], metrics["rolling_roi"], metrics["thermostat"]["history"]
    roi = [math.nan if p["roi"] is None else p["roi"] for p in rolling["points"]]
    seen = [r for r in roi if finite(r)]
    target = t["target_roi"]
    roi_title = (f"Rolling ROI ended at {seen[-1]:.2f}, {'above' if seen[-1] >= target else 'below'} "
                 f"the {target:g} target" if seen else "TRM rolling ROI vs target")
    at = [h["opportunity"] for h in history]
    return section(
        "Control: thermostat",
        Paragraph(f"The thermostat steers the TRM's rolling ROI (window {rolling['window']} opportunities) towards "
                  f"{num(target)}. It moved {count(t['moves'], 'time')} and ended at step cap "
                  f"{t['final']['step_cap']} and halt threshold {num(t['final']['halt_threshold'])}. Windows that "
                  "cost nothing have no ROI and are left out of the chart."),
        chart(roi_title, "opportunity (#)", "ROI (net $ per $ spent)", [p["opportunity"] for p in rolling["points"]],
              [("line", "rolling ROI", roi), ("line", "target ROI", [target] * len(roi))], points),
        chart(_moved("step cap", [h["step_cap"] for h in history]), "opportunity (#)", "step cap (steps)", at,
              [("line", "step cap", [h["step_cap"] for h in history])], points),
        chart(_moved("halt threshold", [h["halt_threshold"] for h in history]), "opportunity (#)",
              "halt threshold (sigmoid q)", at,
              [("line", "halt threshold", [h["halt_threshold"] for h in history])], points, y_range=(0, 1)))


def _moved(name: str, values: list) -> str:
    """A controller chart's finding: where the knob went, or that it never moved."""
    if not values:
        return f"The thermostat never set the {name}"
    first, last, low, high = values[0], values[-1], min(values), max(values)
    if low == high:
        return f"The {name} held at {value(first)} all run"
    return f"The thermostat moved the {name} from {value(first)} to {value(last)} (range {value(low)}–{value(high)})"


def frontier_section(metrics: dict) -> Section:
    frontier, llm = metrics["frontier"], metrics["strategies"]["llm"]
    return section(
        "Depth vs quality frontier",
        Paragraph("The TRM replayed on the same opportunities at each fixed step cap (no halting, no controllers), "
                  "next to the simulated LLM. Bars start at $0, so equal-looking bars are equal in all but noise."),
        chart(depth_verdict(metrics)[1], "fixed step cap (steps)", "net value ($)",
              [str(row["step_cap"]) for row in frontier],
              [("bar", "TRM net value", [row["net_value"] for row in frontier]),
               ("line", "LLM (simulated) net value", [llm["net_value"]] * len(frontier))], len(frontier)),
        Table(("Step cap", "Success rate", "Conversions", "Net value", "ROI", "Compute"),
              tuple((row["step_cap"], pct(row["success_rate"]), f"{row['conversions']:,}", money(row["net_value"]),
                     num(row["roi"]), money(row["compute_cost"])) for row in frontier), numeric=tuple(range(6))))


def depth_verdict(metrics: dict) -> tuple[str, str]:
    """(a sentence for the finding, a short chart title): did depth buy anything this run can tell from noise?"""
    frontier, n = metrics["frontier"], metrics["run"]["opportunities"]
    best = max(frontier, key=lambda row: row["net_value"])
    noise = _noise(n, frontier[0]["success_rate"])
    enough = next(row for row in frontier if best["conversions"] - row["conversions"] <= noise)
    if enough is not best:
        return (f"Recursion beyond step {enough['step_cap']} bought little here that this run can tell from "
                f"noise: cap {enough['step_cap']} is within the yardstick of the best cap.",
                f"Depth beyond step {enough['step_cap']} bought nothing beyond noise")
    if best is not frontier[-1]:
        return (f"Recursion beyond step {best['step_cap']} bought nothing here: no deeper cap made more.",
                f"Depth beyond step {best['step_cap']} bought nothing")
    if len(frontier) > 1:
        return (f"Depth paid here: no shallower cap came within noise of cap {best['step_cap']}.",
                f"Depth paid: step cap {best['step_cap']} made the most net value")
    return "", f"Net value at step cap {best['step_cap']}"


def training_section(training: dict, points: int) -> Section:
    epochs, before, after = training["epochs"], training["holdout_before"], training["holdout_after"]
    start = "scratch" if training["start"] == "scratch" else f"the {training['start']}"
    tuned = (f"fine-tuned for {count(len(epochs), 'epoch')} on {training['samples']:,} recent outcomes"
             if epochs else "not fine-tuned")
    last_before, last_after = before[-1]["excess_log_loss"], after[-1]["excess_log_loss"]
    return section(
        "Training",
        Paragraph(f"Started from {start}; {tuned} (market drift {training['drift']}). Excess log-loss is how far the "
                  "model's probability is from the true one on held-out pairs (0 = perfect)."),
        Paragraph(f"Training stopped early: {epochs[-1]['stopped']}.") if epochs and "stopped" in epochs[-1] else None,
        Paragraph(f"A validation split of the recent log (observed outcomes only) kept the EMA weights of epoch "
                  f"{training['selected']['epoch']} (epoch 0 = the starting weights) and chose step cap "
                  f"{training['selected']['step_cap']}: the shallowest cap within one standard error of the best "
                  "validation log-loss.") if training["selected"]["step_cap"] is not None else None,
        chart(f"Fine-tuning loss went from {epochs[0]['loss']:.3f} to {epochs[-1]['loss']:.3f}", "epoch (#)",
              "loss (nats per pair)", [e["epoch"] for e in epochs],
              [("line", "loss", [e["loss"] for e in epochs]),
               ("line", "halting loss", [e["halting_loss"] for e in epochs])], points)
        if epochs else Paragraph("No loss chart: no fine-tuning epochs ran."),
        chart(f"Fine-tuning {'cut' if last_after < last_before else 'did not cut'} held-out excess log-loss at "
              f"step {after[-1]['step']}: {last_before:.4f} to {last_after:.4f}", "supervision step (#)",
              "excess log-loss (nats)", [str(r["step"]) for r in after],
              [("line", "before fine-tuning", [r["excess_log_loss"] for r in before]),
               ("line", "after fine-tuning", [r["excess_log_loss"] for r in after])], points))


def cost_section(metrics: dict) -> Section:
    """A table, not a chart: compute is a fraction of a percent of every strategy's cost, so bars of it
    next to outreach would be invisible strips (the message would only be "outreach dwarfs compute")."""
    s, trm = metrics["strategies"], metrics["strategies"]["trm"]
    share = trm["compute_cost"] / trm["total_cost"] if trm["total_cost"] > 0 else math.nan
    rows = tuple((NAMES.get(k, k), money(r["outreach_cost"]), money(r["compute_cost"]), money(r["total_cost"]),
                  pct(r["compute_cost"] / r["total_cost"], 3) if r["total_cost"] > 0 else "n/a")
                 for k, r in s.items())
    spenders = sorted((k for k in s if k != "oracle"), key=lambda k: -s[k]["compute_cost"])
    return section(
        "Cost breakdown",
        Paragraph(f"Compute is {pct(share, 3)} of the TRM's total cost ({money(trm['compute_cost'])} of "
                  f"{money(trm['total_cost'])}); the rest is outreach. Compute spend by strategy: "
                  + ", ".join(f"{NAMES.get(k, k)} {money(s[k]['compute_cost'])}" for k in spenders) + "."),
        Table(("Strategy", "Outreach", "Compute", "Total cost", "Compute share"), rows, numeric=(1, 2, 3, 4)))


def halting_comparison_section(training: dict) -> Section | None:
    """Does the halting head stop at the right place? Against random stopping at the same depth and a fixed cap."""
    rows = training.get("halting") or []
    if not rows:
        return None
    helps = [r for r in rows
             if r["halting_head"] < min(r["random_stopping"], r["fixed_cap_excess"]) * (1 - LOG_LOSS_TOLERANCE)]
    verdict = ("The halting head beat random stopping and the nearest fixed cap by more than "
               f"{pct(LOG_LOSS_TOLERANCE, 0)} at threshold " + ", ".join(str(r["halt_threshold"]) for r in helps)
               if helps else
               "The halting head bought nothing here: at every threshold it was within "
               f"{pct(LOG_LOSS_TOLERANCE, 0)} of (or worse than) random stopping at the same mean depth or the "
               "nearest fixed cap, because on this tabular task the answer barely moves after step 1")
    return section(
        "Halting: does stopping early buy anything?",
        Paragraph("Held-out excess log-loss after fine-tuning (lower is better). The head learns \"this step's "
                  "P(convert) will not move any more\"; random stopping uses the head's own step counts shuffled "
                  "across candidates."),
        Table(("Halt threshold", "Mean steps", "Halting head", "Random stopping", "Fixed cap", "Fixed cap excess"),
              tuple((str(r["halt_threshold"]), num(r["mean_steps"]), f"{r['halting_head']:.4f}",
                     f"{r['random_stopping']:.4f}", str(r["fixed_cap"]), f"{r['fixed_cap_excess']:.4f}")
                    for r in rows), numeric=(1, 2, 3, 4, 5)),
        Paragraph(verdict + "."))


def halting_section(metrics: dict) -> Section:
    h = metrics["halting"]
    r = h["steps_uncertainty_correlation"]
    if not h["calls"]:
        return section("Halting", Paragraph("The TRM made no calls in this run (the sentinel handed every decision "
                                            "to greedy)."))
    if not finite(r):
        verdict = "The steps–uncertainty correlation is undefined (steps or difficulty did not vary)."
    elif r < 0.1:
        verdict = f"Steps–uncertainty correlation r = {r:.2f}: halting does not track difficulty here."
    else:
        degree = "somewhat " if r < 0.3 else ""
        verdict = f"Steps–uncertainty correlation r = {r:.2f}: harder cases got {degree}more steps."
    histogram = h["steps_histogram"]
    mode = max(histogram, key=histogram.get)
    return section(
        "Halting",
        Paragraph(f"The halting head stopped {h['halted_by_head']:,} of {count(h['calls'], 'TRM call')} at or before "
                  f"their step cap; the rest ran to the cap. {verdict}"),
        chart(f"The most common depth was {mode} steps ({pct(histogram[mode] / h['calls'], 0)} of TRM calls)",
              "steps used (#)", "TRM calls (count)", list(histogram),
              [("bar", "calls", list(histogram.values()))], len(histogram)),
        Table(("Difficulty (outcome uncertainty)", "Calls", "Mean steps"),
              tuple((band, f"{h['calls_by_difficulty'][band]:,}", num(mean))
                    for band, mean in h["mean_steps_by_difficulty"].items()), numeric=(1, 2)))


def depth_finding(metrics: dict, training: dict) -> Section:
    frontier, n = metrics["frontier"], metrics["run"]["opportunities"]
    first, best = frontier[0], max(frontier, key=lambda row: row["net_value"])
    noise = _noise(n, first["success_rate"])
    gain = best["net_value"] - first["net_value"]
    relative = f" ({pct(gain / first['net_value'])})" if first["net_value"] > 0 else ""
    lines = [f"In the funnel, step cap 1 made {money(first['net_value'])} net value ({first['conversions']:,} "
             f"conversions) and the best cap, {best['step_cap']}, made {money(best['net_value'])} "
             f"({best['conversions']:,}): {'+' if gain >= 0 else ''}{money(gain)}{relative} and "
             f"{best['conversions'] - first['conversions']:+,} conversions, against a noise yardstick of "
             f"±{noise:.0f} conversions (two binomial standard deviations).", depth_verdict(metrics)[0]]
    after = training["holdout_after"]
    if after and after[0]["excess_log_loss"] > 0:
        start, last = after[0]["excess_log_loss"], after[-1]["excess_log_loss"]
        lowest = min(row["excess_log_loss"] for row in after)
        settled = next(row for row in after if row["excess_log_loss"] - lowest <= LOG_LOSS_TOLERANCE * lowest)
        verdict = (f"it was still improving at step {settled['step']}" if settled is after[-1] else
                   f"recursion beyond step {settled['step']} bought little there: from that step on it stayed "
                   f"within {pct(LOG_LOSS_TOLERANCE, 0)} of its best value ({lowest:.4f})")
        lines.append(f"On held-out pairs, excess log-loss went from {start:.4f} at step 1 to {last:.4f} at step "
                     f"{after[-1]['step']} ({pct((last - start) / start)}); {verdict}.")
    lines.append("The benchmark's fair ablation (docs/BENCHMARKS.md), with the same data, validation selection and "
                 "optimiser steps and parameters within 2 %, found a plain MLP of the same size slightly more "
                 "accurate on this tabular data, by less than its seed-to-seed noise, and faster to train; this "
                 "run does not retest that. The TRM's case here is its cost next to an LLM, not accuracy a plain "
                 "network cannot reach.")
    return section("Finding: what recursion depth bought", Paragraph(" ".join(line for line in lines if line)))


def sentinel_section(metrics: dict, shown: int = 10) -> Section:
    sentinel, fallbacks = metrics["sentinel"], metrics["strategies"]["trm"]["fallback_decisions"]
    events = sentinel["events"]
    summary = (f"Breaker state at the end: {sentinel['state']}; TRM compute spent {money(sentinel['spent'])} of a "
               f"{money(sentinel['budget'])} budget; {count(fallbacks, 'greedy fallback decision')}.")
    if not events:
        return section("Sentinel", Paragraph(f"{summary} No guardrail fired."))
    # The first and last events tell the story; a flapping breaker must not grow the report without bound.
    kept = events if len(events) <= 2 * shown else events[:shown] + events[-shown:]
    rows = [(f"{e['opportunity']:,}", e["guardrail"], num(e["value"], 4), num(e["limit"], 4), e["state"])
            for e in kept]
    if len(kept) < len(events):
        rows.insert(shown, ("…", f"{len(events) - len(kept):,} more in demo_metrics.json", "", "", ""))
    return section("Sentinel", Paragraph(f"{summary} {count(len(events), 'guardrail event')}:"),
                   Table(("Opportunity", "Guardrail", "Value", "Limit", "New state"), tuple(rows), numeric=(0, 2, 3)))


def evaluation_section(evaluation) -> Section | None:
    """The multi-seed evaluation (`--seeds N`), only when the run made one: means ± 95 % intervals."""
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("strategies"), dict):
        return None
    measures = (("net_value", money), ("success_rate", pct), ("roi", num), ("share_of_oracle", pct))

    def cell(stat: dict, fmt) -> str:
        half = stat.get("ci95")
        return fmt(stat.get("mean")) + (f" ± {fmt(half)}" if finite(half) else "")

    rows = [(NAMES.get(key, key), *(cell(stats.get(m, {}), fmt) for m, fmt in measures))
            for key, stats in evaluation["strategies"].items()]
    rows += [(f"TRM − {NAMES.get(other.removeprefix('trm_minus_'), other)}, per 100 opportunities",
              cell(stat, money), "", "", "") for other, stat in evaluation.get("paired_net_value_per_100", {}).items()]
    return section(
        "Multi-seed evaluation",
        Paragraph(f"{evaluation.get('seeds', '?')} seeds, the whole pipeline rerun for each; paired rows compare the "
                  "TRM with a rival seed by seed (same jobs, same luck)."),
        Bullets(tuple(evaluation.get("verdicts", []))) if evaluation.get("verdicts") else None,
        Table(("Strategy", "Net value", "Success rate", "ROI", "Share of oracle"), tuple(rows), numeric=(1, 2, 3, 4)))


def footer(metrics: dict) -> Section:
    run, wall = metrics["run"], metrics.get("wall_clock", {})
    versions = ", ".join(f"{name} {version}" for name, version in run["versions"].items())
    lines = [f"Command: `{run['command']}`", f"Seed: {run['seed']}", f"Config hash: `{run['config_hash']}`",
             f"Versions: {versions}",
             "The same seed and config give the same report, except for the wall-clock lines below."]
    if "date" in wall:
        lines.append(f"Date (wall clock): {wall['date']}")
    lines += [f"{name.replace('_', ' ')} (wall clock): {num(v, 3)}" for name, v in wall.items() if finite(v)]
    return section("Reproducibility", Bullets(tuple(lines)))


def _noise(opportunities: int, success_rate: float) -> float:
    """Two binomial standard deviations of a conversion count: the yardstick for "within noise".
    Conservative: strategies and caps share the outcome draws, so paired gaps are less noisy."""
    return 2 * math.sqrt(opportunities * success_rate * (1 - success_rate))
