"""Executive dossier: `assets/trm_executive_report.md` and its one-file HTML twin.

`report_document` is pure (config + a RunResult + training log -> a document.Document) so
tests can feed it synthetic numbers; `render_report` is its Markdown and `write_report` writes
the Markdown and the HTML atomically. Every figure and every chart title words a number of the
run or a finding (findings.py): nothing here claims a winner in advance. Expected net value
(from the true probabilities, free of outcome luck) is the yardstick; realised figures stand
beside it. Charts are charts.chart specs (palette, zero-based bars, at most 12 labels, units):
a new chart is one more spec here.
"""

from __future__ import annotations

import yaml

from trm_demo.atomic import write_text
from trm_demo.report import advice, findings, glossary
from trm_demo.report.changes import shown_value
from trm_demo.report.charts import chart
from trm_demo.report.document import (Bullets, Card, Code, Document, Paragraph, Section, Table, code, escaped, section,
                                      to_markdown)
from trm_demo.report.findings import LOG_LOSS_TOLERANCE, Drives, Significance, Span, ranking, read_share
from trm_demo.report.formats import Per, count, finite, money, num, pair_name, pct, plus_minus, price, signed
from trm_demo.report.html import write_html
from trm_demo.report.reading_tier import reading_tier_section
from trm_demo.results import BreakEvenCell, Counterfactual, Evaluation, Interval, RunResult
from trm_demo.strategies import KEYS, RIVALS, Inputs, strategy


def name(key: str) -> str:
    """A strategy's name in a table row (its record: trm_demo/strategies.py)."""
    return strategy(key).name


def phrase(key: str) -> str:
    """A strategy as a sentence names it."""
    return strategy(key).phrase


EVENT_ROWS = 10   # sentinel events shown first and last; the rest are counted


# --- the report ------------------------------------------------------------------------------

def write_report(path, html_path, settings: dict, result: RunResult, training: dict) -> None:
    """settings: the run's config as plain data (`Config.to_dict()`), shown in the appendix; training: the
    training log (training.json)."""
    doc = report_document(settings, result, training)
    write_text(path, to_markdown(doc))
    write_html(html_path, doc)


def render_report(settings: dict, result: RunResult, training: dict) -> str:
    return to_markdown(report_document(settings, result, training))


def report_document(settings: dict, result: RunResult, training: dict) -> Document:
    points = settings["report"]["max_chart_points"]
    sections = [changes_section(result),
                section("Headline", Paragraph(headline(result))), strategy_section(result, settings.get("rivals", {})),
                llm_reader_section(result), reading_tier_section(result), deferral_section(result),
                break_even_section(result),
                controls_section(settings, result, points),
                frontier_section(result), training_section(training, points),
                halting_comparison_section(training), evaluation_section(result.evaluation),
                section("Glossary", Bullets(tuple(f"**{term}**: {text}." for term, text in glossary.TERMS))),
                section("Configuration snapshot",
                        Paragraph("The effective knobs of this run (defaults, config file and flags merged):"),
                        Code(yaml.safe_dump(settings, sort_keys=False), "yaml")),
                footer(result)]
    lead = (Paragraph(first_paragraph(result)), summary_card(result), strategy_chart(result))
    return Document("TRM executive report", tuple(b for b in lead if b is not None), tuple(s for s in sections if s))


def llm_label(result: RunResult) -> str:
    """'simulated', or the real model's name (escaped: the user typed it): the LLM is labelled as what it is
    everywhere."""
    llm = result.run.llm
    return escaped(f"real ({llm.get('provider')}, {llm.get('model')})") if llm.get("real") else "simulated"


# --- the first paragraph and the headline ------------------------------------------------------

def first_paragraph(result: RunResult) -> str:
    """For a reader who will read only it: the advice (the terminal's sentence, in bold), why, and where it
    changes."""
    text = f"**{advice.sentence(result)}**"
    s, run = result.strategies, result.run
    if advice.llm_failed(run.llm):
        return text + " The section \"The LLM reader\" lists the failures."
    if run.llm.get("real") and run.llm.get("discrimination", {}).get("worse_than_trm"):
        text += (" **Warning: the LLM reads worse than the TRM alone** (section \"The LLM reader\"): a strategy "
                 "that trusts its readings is judged here on a reader with less signal than the TRM.")
    first = advice.recommendation(result).best
    best = s[first]
    share = (f", {pct(best.share_of_oracle_expected)} of what a perfect-information oracle would make"
             if finite(best.share_of_oracle_expected) else "")
    text += (f" In this simulated funnel of {run.opportunities:,} jobs it made "
             f"{money(best.expected_net_value, Per.RUN, 0)} of expected net value{share}.")
    if best.llm_reads:
        read = read_share(result, first)
        text += (f" The LLM read {pct(read)} of the candidates," if finite(read) else " The LLM read") + \
            f" for {money(best.llm_cost, Per.RUN)}."
    return text + where_it_changes(result)


def summary_card(result: RunResult) -> Card | None:
    """The advice's figures at a glance: which strategy, its lead over the next best (per opportunity and per run,
    expected), how sure, and what it spent on the LLM. None when a real LLM failed: there is no advice to sum up."""
    run = result.run
    if advice.llm_failed(run.llm):
        return None
    r = advice.recommendation(result)
    best, n = result.strategies[r.best], max(run.opportunities, 1)
    lead = r.over_seeds
    if lead is None:
        gain = (signed(r.per_opportunity, Per.OPPORTUNITY, 2), f"{signed(r.per_run, Per.RUN, 2)}, expected")
        sure = ("One seed", advice.SEEDS_HINT)
    else:
        gain = (plus_minus(lead.mean / n, lead.half_width / n, Per.OPPORTUNITY, 2, sign=True),
                f"{plus_minus(lead.mean, lead.half_width, Per.RUN, 0, sign=True)}, expected, 95 % interval")
        sure = (f"{lead.seeds} seeds", {Significance.AHEAD: "ahead across the seeds",
                                        Significance.BEHIND: "behind across the seeds: this seed only",
                                        }.get(lead.significance, "not measurably ahead: either will do"))
    read = read_share(result, r.best)
    share = best.share_of_oracle_expected
    return Card((("Recommendation", strategy(r.best).short,
                  f"{pct(share)} of the oracle's expected net value" if finite(share) else "the most expected net value"),
                 (f"Gain over {strategy(r.runner_up).short}", *gain), ("Certainty", *sure),
                 ("LLM reads", f"{best.llm_reads:,}",
                  f"{pct(read)} of {run.candidates:,} candidates" if finite(read) else "no candidates"),
                 ("LLM spend", money(best.llm_cost, Per.RUN), money(best.llm_cost / n, Per.OPPORTUNITY, 2))))


