"""Executive dossier: `assets/trm_executive_report.md` and its one-file HTML twin.

`report_document` is pure (config + metrics + training log -> a document.Document) so tests
can feed it synthetic numbers; `render_report` is its Markdown and `write_report` writes the
Markdown and the HTML atomically. Every figure, every verdict and every chart title is
computed from the run: nothing here claims a winner in advance. Expected net value (from the
true probabilities, free of outcome luck) is the yardstick; realised figures stand beside it.
Charts are charts.chart specs (palette, zero-based bars, at most 12 labels, units): a new
chart is one more spec here.
"""

from __future__ import annotations

import math

import yaml

from trm_demo.atomic import write_text
from trm_demo.report.changes import shown_value
from trm_demo.report.charts import chart
from trm_demo.report.document import Bullets, Code, Document, Flow, Paragraph, Section, Table, section, to_markdown
from trm_demo.report.formats import FULL, ORDER, PHRASE, SHORT, count, finite, money, num, pair_name, pct, signed
from trm_demo.report.html import write_html


def price(x) -> str:
    """An LLM price per read: cents, not the 4 places money() gives compute costs below $1."""
    return money(x, 2) if finite(x) and abs(x) >= 0.01 else money(x)

# The strategies' names and their order are formats.STRATEGY_NAMES. The oracle knows the true probability: a
# yardstick, not a rival.
CONTENDERS = tuple(k for k in ORDER if k != "oracle")
# Held-out excess log-loss within this fraction of its best value counts as "settled" (the log
# carries no standard error).
LOG_LOSS_TOLERANCE = 0.05
# A deeper step cap must beat the shallowest by more than this share of expected net value to count.
DEPTH_TOLERANCE = 0.01
# The deferral curve's finding: the share read at which an order has this much of reading's whole gain.
GAIN_SHARE = 0.9
EVENT_ROWS = 10   # sentinel events shown first and last; the rest are counted


# --- the report ------------------------------------------------------------------------------

def write_report(path, html_path, settings: dict, metrics: dict, training: dict) -> None:
    """settings: the run's config as plain data (`Config.to_dict()`), shown in the appendix."""
    doc = report_document(settings, metrics, training)
    write_text(path, to_markdown(doc))
    write_html(html_path, doc)


def render_report(settings: dict, metrics: dict, training: dict) -> str:
    return to_markdown(report_document(settings, metrics, training))


def report_document(settings: dict, metrics: dict, training: dict) -> Document:
    points = settings["report"]["max_chart_points"]
    sections = [changes_section(metrics),
                section("Headline", Paragraph(headline(metrics))), strategy_section(metrics),
                llm_reader_section(metrics), deferral_section(metrics), break_even_section(metrics),
                controls_section(settings, metrics, points),
                ARCHITECTURE, frontier_section(metrics, training), training_section(training, points),
                halting_comparison_section(training), evaluation_section(metrics.get("evaluation")),
                section("Configuration snapshot",
                        Paragraph("The effective knobs of this run (defaults, config file and flags merged):"),
                        Code(yaml.safe_dump(settings, sort_keys=False), "yaml")),
                footer(metrics)]
    return Document("TRM executive report", (Paragraph(advice(metrics)),), tuple(s for s in sections if s))


def ranking(metrics: dict) -> list[str]:
    """The contenders by expected net value, best first (stable: the cascade first on a tie)."""
    s = metrics["strategies"]
    return sorted((k for k in CONTENDERS if k in s), key=lambda k: -s[k]["expected_net_value"])


def llm_label(metrics: dict) -> str:
    """'simulated', or the real model's name: the LLM is labelled as what it is everywhere."""
    llm = metrics["run"].get("llm") or {}
    return f"real ({llm.get('provider')}, {llm.get('model')})" if llm.get("real") else "simulated"


# --- the first paragraph and the headline ------------------------------------------------------

WHAT_TO_DO = {
    "cascade": "**Use the cascade: let the TRM score every candidate and pay the LLM to read a reply only where "
               "reading is worth its price.**",
    "trm": "**Use the TRM alone: at these prices, paying an LLM to read the replies does not pay.**",
    "llm": "**Have the LLM read every reply: at this price reading everyone beats being selective.**",
    "logistic": "**Use the logistic regression: neither the TRM nor the LLM earned its place in this run.**",
    "greedy": "**Keep the rule of thumb (greedy): no model earned its place in this run.**",
}


def advice(metrics: dict) -> str:
    """The first paragraph, for a reader who will read only it: what to do, why, and where that changes."""
    s, run = metrics["strategies"], metrics["run"]
    first, second = ranking(metrics)[:2]
    best, runner = s[first], s[second]
    share = (f", {pct(best['share_of_oracle_expected'])} of what a perfect-information oracle would make"
             if finite(best.get("share_of_oracle_expected")) else "")
    why = (f" In this simulated funnel of {run['opportunities']:,} jobs it made the most expected net value "
           f"({money(best['expected_net_value'], 0)}{share}), {money(best['expected_net_value'] - runner['expected_net_value'], 0)} "
           f"more than {PHRASE[second]}.")
    if first == "cascade":
        read = read_share(metrics)
        why += (f" The LLM read {pct(read)} of the candidates," if finite(read) else " The LLM read") + \
               f" for {money(best['llm_cost'])}."
    return WHAT_TO_DO[first] + why + where_it_changes(metrics) + _doubt(metrics, first, second)


