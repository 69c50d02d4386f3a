"""The words the reports and the terminal use, defined once: the dossier's glossary and `trm-demo --help`.

The main lines say "escalation threshold" and "LLM outage guard"; the code's own names (the thermostat's
hurdle, the sentinel's circuit breaker and its half-open state) are given here, so a reader who opens the JSON
or the code can find them.
"""

from __future__ import annotations

TERMS = (
    ("Expected net value", "each pursued candidate counted at its true conversion probability times the value of a "
     "placement, minus every cost: the yardstick, free of outcome luck (the simulation knows the true "
     "probabilities)"),
    ("Realised net value", "the same on the outcomes the run drew: luck included"),
    ("Oracle", "a strategy that knows every true probability: the upper bound, not a rival; \"share of oracle\" "
     "is a strategy's expected net value as a share of the oracle's"),
    ("TRM", "the Tiny Recursive Model: a small network that scores each candidate from the structured "
     "applicant-tracking fields, refining its estimate over a few steps (the step cap, chosen on a validation "
     "split)"),
    ("Cascade", "the TRM scores every candidate and the LLM reads a reply only where the reading is worth its "
     "price"),
    ("Value of information", "what reading a reply is expected to add to the decision, in dollars, from the TRM's "
     "estimate and its error measured on past outcomes"),
    ("Escalation threshold", "the LLM reads a reply only when its value of information beats this multiple of the "
     "LLM price (the code's `hurdle`)"),
    ("Spend pacing", "the thermostat: keeps the escalation threshold at its floor and raises it when the LLM "
     "budget would run out before the period ends"),
    ("LLM outage guard", "the sentinel's circuit breaker: when LLM calls fail it switches the LLM off and the TRM "
     "decides alone, then tries the LLM again (`half_open`) before switching it back on (`closed`)"),
    ("TRM fallback", "the sentinel's TRM guard: when the TRM's scores look broken the logistic regression decides "
     "instead"),
    ("Logit", "log-odds, log(p / (1 - p)): the scale on which a reader's noise and bias are measured"),
    ("Excess log-loss", "how far a model's probabilities are from the true ones on held-out candidates, in nats "
     "(0 = perfect)"),
    ("95 % interval", "with `--seeds N`, the range that holds the mean over seeds 95 times in 100; a difference "
     "whose interval includes zero is no measurable difference"),
)


def help_text() -> str:
    """The glossary as one paragraph for `--help` (argparse reflows an epilog into one)."""
    return "Terms: " + "; ".join(f"{term}: {text}" for term, text in TERMS) + "."