def strategy_chart(result: RunResult):
    """Every strategy's expected net value per opportunity, from zero: the size of the lead against the whole."""
    s, n = result.strategies, max(result.run.opportunities, 1)
    keys = [k for k in KEYS if k in s]
    first = ranking(result)[0]
    share = s[first].share_of_oracle_expected
    title = f"{strategy(first).short} made the most expected net value" + (
        f", {pct(share)} of the oracle's" if finite(share) else "")
    return chart(title, "strategy", "expected net value ($ per opportunity)", [strategy(k).short for k in keys],
                 [("bar", "expected net value", [s[k].expected_net_value / n for k in keys])], len(keys))


def where_it_changes(result: RunResult) -> str:
    """From the break-even map: along the LLM price at this run's value per placement (and along the value
    at this price), the range where this run's winner holds and who wins next to it (the map decides every
    strategy as the run does)."""
    where = findings.where_it_changes(result.landscape.break_even)
    if where is None:
        return ""
    price_text = _span(where.by_price, price)
    value_text = _span(where.by_value, lambda x: money(x, Per.PLACEMENT, 0))
    # The map replays a steady market without the budget or the scenario: say so, or its winner at this run's
    # own price can read as contradicting the run's.
    run = result.landscape.break_even.default
    nearest = ("" if (where.value, where.price) == (run.conversion_value, run.llm_price) else
               f" (the map's point nearest this run's {money(run.conversion_value, Per.PLACEMENT, 0)} and "
               f"{price(run.llm_price)})")
    return (f" On the break-even map (a steady market, no budget, no scenario){nearest}, at "
            f"{money(where.value, Per.PLACEMENT, 0)} {price_text}; "
            f"at {price(where.price)} {value_text}.")


def _span(span: Span, unit) -> str:
    """'<winner> wins from A to B[, <other> at C]' along one axis of the map."""
    if span.everywhere:
        text = f"{phrase(span.best)} wins at every point from {unit(span.low)} to {unit(span.high)}"
    else:
        text = f"{phrase(span.best)} wins from {unit(span.low)} to {unit(span.high)}"
    for neighbour in (span.below, span.above):
        if neighbour is not None:
            text += f", {phrase(neighbour.best)} at {unit(neighbour.at)}"
    return text


def headline(result: RunResult) -> str:
    s, run = result.strategies, result.run
    first = ranking(result)[0]
    others = [k for k in ("cascade", "trm", "llm") if k != first][:2]
    lead = (f"**{name(first)} made the most expected net value: {money(s[first].expected_net_value, Per.RUN)}"
            + (f", {pct(s[first].share_of_oracle_expected)} of the oracle's" if
               finite(s[first].share_of_oracle_expected) else "")
            + "; " + " and ".join(f"{money(s[first].expected_net_value - s[k].expected_net_value, Per.RUN)} more than "
                                  f"{phrase(k)}" for k in others) + ".**")
    lines = [lead,
             "Realised on this run's drawn outcomes (luck included): " +
             ", ".join(f"{phrase(k)} {money(s[k].net_value, Per.RUN)}" for k in KEYS if k in s) + "."]
    cascade, llm = s["cascade"], s["llm"]
    read = read_share(result)
    if finite(read):
        lines.append(f"The cascade had the LLM read {cascade.llm_reads:,} replies ({pct(read)} of the candidates) "
                     f"for {money(cascade.llm_cost, Per.RUN)}; reading everyone cost {money(llm.llm_cost, Per.RUN)}. "
                     f"The TRM's compute over all {run.candidates:,} candidates was "
                     f"{money(s['trm'].compute_cost, Per.RUN)} ({money(s['trm'].compute_cost / max(run.candidates, 1), Per.CANDIDATE, 6)}).")
    lines.append("Share of the oracle's expected net value (the oracle knows the true probability: the upper "
                 "bound, not a rival): " + ", ".join(f"{phrase(k)} {pct(s[k].share_of_oracle_expected)}"
                                                     for k in RIVALS if k in s) + ".")
    if cascade.fallback_decisions:
        lines.append(f"{cascade.fallback_decisions:,} of the cascade's decisions were made by the logistic model "
                     "while the sentinel's TRM guard was tripped.")
    lines.append(f"One seed ({run.seed}), {run.opportunities:,} opportunities with "
                 f"{run.candidates_per_opportunity} candidates each; every strategy faced the same candidates and "
                 "the same outcome draws.")
    if result.evaluation is not None and result.evaluation.verdicts:   # the multi-seed intervals outrank one seed
        lines.append(f"Across {result.evaluation.seeds} seeds: " + "; ".join(result.evaluation.verdicts) + ".")
    return " ".join(lines)


# --- what was compared -------------------------------------------------------------------------

def strategy_section(result: RunResult, rivals: dict) -> Section:
    s = result.strategies
    keys = [k for k in KEYS if k in s]
    rows = tuple((name(k), money(r.expected_net_value, Per.CELL), pct(r.share_of_oracle_expected),
                  money(r.net_value, Per.CELL), f"{r.llm_reads:,}", money(r.llm_cost, Per.CELL),
                  money(r.total_cost, Per.CELL), pct(r.success_rate), num(r.roi))
                 for k, r in ((k, s[k]) for k in KEYS if k in s))
    return section(
        "Strategies",
        Table(("Strategy", "Expected net value ($ per run)", "Share of oracle (expected)",
               "Realised net value ($ per run)", "LLM reads", "LLM cost ($ per run)", "Total cost ($ per run)",
               "Success rate", "ROI"), rows, numeric=tuple(range(1, 9))),
        Paragraph(f"Money in this table is per run: totals over the run's {result.run.opportunities:,} "
                  "opportunities. Rates (the break-even map, the budget, the depth frontier) are per opportunity."),
        Paragraph("**Expected net value** counts each pursued candidate at its true conversion probability times "
                  "the value of a placement, minus every cost: the yardstick, free of outcome luck. **Realised** is "
                  f"the same on the outcomes this run drew. All {len(keys)} strategies share one decision rule "
                  "(pursue the best candidate when its expected value beats the outreach cost; greedy ranks by its "
                  "rule of thumb) and the same random numbers; they differ only in the estimate they decide with."),
        Paragraph(_who_sees_what(keys)
                  + " The replies state intent, competing offers, notice period and flexibility. The LLM here is "
                  f"**{llm_label(result)}**" + _llm_detail(result) + "."),
        Paragraph(_rivals_text(rivals)),
        Bullets(tuple(f"**{term}** = {text}" for term, text in result.definitions.items())))