def _doubt(metrics: dict, first: str, second: str) -> str:
    evaluation = metrics.get("evaluation") or {}
    pair = (evaluation.get("paired") or {}).get(f"{first}-{second}") or {}
    if finite(pair.get("half_width")) and finite(pair.get("mean")):
        if abs(pair["mean"]) <= pair["half_width"]:
            return (f" Across {evaluation['seeds']} seeds the two are not significantly apart "
                    f"({money(pair['mean'], 0)} ± {money(pair['half_width'], 0)}): either will do.")
        return (f" Across {evaluation['seeds']} seeds it leads by {money(pair['mean'], 0)} ± "
                f"{money(pair['half_width'], 0)} per run.")
    if evaluation:
        return ""
    return " One seed: `--seeds 10` gives paired 95 % intervals."


def where_it_changes(metrics: dict) -> str:
    """From the break-even map: along the LLM price at this run's value per placement (and along the value
    at this price), the range where this run's winner holds and who wins next to it."""
    grid = (metrics.get("landscape") or {}).get("break_even")
    if not grid or not grid.get("cells"):
        return ""
    value, at_price = nearest_cell(grid)
    by_price = sorted((c for c in grid["cells"] if c["conversion_value"] == value), key=lambda c: c["llm_price"])
    by_value = sorted((c for c in grid["cells"] if c["llm_price"] == at_price), key=lambda c: c["conversion_value"])
    price_text = _span(by_price, "llm_price", at_price, lambda x: f"{price(x)} per read")
    value_text = _span(by_value, "conversion_value", value, lambda x: f"{money(x, 0)} per placement")
    return (f" On the break-even map, at {money(value, 0)} per placement {price_text}; "
            f"at {price(at_price)} per read {value_text}.")


def _span(line: list[dict], key: str, here: float, unit) -> str:
    """'<winner> wins from A to B[; <other> wins at C]' along one axis of the map, around `here`."""
    i = next(j for j, c in enumerate(line) if c[key] == here)
    best = line[i]["best"]
    lo = i
    while lo > 0 and line[lo - 1]["best"] == best:
        lo -= 1
    hi = i
    while hi < len(line) - 1 and line[hi + 1]["best"] == best:
        hi += 1
    if lo == 0 and hi == len(line) - 1:
        text = f"{PHRASE[best]} wins at every point from {unit(line[0][key])} to {unit(line[-1][key])}"
    else:
        text = f"{PHRASE[best]} wins from {unit(line[lo][key])} to {unit(line[hi][key])}"
    if lo > 0:
        text += f", {PHRASE[line[lo - 1]['best']]} at {unit(line[lo - 1][key])}"
    if hi < len(line) - 1:
        text += f", {PHRASE[line[hi + 1]['best']]} at {unit(line[hi + 1][key])}"
    return text


def nearest_cell(grid: dict) -> tuple[float, float]:
    """The map's (conversion value, LLM price) nearest this run's economics, on log scales."""
    default = grid["default"]

    def near(options, target):
        return min(options, key=lambda o: abs(math.log(o / target)) if o > 0 and target > 0 else abs(o - target))
    return near(grid["values"], default["conversion_value"]), near(grid["prices"], default["llm_price"])


def read_share(metrics: dict) -> float:
    """The share of all candidates whose reply the cascade read."""
    run = metrics["run"]
    candidates = run["opportunities"] * run.get("candidates_per_opportunity", 0)
    return metrics["strategies"]["cascade"]["llm_reads"] / candidates if candidates else math.nan


def headline(metrics: dict) -> str:
    s, run = metrics["strategies"], metrics["run"]
    order = ranking(metrics)
    first = order[0]
    others = [k for k in ("cascade", "trm", "llm") if k != first][:2]
    lead = (f"**{FULL[first]} made the most expected net value: {money(s[first]['expected_net_value'])}"
            + (f", {pct(s[first]['share_of_oracle_expected'])} of the oracle's" if
               finite(s[first].get("share_of_oracle_expected")) else "")
            + "; " + " and ".join(f"{money(s[first]['expected_net_value'] - s[k]['expected_net_value'])} more than "
                                  f"{PHRASE[k]}" for k in others) + ".**")
    lines = [lead,
             "Realised on this run's drawn outcomes (luck included): " +
             ", ".join(f"{PHRASE[k]} {money(s[k]['net_value'])}" for k in ORDER if k in s) + "."]
    cascade, llm = s["cascade"], s["llm"]
    read = read_share(metrics)
    if finite(read):
        lines.append(f"The cascade had the LLM read {cascade['llm_reads']:,} replies ({pct(read)} of the candidates) "
                     f"for {money(cascade['llm_cost'])}; reading everyone cost {money(llm['llm_cost'])}. The TRM's "
                     f"own compute for every candidate was {money(s['trm']['compute_cost'])}.")
    lines.append("Share of the oracle's expected net value (the oracle knows the true probability: the upper "
                 "bound, not a rival): " + ", ".join(f"{PHRASE[k]} {pct(s[k]['share_of_oracle_expected'])}"
                                                     for k in CONTENDERS if k in s) + ".")
    if cascade.get("fallback_decisions"):
        lines.append(f"{cascade['fallback_decisions']:,} of the cascade's decisions were made by the logistic model "
                     "while the sentinel's TRM guard was tripped.")
    lines.append(f"One seed ({run['seed']}), {run['opportunities']:,} opportunities with "
                 f"{run['candidates_per_opportunity']} candidates each; every strategy faced the same candidates and "
                 "the same outcome draws.")
    verdicts = (metrics.get("evaluation") or {}).get("verdicts")
    if verdicts:   # the multi-seed intervals outrank one seed's margin
        lines.append(f"Across {metrics['evaluation'].get('seeds', 'several')} seeds: " + "; ".join(verdicts) + ".")
    return " ".join(lines)


