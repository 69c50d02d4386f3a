"""What the funnel hands a reader and what it gets back.

A reader answers one question per request: how likely is this candidate to
accept an interview for this job, given the job's fields, the candidate's
fields and the candidate's free-text message? Every request gets exactly one
`Reading`, failures included, so that a circuit breaker can count them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Why a reading failed; a reading has at most one. "http NNN" covers the other statuses (e.g. "http 500").
TIMEOUT = "timeout"
CONNECTION = "connection"            # refused, reset, TLS error, or an unreadable HTTP response
RATE_LIMITED = "rate limited"        # 429 after the last retry (or a Retry-After longer than we wait)
BAD_RESPONSE = "bad response"        # a 200 whose body is not a chat-completions JSON object
UNPARSEABLE = "unparseable"          # the reply is empty or not a single number
OUT_OF_RANGE = "out of range"        # a number outside [0, 1]
STOPPED = "stopped"                  # Ctrl-C or SIGTERM came first: the read was cut or never sent
OVER_BUDGET = "time budget"          # the run's LLM time budget (llm.time_budget_s) ran out: the read was cut or never sent


def http_failure(status: int) -> str:
    return RATE_LIMITED if status == 429 else f"http {status}"


@dataclass(frozen=True)
class ReadRequest:
    """One candidate for one job. Field values are plain scalars (str, int, float, bool)."""
    job: dict
    candidate: dict
    message: str


@dataclass(frozen=True)
class Reading:
    """The reader's answer to one request.

    probability is None exactly when failure says why. cost is what this
    reading was charged ($0 for a cache hit); input_tokens and output_tokens
    are those of the calls that produced it (for a hit, the original calls);
    latency_ms is the wall time of the read, retries and waits included (for
    a cache hit, 0). method says how the probability was obtained: "logprobs"
    or "number". sent is False for a read that never left: the run's time budget
    had run out, or a stop had come, before it started.
    """
    probability: float | None
    failure: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    method: str = ""
    sent: bool = True

    @property
    def ok(self) -> bool:
        return self.failure is None


def failed(reason: str, **usage) -> Reading:
    return Reading(probability=None, failure=reason, **usage)