def _who_sees_what(keys: list[str]) -> str:
    """One sentence per kind of input (the records' `inputs`): which strategies decide with it."""
    sentences = []
    for inputs in Inputs:
        who = [phrase(k) for k in keys if strategy(k).inputs is inputs]
        if who:
            text = _listed(who)
            sentences.append(f"{text[0].upper()}{text[1:]} {'decides' if len(who) == 1 else 'decide'} with "
                             f"{inputs.value}.")
    return " ".join(sentences)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _rivals_text(rivals: dict) -> str:
    """How the cascade's rivals that read are held to its terms (`rivals`: the config's section)."""
    return ("The rivals are held to the cascade's terms. The keyword reader is a logistic regression on the TRM's "
            "logit and keyword flags of the reply (negation, the past, someone else, a conceded clause), fitted "
            "on the labelled replies of the history the TRM was fine-tuned on; it costs what the TRM costs. The "
            f"LLM reading the TRM's shortlist reads each job's top {rivals.get('shortlist_k', 'k')} candidates by "
            "the TRM and picks among them on its readings; the top-k router reads each job's top "
            f"{rivals.get('router_k', 'k')} and decides with the cascade's belief (the TRM's, combined with the "
            "reading) over every candidate. Both read under their own sentinel with the cascade's budget, latency "
            "limit and breaker; the LLM reading everyone has the sentinel's latency limit and breaker but no "
            "budget (reading everyone is what it is). Every one of them pays the scenario's price, and where a "
            "read fails (an outage, a failed call) or is held back, the TRM's estimate stands in, as in the "
            "cascade.")


def _llm_detail(result: RunResult) -> str:
    llm = result.run.llm
    if llm.get("real") or not finite(llm.get("noise_logit_sd")):
        return ""
    return (f": it reads the reply's text, misreading each construction (negation, contrast, "
            f"time, ...) at its documented rate (funnel/simulated_llm.py), then adds Gaussian noise of sd "
            f"{num(llm['noise_logit_sd'])} on the logit scale and a bias of {num(llm.get('bias_logit', 0.0))}")


SCENARIO_ON_REAL = {False: "The scenario's LLM price and outage events simulate a reader's: they are not applied "
                           "to a real one (`llm.scenario_events: true` applies them as a what-if).",
                    True: "The scenario's LLM price and outage events are applied to this real reader as a what-if "
                          "(`llm.scenario_events: true`): the bill is the endpoint's charge times the scenario's price."}


def llm_reader_section(result: RunResult) -> Section | None:
    """A real LLM: which model at which host, what it cost, how fast, and how well calibrated on this task."""
    llm = result.run.llm
    if not llm.get("real"):
        return None
    stats, latency = llm.get("stats", {}), llm.get("stats", {}).get("latency_ms", {})
    failures = ", ".join(f"{escaped(reason)} {n}" for reason, n in stats.get("failures", {}).items()) or "none"
    unsent = (f", {count(stats['unsent'], 'read')} never sent (the time budget had run out)"
              if stats.get("unsent") else "")
    rows = tuple((b["bucket"], f"{b['readings']:,}", num(b["mean_reading"], 3), num(b["mean_true_probability"], 3))
                 for b in llm.get("calibration", []))
    timing = (f"median {num(latency.get('p50'), 0)} ms, 90th percentile {num(latency.get('p90'), 0)} ms, 99th "
              f"{num(latency.get('p99'), 0)} ms" if latency.get("count") else "none measured: every reading came "
              "from the cache")
    return section(
        "The LLM reader",
        Paragraph(f"**{escaped(llm.get('model'))}** at {escaped(llm.get('host'))} ({escaped(llm.get('provider'))}, prompt "
                  f"{escaped(llm.get('prompt_version'))}): {count(stats.get('reads', 0), 'read')}, "
                  f"{count(stats.get('hits', 0), 'cache hit')} and {count(stats.get('misses', 0), 'call')} to the "
                  f"endpoint{unsent}; failures: {failures}. This run paid {money(stats.get('spend', 0.0), Per.RUN)} (a cache hit "
                  f"is free); at its usage tokens the readings cost {money(llm.get('charged', 0.0), Per.RUN)}, which the "
                  f"ledger charges. Latency of the calls: {timing} (wall clock, reported only; no decision depends "
                  f"on it). {SCENARIO_ON_REAL[bool(llm.get('scenario_llm_events'))]}"),
        Paragraph("Calibration against the true probability (which the simulation knows): a well calibrated "
                  "reader's mean reading matches the mean true probability in every bucket."),
        Table(("Reading bucket", "Readings", "Mean reading", "Mean true probability"), rows, numeric=(1, 2, 3)),
        *discrimination_blocks(llm.get("discrimination", {})),
        Paragraph(time_budget_sentence(llm)))


def discrimination_blocks(judged: dict) -> tuple:
    """The reader beside the TRM on the same candidates: a calibration table can look fine for a reader that
    ranks nobody, so it is judged on its ranking too."""
    if "reader" not in judged:
        return (Paragraph(f"Discrimination: not measured ({count(judged.get('candidates', 0), 'answered candidate')} "
                          "of the run, too few to rank)."),)
    measures = (("Rank correlation with the true probability (a simulation-only check)",
                 "rank_correlation_with_truth", lambda x: f"{x:+.3f}" if finite(x) else num(x)),
                ("AUC on the observed outcomes (what a deployment can see)", "auc", lambda x: num(x, 3)),
                ("Log-loss on the observed outcomes (lower is better)", "log_loss", lambda x: num(x, 3)))
    rows = tuple((label, shown(judged["reader"].get(key)), shown(judged["trm"].get(key))) for label, key, shown in measures)
    verdict = ("**The LLM reads worse than the TRM alone** (its rank correlation with the true probability is "
               "below the TRM's): its readings cannot improve the TRM's decisions." if judged.get("worse_than_trm")
               else "The LLM ranks the candidates at least as well as the TRM alone.")
    return (Paragraph(f"Discrimination on the {count(judged['candidates'], 'candidate')} of the run the LLM "
                      f"answered, beside the TRM on the same candidates. {verdict}"),
            Table(("Measure", "LLM", "TRM"), rows, numeric=(1, 2)))