# --- what was compared -------------------------------------------------------------------------

def strategy_section(metrics: dict) -> Section:
    s = metrics["strategies"]
    rows = tuple((FULL[k], money(r["expected_net_value"]), pct(r.get("share_of_oracle_expected")),
                  money(r["net_value"]), f"{r.get('llm_reads', 0):,}", money(r.get("llm_cost", 0.0)),
                  money(r["total_cost"]), pct(r.get("success_rate")), num(r.get("roi")))
                 for k, r in ((k, s[k]) for k in ORDER if k in s))
    return section(
        "Strategies",
        Table(("Strategy", "Expected net value", "Share of oracle (expected)", "Realised net value", "LLM reads",
               "LLM cost", "Total cost", "Success rate", "ROI"), rows, numeric=tuple(range(1, 9))),
        Paragraph("**Expected net value** counts each pursued candidate at its true conversion probability times "
                  "the value of a placement, minus every cost: the yardstick, free of outcome luck. **Realised** is "
                  "the same on the outcomes this run drew. All six strategies share one decision rule (pursue the "
                  "best candidate when its expected value beats the outreach cost) and the same random numbers; "
                  "they differ only in the estimate they decide with."),
        Paragraph("The TRM, the logistic regression and greedy see the structured applicant-tracking fields only. "
                  "The LLM reads the fields and the candidate's free-text reply, where intent, competing offers, "
                  "notice period and flexibility are stated: reading prose is what one pays an LLM for. The LLM "
                  f"here is **{llm_label(metrics)}**" + _llm_detail(metrics) + "."),
        Bullets(tuple(f"**{name}** = {text}" for name, text in metrics.get("definitions", {}).items())))


def _llm_detail(metrics: dict) -> str:
    llm = metrics["run"].get("llm") or {}
    if llm.get("real") or not finite(llm.get("noise_logit_sd")):
        return ""
    return (f": its reading of a reply is what the reply states plus Gaussian noise of sd "
            f"{num(llm['noise_logit_sd'])} on the logit scale and a bias of {num(llm.get('bias_logit', 0.0))}")


def llm_reader_section(metrics: dict) -> Section | None:
    """A real LLM: which model at which host, what it cost, how fast, and how well calibrated on this task."""
    llm = metrics["run"].get("llm") or {}
    if not llm.get("real"):
        return None
    stats, latency = llm.get("stats", {}), llm.get("stats", {}).get("latency_ms", {})
    failures = ", ".join(f"{reason} {n}" for reason, n in stats.get("failures", {}).items()) or "none"
    rows = tuple((b["bucket"], f"{b['readings']:,}", num(b["mean_reading"], 3), num(b["mean_true_probability"], 3))
                 for b in llm.get("calibration", []))
    timing = (f"median {num(latency.get('p50'), 0)} ms, 90th percentile {num(latency.get('p90'), 0)} ms, 99th "
              f"{num(latency.get('p99'), 0)} ms" if latency.get("count") else "none measured: every reading came "
              "from the cache")
    return section(
        "The LLM reader",
        Paragraph(f"**{llm.get('model')}** at {llm.get('host')} ({llm.get('provider')}, prompt "
                  f"{llm.get('prompt_version')}): {count(stats.get('reads', 0), 'read')}, "
                  f"{count(stats.get('hits', 0), 'cache hit')} and {count(stats.get('misses', 0), 'call')} to the "
                  f"endpoint; failures: {failures}. This run paid {money(stats.get('spend', 0.0))} (a cache hit "
                  f"is free); at its usage tokens the readings cost {money(llm.get('charged', 0.0))}, which the "
                  f"ledger charges. Latency of the calls: {timing} (wall clock, reported only; no decision depends "
                  "on it)."),
        Paragraph("Calibration against the true probability (which the simulation knows): a well calibrated "
                  "reader's mean reading matches the mean true probability in every bucket."),
        Table(("Reading bucket", "Readings", "Mean reading", "Mean true probability"), rows, numeric=(1, 2, 3)))


