"""The strategies the funnel compares: one record each, the one place a strategy is named.

The simulation records a ledger row for every key here (funnel/simulation.py decides how each picks), the
multi-seed evaluation averages every key, and the terminal and both reports name each one with its record's
words. Adding a strategy is one record below, plus the simulation code that decides it. No imports: the funnel
and the reports both read this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Inputs(Enum):
    """What a strategy decides with."""
    FIELDS = "the structured applicant-tracking fields"
    FIELDS_AND_REPLY = "the fields and the candidate's free-text reply"
    TRUTH = "the true conversion probability"


class Recording(Enum):
    """How the simulation records a strategy's ledger rows."""
    ROUND = "one round per block of opportunities, without the controls"
    TRM_PASS = "from the TRM's pass at its validated step cap, without the controls"
    SHORTLIST = ("per chunk, from the TRM's pass: each job's top k by the TRM read in one round under the "
                 "strategy's own sentinel (the cascade's budget, latency limit and breaker)")
    CONTROLLED = "per chunk, under the thermostat and the sentinel (and replayed without each)"
    THREE_TIER = ("per chunk, the reading TRM first where it pays, then the LLM under its own thermostat and sentinel "
                  "(the cascade's settings; not replayed)")


@dataclass(frozen=True)
class Strategy:
    key: str          # the ledger's and the JSON's name
    name: str         # table rows
    short: str        # narrow tables, the break-even map's cells, paired differences
    phrase: str       # in a sentence
    inputs: Inputs
    recording: Recording
    advice: str       # the report's first words when this strategy makes the most expected net value
    rival: bool = True   # False: a yardstick (the oracle knows the truth), never the advice
    budgeted: bool = True   # its LLM spend is held to the cascade's budget (False: reading everyone is what it is)
    local: bool = False     # reads with the reading TRM: recorded only where the config turns it on (reading_trm)


# In the order a reader compares them: the cascades and their parts first, the oracle last. The LLM is named
# for what it does, not for which reader did it: the run's LLM line (terminal) and reproducibility footer
# (report) say simulated, or the real provider and model.
STRATEGIES = (
    Strategy("cascade", "Cascade (TRM + LLM)", "Cascade", "the cascade", Inputs.FIELDS_AND_REPLY,
             Recording.CONTROLLED, "**Use the cascade: let the TRM and the free keyword reader score every candidate "
             "and pay the LLM to read a reply only where reading is worth its price.**"),
    Strategy("cascade3", "Three-tier cascade", "Cascade 3", "the three-tier cascade",
             Inputs.FIELDS_AND_REPLY, Recording.THREE_TIER,
             "**Use the three-tier cascade: let the TRM and the keyword reader score every candidate, have the tiny "
             "reading TRM read a reply where that is worth its compute, and pay the LLM only where reading is still "
             "worth its price.**", local=True),
    Strategy("trm", "TRM alone", "TRM alone", "the TRM alone", Inputs.FIELDS, Recording.TRM_PASS,
             "**Use the TRM alone: at these prices, paying an LLM to read the replies does not pay.**"),
    Strategy("keyword", "Keyword reader + TRM", "Keywords", "the keyword reader",
             Inputs.FIELDS_AND_REPLY, Recording.TRM_PASS,
             "**Use the keyword reader: a logistic regression on the TRM's score and keyword flags of every reply, "
             "fitted on labelled replies of the history, reads well enough for free; paying an LLM to read does not "
             "beat it here.**"),
    Strategy("trm_reader", "Reading TRM + TRM", "Reading TRM", "the reading TRM", Inputs.FIELDS_AND_REPLY,
             Recording.TRM_PASS, "**Use the reading TRM: a tiny local model reading every reply beside the fields, "
             "its probability calibrated on labelled replies of the history, reads well enough at its compute "
             "price; paying an LLM to read does not beat it here.**", local=True),
    Strategy("bow_reader", "Bag of words + TRM", "Bag of words", "the bag-of-words reader",
             Inputs.FIELDS_AND_REPLY, Recording.TRM_PASS, "**Use the bag-of-words reader: a logistic regression on "
             "which words each reply holds, fitted offline on labelled replies and calibrated on the history's, "
             "reads well enough for almost nothing; neither the reading TRM nor an LLM beats it here.**", local=True),
    Strategy("llm_shortlist", "LLM reads the TRM's top k", "LLM top k", "the LLM reading the TRM's shortlist",
             Inputs.FIELDS_AND_REPLY, Recording.SHORTLIST,
             "**Have the LLM read each job's shortlist (the TRM's top k candidates) and decide on its readings: at "
             "this price a fixed shortlist beats choosing each read by its value.**"),
    Strategy("router_topk", "Top-k router (TRM + LLM)", "Top-k router", "the top-k router",
             Inputs.FIELDS_AND_REPLY, Recording.SHORTLIST,
             "**Read each job's top k candidates by the keyword reader and combine each reading with its belief: a "
             "fixed shortlist does as well as choosing each read by its value.**"),
    Strategy("llm", "LLM reads everyone", "LLM alone", "the LLM reading everyone", Inputs.FIELDS_AND_REPLY,
             Recording.SHORTLIST, "**Have the LLM read every reply: at this price reading everyone beats being "
             "selective.**", budgeted=False),
    Strategy("logistic", "Logistic regression", "Logistic", "the logistic regression", Inputs.FIELDS,
             Recording.ROUND, "**Use the logistic regression: neither the TRM nor the LLM earned its place in this "
             "run.**"),
    Strategy("greedy", "Greedy rule of thumb", "Greedy", "the greedy rule of thumb", Inputs.FIELDS, Recording.ROUND,
             "**Keep the rule of thumb (greedy): no model earned its place in this run.**"),
    Strategy("oracle", "Oracle (upper bound)", "Oracle", "the oracle", Inputs.TRUTH, Recording.ROUND,
             "**Use the oracle.**", rival=False),
)
KEYS = tuple(s.key for s in STRATEGIES)
RIVALS = tuple(s.key for s in STRATEGIES if s.rival)
_BY_KEY = {s.key: s for s in STRATEGIES}


def recorded(local: bool) -> tuple[str, ...]:
    """The keys a run records, in KEYS' order: those that read with the reading TRM only if `local`."""
    return tuple(s.key for s in STRATEGIES if local or not s.local)


def strategy(key: str) -> Strategy:
    """The record of `key`; a key this version does not know (a newer run's JSON) is named by its key."""
    if key in _BY_KEY:
        return _BY_KEY[key]
    return Strategy(key, key, key, key, Inputs.FIELDS, Recording.ROUND,
                    f"**Use {key}: it made the most expected net value in this run.**")