def time_budget_sentence(llm: dict) -> str:
    """What llm.time_budget_s did: not set, not reached, or how many reads it stopped."""
    budget, skipped = llm.get("time_budget_s") or 0, llm.get("over_budget_reads", 0)
    if not budget:
        return "Time budget: none set (`llm.time_budget_s: 0`); every read the strategies asked for was made."
    if not skipped:
        return f"Time budget: `llm.time_budget_s: {num(budget)}` s, not reached; every read was made."
    return (f"Time budget: `llm.time_budget_s: {num(budget)}` s ran out: {count(skipped, 'read')} were not made, and "
            "the TRM (with the keyword reader) decided those candidates; the LLM's rows judge a reader that stopped "
            "part-way.")


def deferral_section(result: RunResult) -> Section:
    curve = result.landscape.deferral
    shares, lines = curve.share_read, curve.share_of_oracle_expected
    labels = {"voi": "VOI order (the cascade's)", "top_k": "each job's top by the base belief first", "random": "random order",
              "oracle": "oracle order (hindsight)"}
    series = [("line", labels[k], [100 * v if finite(v) else None for v in lines[k]]) for k in labels if k in lines]
    return section(
        "Where reading pays: the deferral curve",
        Paragraph(f"Read the replies of the top x % of candidates in some order, decide with those readings, and "
                  f"measure the expected net value before LLM cost as a share of the oracle's (the first "
                  f"{result.landscape.opportunities:,} opportunities, steady market, no budget"
                  f"{_replay_reader(result)}). The cascade's order is the value of information computed from its "
                  "base belief (the TRM plus the free keyword reader) and its error fitted on outcomes; the "
                  "router's reads every job's best candidate by that belief, then every job's second, ...; the oracle order knows each reading's true gain in hindsight: the best any order can do."
                  + _deferral_reading(result)),
        chart(deferral_title(findings.deferral(curve)), "share of candidates read (%)",
              "share of the oracle's value before LLM cost (%)", [f"{100 * x:.0f}" for x in shares], series,
              len(shares)))


def _deferral_reading(result: RunResult) -> str:
    curve, read = result.landscape.deferral, read_share(result)
    alone, full = curve.trm_alone, curve.share_of_oracle_expected["voi"][-1]
    text = ""
    if finite(alone) and finite(full):
        text += f" The TRM alone reaches {pct(alone)}; reading every reply, {pct(full)}."
    llm = result.strategies.get("llm")
    if llm is not None and finite(llm.share_of_oracle_expected):   # the two figures a reader sets side by side
        text += (f" These shares are before LLM cost, on the landscape's steady market; the strategy table's "
                 f"{pct(llm.share_of_oracle_expected)} for the LLM reading everyone is after every cost, in the run "
                 "(budget, scenario and fallback included).")
    if finite(read):
        text += f" In the run the cascade read {pct(read)} of the candidates."
    return text


def deferral_title(deferral: findings.Deferral) -> str:
    """The finding: how much reading each order needs for most of reading's whole gain."""
    if not deferral.reading_adds:
        return "Reading the replies added nothing here"
    text = f"{pct(findings.GAIN_SHARE, 0)} of reading's gain: read {pct(deferral.voi, 0)} in the cascade's order"
    return text + (f", {pct(deferral.random, 0)} in a random one" if deferral.random is not None else "")


def _replay_reader(result: RunResult) -> str:
    """With a real reader the landscape's replays still read with the simulated one: say so where they are shown."""
    return (f", read by the {result.landscape.reader} reader (not this run's real LLM)"
            if result.run.llm.get("real") else "")


def break_even_section(result: RunResult) -> Section | None:
    grid = result.landscape.break_even
    if not grid.cells:
        return None
    here = findings.nearest_cell(grid)
    cells = {(c.conversion_value, c.llm_price): c for c in grid.cells}
    keys = [key for key in KEYS if key in grid.cells[0].per_opportunity]   # every strategy the map decided

    def winner(value, price_):
        c = cells.get((value, price_))
        return "n/a" if c is None else winner_cell(c, (value, price_) == here)
    prices = tuple(price(p) for p in grid.prices)
    by_value = []   # the rivals as rows of each row's cells
    for value in grid.values:
        by_value += [Paragraph(f"**At {money(value, Per.PLACEMENT, 0)}**: expected net value, $ per opportunity"
                               f"{' (mean ± 95 % half-width over the seeds)' if grid.seeds > 1 else ''}; the "
                               "cell's winner in bold."),
                     Table(("Strategy ($ per opportunity)", *prices), tuple((name(key), *(rival_cell(cells[(value, p)], key)
                                                                      for p in grid.prices)) for key in keys),
                           numeric=tuple(range(1, len(prices) + 1)))]
    return section(
        "Break-even map: which strategy wins where",
        Paragraph(f"Every strategy's expected net value per opportunity, replayed on the first "
                  f"{result.landscape.opportunities:,} opportunities on a steady market without budget or controls"
                  f"{_replay_reader(result)}, "
                  "at each LLM price (columns, $ per read) and value of a placement (rows, $ per placement). Each "
                  "cell names the rival with the highest " + map_seeds(grid) + " ★ marks this run's economics ("
                  f"{money(grid.default.conversion_value, Per.PLACEMENT, 0)}, {price(grid.default.llm_price)})."),
        Table(("$ per placement ╲ $ per read", *(price(p, Per.CELL) for p in grid.prices)),
              tuple((money(v, Per.CELL, 0), *(winner(v, p) for p in grid.prices)) for v in grid.values),
              numeric=tuple(range(len(prices) + 1))),   # numeric: right-aligned and never wrapped on a phone
        Paragraph(degradation_text(findings.degradation(grid)) + here_text(cells[here])),
        *by_value)


def degradation_text(found: findings.Degradation) -> str:
    """Where the cascade becomes one of its halves, and how far it ever falls below the best other rival."""
    def at(c: BreakEvenCell):
        return f"{price(c.llm_price)} and {money(c.conversion_value, Per.PLACEMENT, 0)}"
    parts = [f"The cascade reads fewer replies as reading gets dearer next to a placement's value: "
             f"{pct(found.most_read.cascade_share_read, 0)} of candidates at {at(found.most_read)}, "
             f"{pct(found.fewest_read.cascade_share_read, 0)} at {at(found.fewest_read)}, where it is nearly the "
             "TRM alone."]
    for key, wins in found.wins.items():
        parts.append(f"{strategy(key).short} wins in {count(len(wins), 'cell')} ("
                     + ", ".join(at(c) for c in wins[:4]) + (", ..." if len(wins) > 4 else "") + ").")
    if found.cascade_everywhere:
        parts.append("The cascade wins in every cell of the map.")
    if found.shortfall > 0:
        parts.append(f"Where it loses, it is at most {money(found.shortfall, Per.OPPORTUNITY, 2)} below the best "
                     f"other rival ({phrase(found.worst_rival)}, at {at(found.worst)}).")
    return " ".join(parts)