def deferral_section(metrics: dict) -> Section | None:
    curve = (metrics.get("landscape") or {}).get("deferral")
    if not curve:
        return None
    shares, lines = curve["share_read"], curve["share_of_oracle_expected"]
    labels = {"voi": "VOI order (the cascade's)", "random": "random order", "oracle": "oracle order (hindsight)"}
    series = [("line", labels[k], [100 * v if finite(v) else None for v in lines[k]]) for k in labels if k in lines]
    return section(
        "Where reading pays: the deferral curve",
        Paragraph(f"Read the replies of the top x % of candidates in some order, decide with those readings, and "
                  f"measure the expected net value before LLM cost as a share of the oracle's (the first "
                  f"{metrics['landscape']['opportunities']:,} opportunities, steady market, no budget). The "
                  "cascade's order is the value of information computed from the TRM's estimate and its measured "
                  "error; the oracle order knows each reading's true gain in hindsight: the best any order can do."
                  + _deferral_reading(metrics)),
        chart(deferral_title(curve), "share of candidates read (%)", "expected share of oracle (%)",
              [f"{100 * x:.0f}" for x in shares], series, len(shares)))


def _deferral_reading(metrics: dict) -> str:
    curve, read = metrics["landscape"]["deferral"], read_share(metrics)
    alone, full = curve.get("trm_alone"), curve["share_of_oracle_expected"]["voi"][-1]
    text = ""
    if finite(alone) and finite(full):
        text += f" The TRM alone reaches {pct(alone)}; reading every reply, {pct(full)}."
    if finite(read):
        text += f" In the run the cascade read {pct(read)} of the candidates."
    return text


def deferral_title(curve: dict) -> str:
    """The finding: how much reading each order needs for most of reading's whole gain."""
    shares, lines = curve["share_read"], curve["share_of_oracle_expected"]
    voi = lines.get("voi", [])
    if len(voi) < 2 or not all(finite(v) for v in (voi[0], voi[-1])) or voi[-1] <= voi[0]:
        return "Reading the replies added nothing here"
    target = voi[0] + GAIN_SHARE * (voi[-1] - voi[0])

    def needed(name):
        return next((x for x, v in zip(shares, lines.get(name, [])) if finite(v) and v >= target), None)
    at_voi, at_random = needed("voi"), needed("random")
    text = f"{pct(GAIN_SHARE, 0)} of reading's gain: {pct(at_voi, 0)} read in VOI order"
    return text + (f", {pct(at_random, 0)} at random" if at_random is not None else "")


def break_even_section(metrics: dict) -> Section | None:
    grid = (metrics.get("landscape") or {}).get("break_even")
    if not grid or not grid.get("cells"):
        return None
    near_value, near_price = nearest_cell(grid)
    cells = {(c["conversion_value"], c["llm_price"]): c for c in grid["cells"]}

    def cell(value, price):
        c = cells.get((value, price))
        if c is None:
            return "n/a"
        name = SHORT[c["best"]]
        return f"**{name}** ★" if (value, price) == (near_value, near_price) else name
    rows = tuple((money(v, 0), *(cell(v, p) for p in grid["prices"])) for v in grid["values"])
    default = grid["default"]
    return section(
        "Break-even map: which strategy wins where",
        Paragraph(f"Expected net value per opportunity of {PHRASE['trm']}, {PHRASE['cascade']} and "
                  f"{PHRASE['llm']}, replayed on the same opportunities at each LLM price (columns) and value of a "
                  "placement (rows); each cell names the winner. ★ marks the cell nearest this run "
                  f"({money(default['conversion_value'], 0)} per placement, {price(default['llm_price'])} per read)."),
        Table(("Value per placement", *(f"{price(p)} per read" for p in grid["prices"])), rows,
              numeric=(0,)),
        Paragraph(degradation(grid)))


def degradation(grid: dict) -> str:
    """Where the cascade becomes one of its halves, and how far it ever falls below the better of them."""
    cells = grid["cells"]
    fewest = min(cells, key=lambda c: c["cascade_share_read"])
    most = max(cells, key=lambda c: c["cascade_share_read"])

    def at(c):
        return f"{price(c['llm_price'])} per read and {money(c['conversion_value'], 0)} per placement"
    parts = [f"The cascade reads fewer replies as reading gets dearer next to a placement's value: "
             f"{pct(most['cascade_share_read'], 0)} of candidates at {at(most)}, "
             f"{pct(fewest['cascade_share_read'], 0)} at {at(fewest)}, where it is nearly the TRM alone."]
    for name in ("trm", "llm"):
        wins = [c for c in cells if c["best"] == name]
        if wins:
            parts.append(f"{SHORT[name]} wins in {count(len(wins), 'cell')} ("
                         + ", ".join(at(c) for c in wins[:4]) + (", ..." if len(wins) > 4 else "") + ").")
    if not any(c["best"] != "cascade" for c in cells):
        parts.append("The cascade wins in every cell of the map.")
    worst = max(cells, key=lambda c: max(c["trm"], c["llm"]) - c["cascade"])
    shortfall = max(worst["trm"], worst["llm"]) - worst["cascade"]
    if shortfall > 0:
        parts.append(f"Where it loses, it is at most {money(shortfall)} per opportunity below the better of "
                     f"{PHRASE['trm']} and {PHRASE['llm']} (at {at(worst)}).")
    return " ".join(parts)


