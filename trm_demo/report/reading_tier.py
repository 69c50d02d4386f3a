"""The dossier's section on the reading TRM's tier (config reading_trm; funnel/local_reading.py), when the run had it."""

from __future__ import annotations

from trm_demo.report.charts import chart
from trm_demo.report.document import Paragraph, Section, Table, escaped, section
from trm_demo.report.formats import Per, finite, money, num, pct
from trm_demo.results import RunResult

REPLY_CHARACTERS = 90   # a longer reply is cut in the table (the run's telemetry has it whole)


def reading_tier_section(result: RunResult) -> Section | None:
    t = result.reading_trm
    if t is None:
        return None
    s = result.strategies
    depth = {d.construction: d for d in t.depth}
    steps = len(t.depth[0].share_of_perfect_gain) if t.depth else 0
    return section(
        "The reading TRM: a tiny local reader between the fields and the LLM",
        Paragraph(
            f"The reading TRM (weights `{escaped(t.checkpoint.get('path', ''))}`, used as shipped: it is not fine-tuned "
            f"in the run, its training takes about 300-440 CPU seconds a seed: `python -m bench.reader`) reads a reply and a few "
            f"fields at its checkpoint's step cap ({t.step_cap}) for {money(t.price_per_read, Per.READ, 5)}, priced as "
            f"the TRM's steps by its compute"
            + (f" ({pct(t.llm_price_share, 2)} of an LLM read's price)" if t.llm_price_share is not None else "")
            + f". Its probability is calibrated on the outcomes of {t.setup_reads:,} history replies. " + _trust(t)),
        Paragraph(
            f"The reading TRM with the TRM (every candidate read: {t.trm_reader_reads:,} reads) made "
            f"{money(s['trm_reader'].expected_net_value, Per.RUN, 0)} expected, the keyword reader "
            f"{money(s['keyword'].expected_net_value, Per.RUN, 0)}"
            + (f", and the reading TRM's rival fitted on the same replies, a bag-of-words logistic with the TRM "
               f"(every candidate read, {money(t.bag_of_words_price_per_read, Per.READ, 5)}), "
               f"{money(s['bow_reader'].expected_net_value, Per.RUN, 0)}" if t.bag_of_words_price_per_read is not None else "")
            + f". The three-tier cascade starts from that same belief and reads with the LLM only where the value of "
            f"information over it beats its hurdle: the LLM {s['cascade3'].llm_reads:,} (the cascade: "
            f"{s['cascade'].llm_reads:,}); it made "
            f"{money(s['cascade3'].expected_net_value, Per.RUN, 0)} expected against the cascade's "
            f"{money(s['cascade'].expected_net_value, Per.RUN, 0)}. One run is one seed: the benchmark page's "
            "multi-seed table has the paired intervals."),
        *_depth_blocks(depth, steps, t.step_cap),
        Paragraph("A few replies with each reader's P(convert) beside the truth (the simulation knows it): the first "
                  "reply of the run's first opportunities that states a fact through each construction. The LLM's is "
                  "its reading before its noise."),
        Table(("Construction", "Reply", "Fields only", "Keywords", "Reading TRM", "LLM", "True"),
              tuple((e.construction.replace("_", " "), escaped(_cut(e.reply)), *(num(p, 2) for p in (
                  e.fields_only, e.keyword, e.reading_trm, e.llm, e.truth))) for e in t.examples),
              numeric=(2, 3, 4, 5, 6)))


def _trust(t) -> str:
    return (f"On the same replies' LLM readings and outcomes, against its belief calibrated out of fold, the three-tier "
            f"cascade's set-up fit finds the LLM's bias {num(t.llm_bias)} and noise {num(t.llm_noise_sd)} and that "
            f"belief's error {num(t.base_error_sd)} (logit).")


def _depth_blocks(depth: dict, steps: int, step_cap: int) -> tuple:
    """Two charts, each with one series that reads at a glance: every construction's share follows the all-replies
    line within a few points on an axis that spans hundreds, so drawn together their lines hid each other. The
    line is the share by step over all replies; the bars compare the constructions at the step the run reads at.
    The table has every figure."""
    if not depth or steps == 0:
        return ()
    n = depth["all"].candidates
    overall = depth["all"].share_of_perfect_gain
    at = min(step_cap, steps)
    by_construction = {_name(c): d.share_of_perfect_gain[at - 1] for c, d in depth.items()}
    return (
        Paragraph(f"Depth on text: the reading TRM's share of what a perfect reading adds over the TRM's fields-only "
                  f"estimate (held-out excess log-loss against the true probability), after each of its {steps} steps, "
                  f"on the run's first {n:,} candidates (a small sample: the benchmark page measures it on thousands). "
                  "The shipped checkpoint is the reader validation kept, the one trained at one step, so its later "
                  "steps show a recursion it was never trained for; the benchmark page measures depth on a reader "
                  "trained over 4 steps (best at step 2, still below the one-step reader). The thermostat does not pace "
                  "its depth: depth does not pay here."),
        chart(_by_step_title(overall), "step", "share of a perfect reading's gain (%)",
              [str(i + 1) for i in range(steps)], [("line", "all replies", _percent(overall))], steps),
        chart(_by_construction_title(by_construction, at), "replies stating a fact through",
              "share of a perfect reading's gain (%)", list(by_construction),
              [("bar", f"step {at}", _percent(by_construction.values()))], len(by_construction)),
        Table(("Replies stating a fact through", "Candidates", *(f"Step {i + 1}" for i in range(steps))),
              tuple((_name(d.construction), f"{d.candidates:,}", *(pct(v, 0) for v in d.share_of_perfect_gain))
                    for d in depth.values()), numeric=tuple(range(1, steps + 2))))


def _name(construction: str) -> str:
    return "all replies" if construction == "all" else construction.replace("_", " ")


def _percent(shares) -> list:
    return [None if v is None else 100 * v for v in shares]


def _by_step_title(shares: tuple) -> str:
    known = [(v, i + 1) for i, v in enumerate(shares) if finite(v)]
    if not known:
        return "Reading TRM: share of a perfect reading's gain by step"
    best, step = max(known, key=lambda known: known[0])   # the first step of the best
    return (f"Reading TRM: best at step {step} ({pct(best, 0)} of reading's gain), "
            f"{pct(shares[-1], 0)} at step {len(shares)}")


def _by_construction_title(shares: dict, step: int) -> str:
    known = [v for v in shares.values() if finite(v)]
    if not known:
        return f"Step {step} (the run's cap) by construction"
    return (f"Step {step} (the run's cap) by construction: {pct(min(known), 0)} to {pct(max(known), 0)} "
            "of reading's gain")


def _cut(reply: str) -> str:
    return reply if len(reply) <= REPLY_CHARACTERS else reply[:REPLY_CHARACTERS - 1].rstrip() + "…"