def here_text(c: BreakEvenCell) -> str:
    """This run's cell: its winner's lead over the runner-up, paired over the map's seeds."""
    found = findings.lead(c)
    words = (f" At this run's economics {phrase(found.a)} leads {phrase(found.b)} by "
             f"{plus_minus(found.mean, found.half_width, Per.OPPORTUNITY, 2)}")
    if found.significance is Significance.ONE_SEED:
        return words + " on one seed."
    return words + f" paired over {found.seeds} seeds" + (
        "." if found.significance is Significance.AHEAD else ": not a significant lead.")


def map_seeds(grid) -> str:
    """How sure a cell's winner is: its paired lead over the runner-up over the map's seeds, or one seed."""
    if grid.seeds < 2:
        return ("expected net value on this run's seed: one seed, no intervals (`--seeds 5` gives each cell's "
                "paired lead).")
    return (f"mean over {grid.seeds} seeds; ≈ marks a cell whose winner's paired lead over the runner-up is inside "
            "its 95 % interval (no significant winner).")


def winner_cell(c: BreakEvenCell, here: bool) -> str:
    """The winner's short name, ≈ when its lead over the runner-up is not significant, ★ on this run's cell."""
    text = strategy(c.best).short
    if findings.lead(c).significance is Significance.NOT_SIGNIFICANT:
        text += " ≈"
    return f"**{text}** ★" if here else text


def rival_cell(c: BreakEvenCell, key: str) -> str:
    stat = c.per_opportunity[key]
    text = plus_minus(stat.mean, stat.half_width, Per.CELL, 2)
    return f"**{text}**" if key == c.best else text


# --- the controls ------------------------------------------------------------------------------

def budget_rate(settings: dict) -> str:
    """The LLM budget as the operator sets it: a rate per opportunity of the period."""
    return money(settings["sentinel"]["llm_budget_per_opportunity"], Per.OPPORTUNITY)


def controls_section(settings: dict, result: RunResult, points: int) -> Section:
    t, sentinel = result.thermostat, result.sentinel
    cf = result.counterfactuals
    history = t.history
    events = result.scenario.events
    blocks = [
        Paragraph("Each control is judged in dollars: the run minus the same opportunities replayed without it "
                  "(same candidates, same readings, same outcome draws); the thermostat against the best fixed "
                  "hurdle chosen on held-out seeds (`thermostat.replay_hurdle`). Positive means the run made more "
                  f"with the control. This run is {advice.ONE_SEED}; `python -m bench --only controls` measures "
                  "each control against its best fixed policy over seeds, steady and under each shock "
                  "(docs/BENCHMARKS.md)."),
        Paragraph("**Scenario.** " + (f"{count(len(events), 'event')} during the period:" if events
                                      else "No scenario events: a steady market.")),
        Bullets(tuple(describe_event(e) for e in events)) if events else None,
        Paragraph(f"**Thermostat (budget pacing).** The cascade reads a reply when its value of information beats "
                  f"hurdle × price. The thermostat keeps the hurdle at its floor "
                  f"({num(settings['thermostat']['min_hurdle'])}, the best fixed hurdle on a steady market; lower, never below "
                  f"1, while the latest readings' gaps to the base belief are wider than on a steady market, as after "
                  f"a drift) and raises it to the budget's shadow price when the budget binds: the hurdle at which the rest of "
                  f"the budget buys the reads the rest of the period would want, from the VOIs seen so far. It "
                  f"moved {count(t.moves, 'time')} and ended at {num(t.final_hurdle)}. "
                  + counterfactual_sentence(result, "thermostat", "with the hurdle held at "
                                            f"{num(settings['thermostat']['replay_hurdle'])} all period (the best "
                                            "fixed hurdle on held-out seeds)")),
        chart(hurdle_title(findings.hurdle_path(history)), "opportunity (#)", "hurdle (× LLM price)",
              [h.opportunity for h in history], [("line", "hurdle", [h.hurdle for h in history])], points)
        if history else None,
        Paragraph(f"**Sentinel (guardrails).** LLM spend {money(sentinel.llm_spent, Per.RUN)} of a "
                  f"{money(sentinel.llm_budget, Per.RUN)} budget ({budget_rate(settings)}, never exceeded); a "
                  "circuit breaker hands decisions to the "
                  "TRM alone when LLM calls fail and probes half-open before closing; a TRM guard falls back to the "
                  f"logistic model. Breaker at the end: {sentinel.state}. "
                  + counterfactual_sentence(result, "sentinel", "without the breaker and the TRM guard "
                                            "(budget and latency limit kept)")
                  + " It is insurance: it pays only under an outage; its premium on a steady market and its payout "
                    "under each shock, over seeds: `python -m bench --only controls`."),
        sentinel_table(sentinel.events),
        Paragraph("**Budget.** " + limit_sentence(result, "budget", "LLM budget", "no budget"))
        if cf.get("budget") else None,
        Paragraph("**Latency limit.** " + limit_sentence(result, "latency_limit", "latency limit on LLM rounds",
                                                        "no latency limit"))
        if cf.get("latency_limit") else None,
    ]
    return section("Controls", *blocks)


def describe_event(event: dict) -> str:
    at = f"at opportunity {event['at']:,}: "
    if "llm_price_multiplier" in event:
        return at + f"the LLM price × {num(event['llm_price_multiplier'])}"
    if "llm_outage" in event:
        return at + f"an LLM outage for {count(event['llm_outage'], 'opportunity').replace('opportunitys', 'opportunities')}"
    if "drift" in event:
        return at + f"the market's drift jumps to {num(event['drift'])}"
    if "traffic_multiplier" in event:
        return at + f"traffic × {num(event['traffic_multiplier'])} (more opportunities in the same period and budget)"
    return at + escaped(shown_value(event))


def counterfactual_sentence(result: RunResult, control: str, without: str) -> str:
    cf = result.counterfactuals.get(control)
    if cf is None:
        return ""
    return (f"Against the same opportunities replayed {without}: {advice.control_effect(result, control)}; LLM "
            f"spend {signed(cf.llm_cost_delta, Per.RUN)}.")