# --- the controls ------------------------------------------------------------------------------

def controls_section(settings: dict, metrics: dict, points: int) -> Section:
    t, sentinel = metrics["thermostat"], metrics["sentinel"]
    cf = metrics.get("counterfactuals", {})
    history = t["history"]
    hurdles = [h["hurdle"] for h in history]
    events = metrics.get("scenario", {}).get("events", [])
    blocks = [
        Paragraph("Each control is judged in dollars: the run minus the same opportunities replayed without it "
                  "(same candidates, same readings, same outcome draws). Positive means the control earned money."),
        Paragraph("**Scenario.** " + (f"{count(len(events), 'event')} during the period:" if events
                                      else "No scenario events: a steady market.")),
        Bullets(tuple(describe_event(e) for e in events)) if events else None,
        Paragraph(f"**Thermostat (budget pacing).** The cascade reads a reply when its value of information beats "
                  f"hurdle × price. The thermostat moves the hurdle so that the LLM budget lasts the period: it "
                  f"compares the recent spend rate with the rate the rest of the budget allows. It moved "
                  f"{count(t['moves'], 'time')} and ended at {num(t['final_hurdle'])}. "
                  + counterfactual_sentence(cf.get("thermostat"), "with the hurdle held at "
                                            f"{num(settings['thermostat']['initial_hurdle'])} all period")),
        chart(hurdle_title(history), "opportunity (#)", "hurdle (× LLM price)", [h["opportunity"] for h in history],
              [("line", "hurdle", hurdles)], points) if history else None,
        Paragraph(f"**Sentinel (guardrails).** LLM spend {money(sentinel['llm_spent'])} of a "
                  f"{money(sentinel['llm_budget'])} budget (never exceeded); a circuit breaker hands decisions to the "
                  "TRM alone when LLM calls fail and probes half-open before closing; a TRM guard falls back to the "
                  f"logistic model. Breaker at the end: {sentinel['state']}. "
                  + counterfactual_sentence(cf.get("sentinel"), "without the breaker and the TRM guard "
                                            "(budget and latency limit kept)")),
        sentinel_table(sentinel["events"]),
        Paragraph("**Budget.** " + limit_sentence(cf.get("budget"), "LLM budget", "no budget"))
        if cf.get("budget") else None,
        Paragraph("**Latency limit.** " + limit_sentence(cf.get("latency_limit"), "latency limit on LLM rounds",
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
    return at + shown_value(event)


def counterfactual_sentence(cf: dict | None, without: str) -> str:
    if not cf:
        return ""
    delta = cf["expected_net_value_delta"]
    verb = "earned" if delta > 0 else "cost" if delta < 0 else "changed nothing in"
    amount = f" {money(abs(delta))} of" if delta else ""
    return (f"Against the same opportunities replayed {without}, it {verb}{amount} expected net value "
            f"(realised {signed(cf['net_value_delta'])}; LLM spend {signed(cf['llm_cost_delta'])}).")


def limit_sentence(cf: dict, limit: str, without_it: str) -> str:
    """A limit the operator sets (the budget, the latency limit) can only cost: say how much."""
    delta, without = cf["expected_net_value_delta"], cf.get("without", {})
    spent = (f": with {without_it} the cascade would have spent {money(without['llm_cost'])} on "
             f"{count(without.get('llm_reads', 0), 'read')}" if "llm_cost" in without else "")
    if delta < 0:
        return (f"The {limit} cost {money(-delta)} of expected net value{spent} (realised "
                f"{signed(cf['net_value_delta'])}). It is the operator's limit, not a control: this is its price.")
    return f"The {limit} cost nothing here ({signed(delta)} expected net value against {without_it}{spent})."


def hurdle_title(history: list[dict]) -> str:
    hurdles = [h["hurdle"] for h in history]
    first, last, high = hurdles[0], hurdles[-1], max(hurdles)
    if min(hurdles) == high:
        return f"The hurdle held at {num(first)} all period"
    peak = next(h["opportunity"] for h in history if h["hurdle"] == high)
    return (f"The hurdle went from {num(first)} to {num(last)}, peaking at {num(high)} at opportunity {peak:,}")


def sentinel_table(events: list[dict], shown: int = EVENT_ROWS):
    if not events:
        return Paragraph("No guardrail fired: the breaker stayed closed.")
    # The first and last events tell the story; a flapping breaker must not grow the report without bound.
    kept = events if len(events) <= 2 * shown else events[:shown] + events[-shown:]
    rows = [(f"{e['opportunity']:,}", e.get("from", ""), e["state"], e.get("reason", "")) for e in kept]
    if len(kept) < len(events):
        rows.insert(shown, ("…", "", "", f"{len(events) - len(kept):,} more in demo_metrics.json"))
    return Table(("Opportunity", "From", "To", "Reason"), tuple(rows), numeric=(0,))


ARCHITECTURE = section("Architecture (as built)", Flow(
    nodes=(("CFG", "config.py<br/>typed, validated knobs and scenario events"),
           ("MKT", "funnel/market.py + messages.py<br/>jobs, candidates, replies with hidden factors, exact P(convert)"),
           ("TRM", "trm/engine.py, training.py, weights.py<br/>TRM on structured fields"),
           ("LOG", "trm/logistic.py<br/>baseline and TRM fallback"),
           ("SIM", "funnel/simulation.py<br/>greedy, logistic, TRM, LLM, cascade, oracle"),
           ("CAS", "funnel/cascade.py<br/>value of information, belief update"),
           ("LLM", "funnel/reading.py + llm/<br/>reads fields and reply"),
           ("THM", "funnel/thermostat.py<br/>budget pacing: escalation hurdle"),
           ("SEN", "funnel/sentinel.py<br/>budget, breaker, latency, TRM guard"),
           ("LAN", "funnel/landscape.py<br/>deferral curve, break-even map"),
           ("LED", "funnel/ledger.py<br/>expected and realised money"),
           ("SUB", "funnel/telemetry.py<br/>trm_calls.json, demo_metrics.json"),
           ("REP", "report/dossier.py<br/>this dossier (Markdown and HTML)"),
           ("UI", "ui.py<br/>terminal summary")),
    edges=(("CFG", "MKT", "", False), ("MKT", "TRM", "recent log: fields, observed 0/1", False),
           ("MKT", "LOG", "same log", False), ("TRM", "SIM", "P(convert) per candidate", False),
           ("LOG", "SIM", "", False), ("MKT", "SIM", "opportunities", False),
           ("SIM", "CAS", "TRM beliefs / what to read", True), ("CAS", "LLM", "replies worth reading", True),
           ("THM", "CAS", "hurdle", False), ("SIM", "THM", "spend, clock", False),
           ("SEN", "CAS", "allow / TRM-only fallback", True),
           ("SIM", "LAN", "first block", False), ("SIM", "LED", "", False), ("LED", "SUB", "", False),
           ("LAN", "SUB", "", False), ("SUB", "REP", "", False), ("SUB", "UI", "", False))))


# --- depth, training, halting --------------------------------------------------------------------

def frontier_section(metrics: dict, training: dict) -> Section | None:
    frontier = metrics.get("frontier") or []
    if not frontier:
        return None
    oracle = metrics["strategies"]["oracle"]["expected_net_value"]
    finding, title = depth_verdict(frontier)
    return section(
        "Depth: what recursion bought",
        Paragraph("The TRM alone replayed on the same opportunities at each fixed step cap (no halting, no LLM, no "
                  "controls), in expected net value. Bars start at $0, so equal-looking bars are equal. " + finding),
        chart(title, "fixed step cap (steps)", "expected net value ($)", [str(r["step_cap"]) for r in frontier],
              [("bar", FULL["trm"], [r["expected_net_value"] for r in frontier])], len(frontier)),
        Table(("Step cap", "Expected net value", "Share of oracle (expected)", "Pursued", "Compute"),
              tuple((r["step_cap"], money(r["expected_net_value"]),
                     pct(r["expected_net_value"] / oracle) if oracle > 0 else "n/a", f"{r['pursued']:,}",
                     money(r["compute_cost"])) for r in frontier), numeric=tuple(range(5))),
        Paragraph(held_out_depth(training) + "The benchmark's fair ablation (docs/BENCHMARKS.md), with the same "
                  "data, validation selection and optimiser steps and parameters within 2 %, found a plain MLP of "
                  "the same size as accurate on this tabular data within seed-to-seed noise; this run does not "
                  "retest that. The TRM's case here is its cost next to an LLM, not accuracy a plain network "
                  "cannot reach."))


def depth_verdict(frontier: list[dict]) -> tuple[str, str]:
    """(a sentence, a chart title): did depth buy more than this run can tell from noise?

    Depth cannot make the TRM worse on average, so a deeper cap that made *less* than a shallower one
    measures the noise between caps in this run: the yardstick is the largest such drop, and at least
    DEPTH_TOLERANCE of the best value."""
    values = [r["expected_net_value"] for r in frontier]
    best = max(frontier, key=lambda r: r["expected_net_value"])
    if len(frontier) == 1:
        return "", f"Expected net value at step cap {best['step_cap']}"
    drops = [max(values[:i]) - v for i, v in enumerate(values) if i and v < max(values[:i])]
    noise = max([*drops, DEPTH_TOLERANCE * abs(best["expected_net_value"])])
    gain = best["expected_net_value"] - values[0]
    enough = next(r for r in frontier if best["expected_net_value"] - r["expected_net_value"] <= noise)
    zigzag = f" (deeper caps made up to {money(max(drops))} less than shallower ones)" if drops else ""
    if enough is frontier[0]:
        return (f"The best cap ({best['step_cap']}) made {money(gain)} more than step 1, inside this run's noise "
                f"between caps of {money(noise)}{zigzag}: recursion beyond step 1 bought nothing one run can "
                "tell apart.", "Depth beyond step 1 bought nothing beyond noise")
    return (f"Depth paid: step cap {enough['step_cap']} is the shallowest within this run's noise between caps "
            f"({money(noise)}{zigzag}) of the best cap ({best['step_cap']}, {money(gain)} above step 1).",
            f"Depth paid: step cap {enough['step_cap']} beat step 1 beyond noise")


def held_out_depth(training: dict) -> str:
    after = training.get("holdout_after") or []
    if not after or after[0]["excess_log_loss"] <= 0:
        return ""
    start, last = after[0]["excess_log_loss"], after[-1]["excess_log_loss"]
    lowest = min(row["excess_log_loss"] for row in after)
    settled = next(row for row in after if row["excess_log_loss"] - lowest <= LOG_LOSS_TOLERANCE * lowest)
    verdict = (f"it was still improving at step {settled['step']}" if settled is after[-1] else
               f"from step {settled['step']} on it stayed within {pct(LOG_LOSS_TOLERANCE, 0)} of its best "
               f"({lowest:.4f})")
    return (f"On held-out pairs, excess log-loss went from {start:.4f} at step 1 to {last:.4f} at step "
            f"{after[-1]['step']}; {verdict}. ")


def training_section(training: dict, points: int) -> Section:
    epochs, before, after = training["epochs"], training["holdout_before"], training["holdout_after"]
    start = "scratch" if training["start"] == "scratch" else f"the {training['start']}"
    tuned = (f"fine-tuned for {count(len(epochs), 'epoch')} on {training['samples']:,} recent outcomes"
             if epochs else "not fine-tuned")
    last_before, last_after = before[-1]["excess_log_loss"], after[-1]["excess_log_loss"]
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


# --- many seeds, and the footer ------------------------------------------------------------------

def interval(stat: dict | None, fmt) -> str:
    """'mean ± half-width' of a mean_ci dict, or its mean alone."""
    if not isinstance(stat, dict) or not finite(stat.get("mean")):
        return "n/a"
    half = stat.get("half_width")
    return fmt(stat["mean"]) + (f" ± {fmt(half)}" if finite(half) else "")


def _ci(stat: dict) -> str:
    low, high = (stat.get("ci95") or [None, None])
    return f"[{money(low, 0)}, {money(high, 0)}]" if finite(low) and finite(high) else "n/a"


def evaluation_section(evaluation) -> Section | None:
    """The multi-seed evaluation (`--seeds N`), only when the run made one: means ± 95 % half-widths."""
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("strategies"), dict):
        return None
    dollars = lambda x: money(x, 0)   # noqa: E731
    strategies = evaluation["strategies"]
    rows = tuple((FULL.get(k, k), interval(strategies[k].get("expected_net_value"), dollars),
                  interval(strategies[k].get("share_of_oracle_expected"), lambda x: pct(x, 1)),
                  interval(strategies[k].get("net_value"), dollars),
                  interval(strategies[k].get("llm_reads"), lambda x: num(x, 0)),
                  interval(strategies[k].get("llm_cost"), money))
                 for k in ORDER if k in strategies)
    paired = evaluation.get("paired") or {}
    controls = evaluation.get("counterfactuals") or {}
    return section(
        "Multi-seed evaluation",
        Paragraph(f"{evaluation.get('seeds', '?')} seeds, the whole pipeline rerun for each (mean ± the 95 % "
                  "interval's half-width). Paired rows compare two strategies seed by seed on the same jobs and "
                  "the same luck, so their intervals are much tighter than the separate ones."),
        Bullets(tuple(evaluation.get("verdicts", []))) if evaluation.get("verdicts") else None,
        Table(("Strategy", "Expected net value", "Share of oracle (expected)", "Realised net value", "LLM reads",
               "LLM cost"), rows, numeric=(1, 2, 3, 4, 5)),
        Table(("Paired difference (expected net value per run)", "Mean ± half-width", "95 % interval"),
              tuple((pair_name(k), interval(v, dollars), _ci(v)) for k, v in paired.items()),
              numeric=(1, 2)) if paired else None,
        Table(("Control (run minus replay without it)", "Mean ± half-width", "95 % interval"),
              tuple((name, interval(v, dollars), _ci(v)) for name, v in controls.items()),
              numeric=(1, 2)) if controls else None)


def footer(metrics: dict) -> Section:
    run, wall = metrics["run"], metrics.get("wall_clock", {})
    versions = ", ".join(f"{name} {version}" for name, version in run["versions"].items())
    lines = [f"Command: `{run['command']}`", f"Seed: {run['seed']}", f"Config hash: `{run['config_hash']}`",
             f"Versions: {versions}", f"LLM: {llm_label(metrics)}",
             "The same seed and config give the same report, except for the wall-clock lines below."]
    if "date" in wall:
        lines.append(f"Date (wall clock): {wall['date']}")
    lines += [f"{name.replace('_', ' ')} (wall clock): {num(v, 3)}" for name, v in wall.items() if finite(v)]
    return section("Reproducibility", Bullets(tuple(lines)))


# --- "What you changed": each changed key with what this run measured that it drives ----------------

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
                   tuple((f"`{k['key']}`", shown_value(k["default"]), shown_value(k["value"]), f"`{k['set_by']}`",
                          effect(k["key"], metrics)) for k in keys))
             if keys else Paragraph("No key differs from the defaults."))
    return section("What you changed", Paragraph(f"{source} Flags: {flags}."), table)


