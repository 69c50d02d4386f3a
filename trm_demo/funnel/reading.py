"""The LLM's readings of candidates' replies, for every strategy that reads: simulated, or a real endpoint.

Simulated (the default): the reply's text read by simulated_llm.py (a reader of the grammar
with documented error rates per construction; it never sees the hidden facts or
`Market.read_logit`; each block's replies are read once, `Block.text_reading`), plus Gaussian noise `llm_noise` and a bias `llm_bias` on the logit,
the noise drawn once per candidate with the run's other random numbers; its price is
`simulation.llm_cost` per read.

Real (`llm.provider: openai_compatible`): the job's fields, the candidate's fields and
the reply go to the endpoint (trm_demo/llm); a reading is a probability or a counted
failure. Each candidate is read at most once per run and remembered, so the LLM-alone
strategy, the cascade and the cascade's replays without a control all see the same
reading and the endpoint is asked once (its SQLite cache makes a rerun free). A real
read is charged, in the ledger, at its usage tokens x the configured token prices
(also on a cache hit: that is what the reading costs in production; what this run
paid is reported beside it). The cascade still decides with `simulation.llm_cost` as
its expected price per read, and the budget reserves that much per read, then books
what the read was charged, so the table's LLM cost and the spend line are one figure.

A real reader fails loudly. Before the run GET {base_url}/models must list llm.model when the
server has that list (llama.cpp, vLLM, Ollama do; a server without it, 404 or an unreadable body,
is tolerated and the test read decides), else one line naming llm.model, the served ids and the fix;
the served id goes into the run's metadata (`served_model`, None without a list). Then one test read (through the cache, with a
short deadline) must succeed, else the run stops with one line naming llm.base_url and
what to do (exit 2, nothing written). When more than MAX_FAILED_SHARE of the run's reads
fail, `report()` says the verdicts involving the LLM are not valid, and the terminal and
the dossier's first paragraph say so instead of advising. After `llm.time_budget_s` (when set) no
read is made: those candidates count as unread (`over_budget_reads`, not failures), the tabular
models decide them, and the terminal and the LLM section say how many. The scenario's LLM events
(`llm_price_multiplier`, `llm_outage`) simulate a reader's price and outages: a real
reader has its own, so they are not applied to it (the report says so).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from trm_demo.funnel.cascade import logit
from trm_demo.config import Config
from trm_demo.errors import ConfigError
from trm_demo.funnel.market import CANDIDATE_FIELDS, JOB_FIELDS
from trm_demo.trm.training import log_loss

if TYPE_CHECKING:
    from trm_demo.llm import Reader, ReadRequest

# Above this share of failed reads the run's LLM verdicts are not valid: they would judge the outage, not the reader.
MAX_FAILED_SHARE = 0.2
# What a failed test read means, and what to do about it.
PROBE_FIXES = {"connection": "nothing answered there: start the server, or fix llm.base_url",
               "timeout": "no answer within the test read's deadline: check the server, or raise llm.timeout_s",
               "http 401": "the server refused the API key: set TRM_DEMO_LLM_API_KEY (or OPENAI_API_KEY)",
               "http 403": "the server refused the API key: set TRM_DEMO_LLM_API_KEY (or OPENAI_API_KEY)",
               "http 404": "no chat-completions endpoint or no such model there: fix llm.base_url (it usually ends "
                           "in /v1) or llm.model"}
MAX_LISTED = 5   # served model ids named in the error for an unknown llm.model
# The test read's request: job fields, candidate fields, reply.
PROBE_REQUEST = ({"title": "software engineer", "work mode": "remote"}, {"years of experience": 5},
                 "Yes, I am interested; happy to talk this week.")


class Seen(NamedTuple):
    """One real reading: its logit, whether it answered, its charge, and what judges it (simulation only)."""
    logit: float
    ok: bool
    cost: float
    p_true: float
    outcome: float   # 1.0 converted, 0.0 not; NaN for the set-up's history replies
    trm_p: float     # the TRM's probability at the run's step cap; NaN for the history
    sent: bool       # False: never sent (the time budget ran out, or a stop): not a call the breaker judges


class Readings:
    """The run's LLM readings, keyed by (opportunity, candidate); `reader` None means simulated."""

    def __init__(self, cfg: Config, reader: Reader | None = None):
        self.cfg = cfg
        self.reader = reader
        self.seen: dict[tuple[int, int], Seen] = {}
        self.over_budget = 0   # reads not made because llm.time_budget_s ran out: the TRM's estimate stands

    @property
    def real(self) -> bool:
        return self.reader is not None

    def read(self, block, rows: np.ndarray, cols: np.ndarray, history: bool = False):
        """Readings of candidates (rows[i], cols[i]) of `block`: logit (m,), ok (m,) bool, cost (m,) $.
        `history`: the set-up's labelled replies, which have no outcome draws or TRM estimate to judge by."""
        sim = self.cfg.simulation
        if not self.real:
            noise = block.reading_noise[rows, cols]
            return (block.text_reading[rows, cols] + sim.llm_noise * noise + sim.llm_bias,
                    np.ones(len(rows), bool), np.full(len(rows), sim.llm_cost))
        keys = [(int(block.ids[r]), int(c)) for r, c in zip(rows, cols)]
        missing = [i for i, key in enumerate(keys) if key not in self.seen]
        if missing:
            requests = [request_for(block, rows[i], cols[i]) for i in missing]
            from trm_demo.llm.request import OVER_BUDGET   # a real reader's: the client is loaded already
            with bad_input(self.cfg):
                answers = self.reader.read_many(requests)
            for i, reading in zip(missing, answers):
                self.over_budget += reading.failure == OVER_BUDGET
                p = min(max(reading.probability, 1e-6), 1 - 1e-6) if reading.ok else 0.5
                cost = (reading.input_tokens * self.cfg.llm.input_price_per_million
                        + reading.output_tokens * self.cfg.llm.output_price_per_million) / 1e6
                r, c = rows[i], cols[i]
                truth = float(block.market.p_true[r, c])
                self.seen[keys[i]] = Seen(float(logit(p)), reading.ok, cost, truth,
                                          np.nan if history else float(block.draws[r, c] < truth),
                                          np.nan if history else float(block.trm_path[-1, r, c]), reading.sent)
        found = [self.seen[key] for key in keys]
        return (np.array([f.logit for f in found]), np.array([f.ok for f in found], bool),
                np.array([f.cost for f in found]))

    def sent(self, block, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(m,) bool: which of these candidates' reads (made already by `read`) went to the endpoint; the ones
        the time budget or a stop kept back are no evidence of an outage."""
        if not self.real:
            return np.ones(len(rows), bool)
        return np.array([self.seen[(int(block.ids[r]), int(c))].sent for r, c in zip(rows, cols)], bool)

    def discrimination(self) -> dict:
        """The reader beside the TRM on the run's candidates it answered: rank correlation with the true
        probability (a simulation-only check) and, as a deployment would see it, AUC and log-loss against the
        observed outcomes. `worse_than_trm`: its rank correlation with the truth is below the TRM's."""
        v = np.array([(1 / (1 + np.exp(-s.logit)), s.p_true, s.outcome, s.trm_p) for s in self.seen.values()
                      if s.ok and np.isfinite(s.outcome)]).reshape(-1, 4)
        reader, truth, outcome, trm = v.T
        if len(v) < 2 or np.ptp(truth) == 0:
            return {"candidates": len(v)}
        judge = lambda p: {"rank_correlation_with_truth": _rank_correlation(p, truth), "auc": _auc(p, outcome),
                           "log_loss": float(log_loss(p, outcome).mean())}
        scores = {"candidates": len(v), "reader": judge(reader), "trm": judge(trm)}
        ours, trm = scores["reader"]["rank_correlation_with_truth"], scores["trm"]["rank_correlation_with_truth"]
        # A reader whose readings are all alike ranks nobody (None): worse than a TRM that ranks at all.
        scores["worse_than_trm"] = trm is not None and (ours is None or ours < trm)
        return scores

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()

    def report(self) -> dict:
        """What a user needs to judge their model: who it is, what it cost, and its calibration against the truth."""
        if not self.real:
            return {"provider": "simulated", "real": False, "model": "simulated reader",
                    "noise_logit_sd": self.cfg.simulation.llm_noise, "bias_logit": self.cfg.simulation.llm_bias}
        failed = sum(not v.ok for v in self.seen.values()) - self.over_budget   # a budget is not a failure
        readings = np.array([(1 / (1 + np.exp(-v.logit)), v.p_true) for v in self.seen.values() if v.ok]).reshape(-1, 2)
        edges = np.linspace(0.0, 1.0, 6)
        bucket = np.clip(np.digitize(readings[:, 0], edges) - 1, 0, 4)
        table = [{"bucket": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "readings": int((bucket == b).sum()),
                  "mean_reading": float(readings[bucket == b, 0].mean()) if (bucket == b).any() else None,
                  "mean_true_probability": float(readings[bucket == b, 1].mean()) if (bucket == b).any() else None}
                 for b in range(5)]
        share = failed / (len(self.seen) - self.over_budget) if len(self.seen) > self.over_budget else 0.0
        return {**self.reader.describe(), "real": True, "stats": self.reader.stats.to_dict(),
                "charged": float(sum(v.cost for v in self.seen.values())), "calibration": table,
                "discrimination": self.discrimination(), "candidates_read": len(self.seen), "failed_reads": failed, "failed_share": share,
                "verdicts_valid": share <= MAX_FAILED_SHARE, "scenario_llm_events": self.cfg.llm.scenario_events,
                "cache_rows_skipped": getattr(self.reader.cache, "skipped", 0),
                "time_budget_s": self.cfg.llm.time_budget_s, "over_budget_reads": self.over_budget}


def readings_for(cfg: Config) -> Readings:
    """The reader llm.provider asks for: simulated (no network), or the configured endpoint after a test read."""
    if cfg.llm.provider == "simulated":
        return Readings(cfg)
    # Here, not at the top: only a real provider loads the LLM client and its http/ssl stack.
    from trm_demo.llm import OpenAICompatibleReader, ReadRequest
    cache = Path(cfg.llm.cache_path)
    existed = cache.exists()
    with bad_input(cfg):
        reader = OpenAICompatibleReader.from_config(cfg.llm)
    try:
        with bad_input(cfg):
            served = reader.served_models()
            if served is None or cfg.llm.model in served:
                probe = reader.probe(ReadRequest(*PROBE_REQUEST))
    except BaseException:
        reader.close()
        raise
    if served is not None and cfg.llm.model not in served:
        _refuse(reader, cache, existed)
        listed = ", ".join(repr(i) for i in served[:MAX_LISTED]) + (", ..." if len(served) > MAX_LISTED else "")
        raise ConfigError(f"llm.model (--llm-model) {cfg.llm.model!r} is not served at llm.base_url "
                          f"'{cfg.llm.base_url}' (its /models lists {listed}): set llm.model or --llm-model to "
                          f"one of those")
    reader.served_model = cfg.llm.model if served else None   # None: the server lists no models
    if not probe.ok:
        _refuse(reader, cache, existed)
        fix = PROBE_FIXES.get(probe.failure, "its reply could not be read as a probability: check that llm.model "
                                             "is a chat model the server serves")
        raise ConfigError(f"the LLM at llm.base_url '{cfg.llm.base_url}' (llm.model {cfg.llm.model!r}) failed a "
                          f"test read ({probe.failure}): {fix}; or set llm.provider: simulated")
    return Readings(cfg, reader)


def _refuse(reader, cache: Path, existed: bool) -> None:
    """A refused run leaves nothing behind: the reader closed, a cache it created removed."""
    reader.close()
    if not existed:
        cache.unlink(missing_ok=True)


@contextmanager
def bad_input(cfg: Config):
    """The reader's own errors (its cache, its API key, its URL) as one line for the user: exit 2."""
    from trm_demo.llm import CacheError, ReaderError   # a real reader's errors: the client is loaded already
    try:
        yield
    except (CacheError, ReaderError) as err:
        raise ConfigError(str(err)) from None


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1, ties sharing their mean rank (a tiny model's readings tie often)."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    _, tie, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(tie, ranks) / counts)[tie]


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho; None when either side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1]) if np.ptp(ra) and np.ptp(rb) else None


def _auc(p: np.ndarray, outcome: np.ndarray) -> float | None:
    """P(a converted candidate reads higher than one who did not), ties half; None without both outcomes."""
    positive = outcome > 0.5
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if not n1 or not n0:
        return None
    return float((_ranks(p)[positive].sum() - n1 * (n1 - 1) / 2) / (n1 * n0))


def request_for(block, row: int, col: int) -> ReadRequest:
    """The job's and the candidate's fields as plain scalars, and the candidate's reply."""
    from trm_demo.llm import ReadRequest   # a real reader's request: the client is loaded already
    m = block.market
    job = {name: _plain(getattr(m, name)[row]) for name in JOB_FIELDS}
    job["work_mode"] = ("onsite", "hybrid", "remote")[int(m.work_mode[row])]
    candidate = {name: _plain(getattr(m, name)[row, col]) for name in CANDIDATE_FIELDS}
    return ReadRequest(job, candidate, str(m.messages[row, col]))


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    return round(value, 2) if isinstance(value, float) else value