def limit_sentence(result: RunResult, control: str, limit: str, without_it: str) -> str:
    """A limit the operator sets (the budget, the latency limit): its effect against none, and what none spends."""
    without = result.counterfactuals[control].without
    return (f"The {limit} against {without_it}: {advice.control_effect(result, control)}. With {without_it} the "
            f"cascade would have spent {money(without.llm_cost, Per.RUN)} on {count(without.llm_reads, 'read')}. "
            "It is the operator's limit, not a control: this is its price, paid as insurance (its premium on a steady "
            "market and its payout under each shock, over seeds: `python -m bench --only controls`).")


def hurdle_title(path: findings.HurdlePath) -> str:
    if path.peak_at is None:
        return f"The hurdle held at {num(path.first)} all period"
    return (f"The hurdle went from {num(path.first)} to {num(path.last)}, peaking at {num(path.high)} at "
            f"opportunity {path.peak_at:,}")


def sentinel_table(events: list[dict], shown: int = EVENT_ROWS):
    if not events:
        return Paragraph("No guardrail fired: the breaker stayed closed.")
    # The first and last events tell the story; a flapping breaker must not grow the report without bound.
    kept = events if len(events) <= 2 * shown else events[:shown] + events[-shown:]
    rows = [(f"{e['opportunity']:,}", e.get("from", ""), e["state"], e.get("reason", "")) for e in kept]
    if len(kept) < len(events):
        rows.insert(shown, ("…", "", "", f"{len(events) - len(kept):,} more in demo_metrics.json"))
    return Table(("Opportunity", "From", "To", "Reason"), tuple(rows), numeric=(0,))


# --- depth, training, halting --------------------------------------------------------------------

def frontier_section(result: RunResult) -> Section | None:
    frontier = result.frontier
    if not frontier:
        return None
    n = frontier[0].opportunities   # the landscape's sample: rates per opportunity, comparable with the run's

    def rate(x) -> str:
        return money(x / n, Per.OPPORTUNITY)
    oracle_rate = result.strategies["oracle"].expected_net_value / result.run.opportunities
    finding, title = depth_verdict(findings.depth(frontier), frontier, rate)
    settled = findings.settling(result.training.holdout_after)
    return section(
        "Depth: what recursion bought",
        Paragraph(f"The TRM alone replayed on the first {n:,} opportunities at each fixed step cap (no halting, no "
                  "LLM, no controls), in expected net value per opportunity. Bars start at zero, so equal-looking "
                  "bars are equal. " + finding),
        chart(title, "fixed step cap (steps)", "expected net value ($ per opportunity)",
              [str(r.step_cap) for r in frontier],
              [("bar", name("trm"), [r.expected_net_value / n for r in frontier])], len(frontier)),
        Table(("Step cap", "Expected net value ($ per opportunity)", "Share of oracle (expected)", "Pursued",
               "Compute ($ per opportunity)"),
              tuple((r.step_cap, money(r.expected_net_value / n, Per.CELL),
                     pct(r.expected_net_value / n / oracle_rate) if oracle_rate > 0 else "n/a", f"{r.pursued:,}",
                     money(r.compute_cost / n, Per.CELL)) for r in frontier), numeric=tuple(range(5))),
        Paragraph(held_out_depth(settled) + "The benchmark's fair ablation (docs/BENCHMARKS.md), with the same "
                  "data, validation selection and optimiser steps and parameters within 2 %, found a plain MLP of "
                  "the same size as accurate on this tabular data within seed-to-seed noise; this run does not "
                  "retest that. The TRM's case here is its cost next to an LLM, not accuracy a plain network "
                  "cannot reach."))


def depth_verdict(depth: findings.Depth | None, frontier, rate) -> tuple[str, str]:
    """(a sentence, a chart title) wording what depth bought; rate: a total on the frontier's sample in words."""
    if depth is None:
        return "", f"Expected net value at step cap {frontier[0].step_cap}"
    zigzag = (f" (deeper caps made up to {rate(depth.largest_drop)} less than shallower ones)"
              if depth.largest_drop is not None else "")
    if not depth.paid:
        return (f"The best cap ({depth.best_cap}) made {rate(depth.gain)} more than step 1, inside this run's noise "
                f"between caps of {rate(depth.noise)}{zigzag}: recursion beyond step 1 bought nothing one run can "
                "tell apart.", "Depth beyond step 1 bought nothing beyond noise")
    return (f"Depth paid: step cap {depth.enough_cap} is the shallowest within this run's noise between caps "
            f"({rate(depth.noise)}{zigzag}) of the best cap ({depth.best_cap}, {rate(depth.gain)} above step 1).",
            f"Depth paid: step cap {depth.enough_cap} beat step 1 beyond noise")


def held_out_depth(settled: findings.Settling | None) -> str:
    if settled is None:
        return ""
    verdict = (f"it was still improving at step {settled.settled_step}" if settled.still_improving else
               f"from step {settled.settled_step} on it stayed within {pct(LOG_LOSS_TOLERANCE, 0)} of its best "
               f"({settled.lowest:.4f})")
    return (f"On held-out pairs, excess log-loss went from {settled.start:.4f} at step 1 to {settled.last:.4f} at "
            f"step {settled.last_step}; {verdict}. ")


def training_section(training: dict, points: int) -> Section:
    epochs, before, after = training["epochs"], training["holdout_before"], training["holdout_after"]
    start = "scratch" if training["start"] == "scratch" else f"the {training['start']}"
    tuned = (f"fine-tuned for {count(len(epochs), 'epoch')} on {training['samples']:,} recent outcomes"
             if epochs else "not fine-tuned")
    selected = training.get("selected") or {}
    return section(
        "Training",
        Paragraph(f"Started from {start}; {tuned} (market drift {training['drift']}), on the structured fields and "
                  "observed outcomes only. Excess log-loss is how far the model's probability is from the true one "
                  "on held-out pairs (0 = perfect; the hidden factors in the replies keep any structured-only model "
                  "above 0)."),
        Paragraph(f"Training stopped early: {epochs[-1]['stopped']}.") if epochs and "stopped" in epochs[-1] else None,
        Paragraph(f"A validation split of the recent log (observed outcomes only) kept the EMA weights of epoch "
                  f"{selected['epoch']} (epoch 0 = the starting weights) and chose step cap "
                  f"{selected['step_cap']}: the shallowest cap within one standard error of the best "
                  "validation log-loss.") if selected.get("step_cap") is not None else None,
        *epoch_charts(epochs, points),
        holdout_chart(before, after, selected.get("step_cap"), points))