def effect(key: str, metrics: dict) -> str:
    """What this run measured that the key drives (the longest matching prefix in EFFECTS)."""
    prefix = max((p for p in EFFECTS if key.startswith(p)), key=len, default=None)
    return EFFECTS[prefix](metrics) if prefix else "not measured separately by this run"


def _expected(m: dict, keys=CONTENDERS) -> str:
    return "expected net value: " + ", ".join(f"{PHRASE[k]} {money(m['strategies'][k]['expected_net_value'], 0)}"
                                              for k in keys)


def _net_effect(m: dict) -> str:
    return _expected(m) + f"; best: {PHRASE[ranking(m)[0]]}"


def _cascade_effect(m: dict) -> str:
    c = m["strategies"]["cascade"]
    return (f"the cascade read {c['llm_reads']:,} replies ({pct(read_share(m))}) for {money(c['llm_cost'])}; "
            f"measured TRM error sd {num(m.get('cascade', {}).get('measured_trm_error_sd'))} (logit); "
            + _expected(m, ("cascade", "trm", "llm")))


def _llm_effect(m: dict) -> str:
    s = m["strategies"]
    return (f"LLM reads: cascade {s['cascade']['llm_reads']:,} for {money(s['cascade']['llm_cost'])}, everyone "
            f"{s['llm']['llm_reads']:,} for {money(s['llm']['llm_cost'])}; " + _expected(m, ("cascade", "trm", "llm")))


