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

A real reader fails loudly. Before the run one test read (through the cache, with a
short deadline) must succeed, else the run stops with one line naming llm.base_url and
what to do (exit 2, nothing written). When more than MAX_FAILED_SHARE of the run's reads
fail, `report()` says the verdicts involving the LLM are not valid, and the terminal and
the dossier's first paragraph say so instead of advising. The scenario's LLM events
(`llm_price_multiplier`, `llm_outage`) simulate a reader's price and outages: a real
reader has its own, so they are not applied to it (the report says so).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trm_demo.funnel.cascade import logit
from trm_demo.config import Config
from trm_demo.errors import ConfigError
from trm_demo.funnel.market import CANDIDATE_FIELDS, JOB_FIELDS

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
# The test read's request: job fields, candidate fields, reply.
PROBE_REQUEST = ({"title": "software engineer", "work mode": "remote"}, {"years of experience": 5},
                 "Yes, I am interested; happy to talk this week.")


class Readings:
    """The run's LLM readings, keyed by (opportunity, candidate); `reader` None means simulated."""

    def __init__(self, cfg: Config, reader: Reader | None = None):
        self.cfg = cfg
        self.reader = reader
        self.seen: dict[tuple[int, int], tuple[float, bool, float, float]] = {}   # logit, ok, cost, p_true

    @property
    def real(self) -> bool:
        return self.reader is not None

    def read(self, block, rows: np.ndarray, cols: np.ndarray):
        """Readings of candidates (rows[i], cols[i]) of `block`: logit (m,), ok (m,) bool, cost (m,) $."""
        sim = self.cfg.simulation
        if not self.real:
            noise = block.reading_noise[rows, cols]
            return (block.text_reading[rows, cols] + sim.llm_noise * noise + sim.llm_bias,
                    np.ones(len(rows), bool), np.full(len(rows), sim.llm_cost))
        keys = [(int(block.ids[r]), int(c)) for r, c in zip(rows, cols)]
        missing = [i for i, key in enumerate(keys) if key not in self.seen]
        if missing:
            requests = [request_for(block, rows[i], cols[i]) for i in missing]
            with bad_input(self.cfg):
                answers = self.reader.read_many(requests)
            for i, reading in zip(missing, answers):
                p = min(max(reading.probability, 1e-6), 1 - 1e-6) if reading.ok else 0.5
                cost = (reading.input_tokens * self.cfg.llm.input_price_per_million
                        + reading.output_tokens * self.cfg.llm.output_price_per_million) / 1e6
                self.seen[keys[i]] = (float(logit(p)), reading.ok, cost,
                                      float(block.market.p_true[rows[i], cols[i]]))
        found = [self.seen[key] for key in keys]
        return (np.array([f[0] for f in found]), np.array([f[1] for f in found], bool),
                np.array([f[2] for f in found]))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()

    def report(self) -> dict:
        """What a user needs to judge their model: who it is, what it cost, and its calibration against the truth."""
        if not self.real:
            return {"provider": "simulated", "real": False, "model": "simulated reader",
                    "noise_logit_sd": self.cfg.simulation.llm_noise, "bias_logit": self.cfg.simulation.llm_bias}
        failed = sum(not v[1] for v in self.seen.values())
        readings = np.array([(1 / (1 + np.exp(-v[0])), v[3]) for v in self.seen.values() if v[1]]).reshape(-1, 2)
        edges = np.linspace(0.0, 1.0, 6)
        bucket = np.clip(np.digitize(readings[:, 0], edges) - 1, 0, 4)
        table = [{"bucket": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "readings": int((bucket == b).sum()),
                  "mean_reading": float(readings[bucket == b, 0].mean()) if (bucket == b).any() else None,
                  "mean_true_probability": float(readings[bucket == b, 1].mean()) if (bucket == b).any() else None}
                 for b in range(5)]
        share = failed / len(self.seen) if self.seen else 0.0
        return {**self.reader.describe(), "real": True, "stats": self.reader.stats.to_dict(),
                "charged": float(sum(v[2] for v in self.seen.values())), "calibration": table,
                "candidates_read": len(self.seen), "failed_reads": failed, "failed_share": share,
                "verdicts_valid": share <= MAX_FAILED_SHARE, "scenario_llm_events": False,
                "cache_rows_skipped": getattr(self.reader.cache, "skipped", 0)}


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
            probe = reader.probe(ReadRequest(*PROBE_REQUEST))
    except BaseException:
        reader.close()
        raise
    if not probe.ok:
        reader.close()
        if not existed:
            cache.unlink(missing_ok=True)   # a refused run leaves nothing behind
        fix = PROBE_FIXES.get(probe.failure, "its reply could not be read as a probability: check that llm.model "
                                             "is a chat model the server serves")
        raise ConfigError(f"the LLM at llm.base_url '{cfg.llm.base_url}' (llm.model {cfg.llm.model!r}) failed a "
                          f"test read ({probe.failure}): {fix}; or set llm.provider: simulated")
    return Readings(cfg, reader)


@contextmanager
def bad_input(cfg: Config):
    """The reader's own errors (its cache, its API key, its URL) as one line for the user: exit 2."""
    from trm_demo.llm import CacheError, ReaderError   # a real reader's errors: the client is loaded already
    try:
        yield
    except (CacheError, ReaderError) as err:
        raise ConfigError(str(err)) from None


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