def epoch_charts(epochs: list[dict], points: int) -> list:
    """The losses over epochs, one chart per kind of loss (one axis, one quantity; a head that is off learns nothing
    and gets none); a single epoch is a sentence, since a line of one point shows nothing."""
    if not epochs:
        return [Paragraph("No loss chart: no fine-tuning epochs ran.")]
    kinds = [("loss", "Fine-tuning loss", "loss")] + \
        ([("halting_loss", "Halting loss", "halting loss")] if any(e["halting_loss"] for e in epochs) else [])
    if len(epochs) == 1:
        said = "; ".join(f"{words.lower()} {epochs[0][key]:.3f} nats per pair" for key, words, _ in kinds)
        return [Paragraph(f"One epoch ran ({said}): with `--train-epochs 2` or more the losses are charted by epoch.")]
    return [chart(f"{words} went from {epochs[0][key]:.3f} to {epochs[-1][key]:.3f}", "epoch (#)",
                  f"{label} (nats per pair)", [e["epoch"] for e in epochs], [("line", label, [e[key] for e in epochs])],
                  points, y_range=(0.0, max(e[key] for e in epochs)))
            for key, words, label in kinds]


def holdout_chart(before: list[dict], after: list[dict], step_cap: int | None, points: int):
    """Held-out excess log-loss by step, before and after fine-tuning, titled at the step the run decides with (its
    selected step cap), on an axis from zero: a 0.001 change looks like one."""
    at = next((i for i, r in enumerate(after) if r["step"] == step_cap), len(after) - 1)
    was, now = before[at]["excess_log_loss"], after[at]["excess_log_loss"]
    where = f"At step cap {after[at]['step']} (the run's)" if step_cap is not None else f"At step {after[at]['step']}"
    return chart(f"{where}, fine-tuning {'cut' if now < was else 'did not cut'} the excess: "
                 f"{was:.4f} to {now:.4f}", "supervision step (#)", "held-out excess log-loss (nats)",
                 [str(r["step"]) for r in after],
                 [("line", "before fine-tuning", [r["excess_log_loss"] for r in before]),
                  ("line", "after fine-tuning", [r["excess_log_loss"] for r in after])], points,
                 y_range=(0.0, max(r["excess_log_loss"] for r in before + after)))