def _thermostat_effect(m: dict) -> str:
    t, cf = m["thermostat"], m.get("counterfactuals", {}).get("thermostat")
    return (f"hurdle ended at {num(t['final_hurdle'])} after {count(t['moves'], 'move')}"
            + (f"; {signed(cf['expected_net_value_delta'])} expected against a fixed hurdle" if cf else ""))


def _sentinel_effect(m: dict) -> str:
    s, cf = m["sentinel"], m.get("counterfactuals", {}).get("sentinel")
    return (f"{count(len(s['events']), 'breaker event')}, breaker {s['state']}, LLM spend {money(s['llm_spent'])} of "
            f"{money(s['llm_budget'])}" + (f"; {signed(cf['expected_net_value_delta'])} expected against no "
                                            "guardrails" if cf else ""))


def _budget_effect(m: dict) -> str:
    s, cf = m["sentinel"], m.get("counterfactuals", {}).get("budget")
    return (f"LLM spend {money(s['llm_spent'])} of {money(s['llm_budget'])}"
            + (f"; {signed(cf['expected_net_value_delta'])} expected against no budget" if cf else ""))


def _scenario_effect(m: dict) -> str:
    cf = m.get("counterfactuals", {})
    events = m.get("scenario", {}).get("events", [])
    return (f"{count(len(events), 'event')}; " + "; ".join(describe_event(e) for e in events[:3])
            + (f"; controls earned (expected): thermostat {signed(cf['thermostat']['expected_net_value_delta'])}, "
               f"sentinel {signed(cf['sentinel']['expected_net_value_delta'])}" if "thermostat" in cf and "sentinel" in cf
               else ""))


def _compute_effect(m: dict) -> str:
    s = m["strategies"]
    return f"compute: TRM {money(s['trm']['compute_cost'])}, greedy {money(s['greedy']['compute_cost'])}"


def _cost_effect(m: dict) -> str:
    s = m["strategies"]
    return (f"pursued: " + ", ".join(f"{PHRASE[k]} {s[k].get('pursued', 0):,}" for k in ("cascade", "trm", "greedy"))
            + "; " + _expected(m, ("cascade", "trm", "greedy")))


def _training_effect(m: dict) -> str:
    before, after = m["training"]["holdout_before"][-1], m["training"]["holdout_after"][-1]
    return (f"held-out excess log-loss at step {after['step']}: {before['excess_log_loss']:.4f} before "
            f"fine-tuning, {after['excess_log_loss']:.4f} after; TRM alone {money(m['strategies']['trm']['expected_net_value'], 0)} expected")


def _reader_effect(m: dict) -> str:
    return f"LLM reader: {llm_label(m)}"


# Config key prefix -> the measured effect shown next to a changed key (a new knob family: one line).
EFFECTS = {"thermostat.": _thermostat_effect, "sentinel.": _sentinel_effect,
           "sentinel.llm_budget_per_opportunity": _budget_effect, "scenario.": _scenario_effect,
           "cascade.": _cascade_effect, "simulation.llm_": _llm_effect, "simulation.outreach_cost": _cost_effect,
           "simulation.conversion_value": _net_effect, "simulation.trm_": _compute_effect,
           "simulation.greedy_cost": _compute_effect, "simulation.opportunities": _net_effect,
           "simulation.seed": _net_effect, "simulation.chunk_size": _thermostat_effect, "market.": _net_effect,
           "training.": _training_effect, "model.": _training_effect, "llm.": _reader_effect}