def halting_comparison_section(training: dict) -> Section | None:
    """Does the halting head stop at the right place? Against random stopping at the same depth and a fixed cap."""
    rows = training.get("halting") or []
    if not rows:
        return None
    helps = findings.halting_helps(rows)
    verdict = ("The halting head beat random stopping and the nearest fixed cap by more than "
               f"{pct(LOG_LOSS_TOLERANCE, 0)} at threshold " + ", ".join(str(threshold) for threshold in helps)
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


# --- many seeds, and the footer ------------------------------------------------------------------

def interval(stat: Interval, fmt) -> str:
    """'mean ± half-width' of an interval, or its mean alone."""
    if not finite(stat.mean):
        return "n/a"
    return fmt(stat.mean) + (f" ± {fmt(stat.half_width)}" if finite(stat.half_width) else "")


def _ci(stat: Interval) -> str:
    low, high = stat.ci95 or (None, None)
    return f"[{money(low, Per.CELL, 0)}, {money(high, Per.CELL, 0)}]" if finite(low) and finite(high) else "n/a"


def evaluation_section(evaluation: Evaluation | None) -> Section | None:
    """The multi-seed evaluation (`--seeds N`), only when the run made one: means ± 95 % half-widths."""
    if evaluation is None:
        return None
    dollars = lambda x: money(x, Per.CELL, 0)   # noqa: E731
    strategies = evaluation.strategies
    rows = tuple((name(k), interval(strategies[k].expected_net_value, dollars),
                  interval(strategies[k].share_of_oracle_expected, lambda x: pct(x, 1)),
                  interval(strategies[k].net_value, dollars),
                  interval(strategies[k].llm_reads, lambda x: num(x, 0)),
                  interval(strategies[k].llm_cost, lambda x: money(x, Per.CELL)))
                 for k in KEYS if k in strategies)
    paired, controls = evaluation.paired, evaluation.counterfactuals
    return section(
        "Multi-seed evaluation",
        Paragraph(f"{evaluation.seeds} seeds, the whole pipeline rerun for each (mean ± the 95 % "
                  "interval's half-width). Paired rows compare two strategies seed by seed on the same jobs and "
                  "the same luck, so their intervals are much tighter than the separate ones."),
        Bullets(evaluation.verdicts) if evaluation.verdicts else None,
        Table(("Strategy", "Expected net value ($ per run)", "Share of oracle (expected)",
               "Realised net value ($ per run)", "LLM reads", "LLM cost ($ per run)"), rows,
              numeric=(1, 2, 3, 4, 5)),
        Table(("Paired difference (expected net value, $ per run)", "Mean ± half-width", "95 % interval"),
              tuple((pair_name(k), interval(v, dollars), _ci(v)) for k, v in paired.items()),
              numeric=(1, 2)) if paired else None,
        Table(("Control (run minus replay without it, $ per run)", "Mean ± half-width", "95 % interval"),
              tuple((control, interval(v, dollars), _ci(v)) for control, v in controls.items()),
              numeric=(1, 2)) if controls else None)


def footer(result: RunResult) -> Section:
    run, wall = result.run, result.wall_clock
    versions = ", ".join(f"{package} {version}" for package, version in run.versions.items())
    lines = [f"Command: {code(run.command)}", f"Seed: {run.seed}", f"Config hash: {code(run.config_hash)}",
             f"Versions: {versions}", f"LLM: {llm_label(result)}",
             "The same seed and config give the same report, except for the wall-clock lines below.",
             f"Date (wall clock): {wall.date}"]
    lines += [f"{field.replace('_', ' ')} (wall clock): {num(v, 3)}" for field, v in vars(wall).items() if finite(v)]
    return section("Reproducibility", Bullets(tuple(lines)))


# --- "What you changed": each changed key with what this run measured that it drives ----------------

def changes_section(result: RunResult) -> Section | None:
    """The config file, the keys that differ from the defaults and the flags, each with its measured effect."""
    changes = result.changes
    if changes is None:
        return None
    source = (f"Config file: {code(changes.config_file)}." if changes.config_file
              else "Config file: none (the shipped defaults; the `config` command prints them).")
    flags = " ".join(code(flag) for flag in changes.flags) or "none"
    table = (Table(("Key", "Default", "This run", "Set by", "Measured effect in this run"),
                   tuple((code(k.key), code(shown_value(k.default)), code(shown_value(k.value)), code(k.set_by),
                          effect_text(findings.drives(k.key), result)) for k in changes.keys))
             if changes.keys else Paragraph("No key differs from the defaults."))
    return section("What you changed", Paragraph(f"{source} Flags: {flags}."), table)


def effect_text(drives: Drives | None, result: RunResult) -> str:
    """The measured figures a changed key drives (findings.drives), in words."""
    return EFFECT_WORDS[drives](result) if drives else "not measured separately by this run"


def _expected(r: RunResult, keys=RIVALS) -> str:
    return "expected net value: " + ", ".join(f"{phrase(k)} {money(r.strategies[k].expected_net_value, Per.RUN, 0)}"
                                              for k in keys if k in r.strategies)


def _net_effect(r: RunResult) -> str:
    return _expected(r) + f"; best: {phrase(ranking(r)[0])}"


def _cascade_effect(r: RunResult) -> str:
    c = r.strategies["cascade"]
    return (f"the cascade read {c.llm_reads:,} replies ({pct(read_share(r))}) for {money(c.llm_cost, Per.RUN)}; "
            f"measured TRM error sd {num(r.cascade.measured_trm_error_sd)}, reader bias "
            f"{num(r.cascade.reader_bias)} and noise sd {num(r.cascade.reader_noise_sd)} (logit, fitted on "
            f"{r.cascade.calibration_outcomes:,} outcomes); "
            + _expected(r, ("cascade", "trm", "llm")))


def _llm_effect(r: RunResult) -> str:
    s = r.strategies
    return (f"LLM reads: cascade {s['cascade'].llm_reads:,} for {money(s['cascade'].llm_cost, Per.RUN)}, everyone "
            f"{s['llm'].llm_reads:,} for {money(s['llm'].llm_cost, Per.RUN)}; "
            + _expected(r, ("cascade", "trm", "llm")))


def _rivals_effect(r: RunResult) -> str:
    s = r.strategies
    return ("LLM reads: " + ", ".join(f"{phrase(k)} {s[k].llm_reads:,} for {money(s[k].llm_cost, Per.RUN)}"
                                      for k in ("cascade", "llm_shortlist", "router_topk"))
            + "; " + _expected(r, ("cascade", "llm_shortlist", "router_topk")))


def _reading_tier_effect(r: RunResult) -> str:
    if r.reading_trm is None:
        return "the reading TRM's strategies were not run (reading_trm.enabled: false)"
    s, t = r.strategies, r.reading_trm
    return (_expected(r, ("cascade3", "cascade", "trm_reader", "keyword")) + f"; LLM reads: the three-tier cascade "
            f"{s['cascade3'].llm_reads:,} (after the reading TRM read every candidate), the cascade "
            f"{s['cascade'].llm_reads:,}; a local read {money(t.price_per_read, Per.READ, 5)}")


def _thermostat_effect(r: RunResult) -> str:
    t, cf = r.thermostat, r.counterfactuals.get("thermostat")
    return (f"hurdle ended at {num(t.final_hurdle)} after {count(t.moves, 'move')}"
            + (f"; {signed(cf.expected_net_value_delta, Per.RUN)} expected against the best fixed hurdle "
               f"({advice.ONE_SEED})" if cf else ""))


def _sentinel_effect(r: RunResult) -> str:
    s, cf = r.sentinel, r.counterfactuals.get("sentinel")
    return (f"{count(len(s.events), 'breaker event')}, breaker {s.state}, LLM spend {money(s.llm_spent, Per.RUN)} "
            f"of {money(s.llm_budget, Per.RUN)}" + (f"; {signed(cf.expected_net_value_delta, Per.RUN)} expected "
                                                     "against no "
                                        "guardrails" if cf else ""))


def _budget_effect(r: RunResult) -> str:
    s, cf = r.sentinel, r.counterfactuals.get("budget")
    return (f"LLM spend {money(s.llm_spent, Per.RUN)} of {money(s.llm_budget, Per.RUN)}"
            + (f"; {signed(cf.expected_net_value_delta, Per.RUN)} expected against no budget" if cf else ""))


def _scenario_effect(r: RunResult) -> str:
    cf, events = r.counterfactuals, r.scenario.events
    return (f"{count(len(events), 'event')}; " + "; ".join(describe_event(e) for e in events[:3])
            + (f"; each control against its replay (expected, {advice.ONE_SEED}): thermostat "
               f"{signed(cf['thermostat'].expected_net_value_delta, Per.RUN)}, sentinel "
               f"{signed(cf['sentinel'].expected_net_value_delta, Per.RUN)}" if "thermostat" in cf and "sentinel" in cf
               else ""))


def _compute_effect(r: RunResult) -> str:
    s = r.strategies
    return f"compute: TRM {money(s['trm'].compute_cost, Per.RUN)}, greedy {money(s['greedy'].compute_cost, Per.RUN)}"


def _cost_effect(r: RunResult) -> str:
    s = r.strategies
    return ("pursued: " + ", ".join(f"{phrase(k)} {s[k].pursued:,}" for k in ("cascade", "trm", "greedy"))
            + "; " + _expected(r, ("cascade", "trm", "greedy")))


def _training_effect(r: RunResult) -> str:
    before, after = r.training.holdout_before[-1], r.training.holdout_after[-1]
    return (f"held-out excess log-loss at step {after.step}: {before.excess_log_loss:.4f} before "
            f"fine-tuning, {after.excess_log_loss:.4f} after; TRM alone "
            f"{money(r.strategies['trm'].expected_net_value, Per.RUN, 0)} expected")


def _reader_effect(r: RunResult) -> str:
    return f"LLM reader: {llm_label(r)}"


EFFECT_WORDS = {Drives.NET_VALUE: _net_effect, Drives.CASCADE: _cascade_effect, Drives.LLM: _llm_effect,
                Drives.OUTREACH: _cost_effect, Drives.COMPUTE: _compute_effect,
                Drives.THERMOSTAT: _thermostat_effect, Drives.SENTINEL: _sentinel_effect,
                Drives.BUDGET: _budget_effect, Drives.SCENARIO: _scenario_effect, Drives.TRAINING: _training_effect,
                Drives.READER: _reader_effect, Drives.RIVALS: _rivals_effect, Drives.READING_TIER: _reading_tier_effect}
