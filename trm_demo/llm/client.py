"""An OpenAI-compatible chat-completions reader, over the standard library only.

One read: ask the yes/no question with logprobs=true and read P(yes) from the
first generated token's top_logprobs (parse.p_yes_from_logprobs). A server that
returns no logprobs (or answers 400 to the parameter) is asked the number
question instead, and the reply is parsed strictly (parse.parse_probability);
once a server has answered without logprobs the reader asks it for numbers
directly. Calls are retried on dropped connections, 429 and 5xx (retry.py)
while the read's deadline allows; every request yields one Reading, failures
included.

Deliberate limits: http.client, not urllib, so that no environment proxy and no
redirect ever sees the Authorization header (a 3xx is a failure "http 30x").

Deadlines and stops: timeout_s bounds a whole read (connect, headers, body, retries and
their waits together); time_budget_s, when set, bounds the run's reads together: it starts
at the first read_many, cuts what is in flight when it ends (the watchdog, as for a read's
deadline) and no request is sent after it (those reads fail as "time budget"; cache hits
still answer). A watchdog shuts the socket down at the deadline, so a server
that drips one byte at a time cannot stretch it, and a Retry-After longer than what is
left fails the read at once. `stop()` (read_many calls it on Ctrl-C or SIGTERM) shuts
every socket in flight down and no request is sent after it: a worker checks the stop
before every send.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import itertools
import json
import math
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Protocol
from urllib.parse import urlsplit

from . import parse, prompt
from .cache import ReadingCache, request_key
from .pricing import Prices, usage_tokens
from .request import BAD_RESPONSE, CONNECTION, OVER_BUDGET, STOPPED, TIMEOUT, ReadRequest, Reading, http_failure
from .retry import backoff_s, retry_after_s, retryable
from .stats import ReaderStats

KEY_VARIABLES = ("TRM_DEMO_LLM_API_KEY", "OPENAI_API_KEY")
# Sampling parameters, part of the cache key. One token answers yes/no; a number needs a few.
YES_NO = {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5}
NUMBER = {"temperature": 0, "max_tokens": 8}
MAX_RESPONSE_BYTES = 1 << 20   # a one-token completion is ~1 KB; a runaway body is cut and fails as "bad response"
MAX_DIGITS = 15                # a token count or a logprob never needs more; 400 digits would overflow a float
PROBE_TIMEOUT_S = 10.0         # the start-up test read: a server that is not there is found in seconds, not minutes
# What an API key may hold: it goes into an HTTP header, so visible ASCII only (RFC 9110 field value, no spaces).
KEY_CHARACTERS = "visible ASCII characters ('!' to '~'), no spaces, tabs, line breaks or other control characters"


class ReaderError(ValueError):
    """A setting the real reader cannot use (the API key): one line naming the variable, never its value."""


class Secret:
    """Holds the API key so that no repr, log line or vars() dump can show it."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"


def api_key_from_env(environ: Mapping[str, str]) -> Secret | None:
    """TRM_DEMO_LLM_API_KEY, else OPENAI_API_KEY, else None (local servers need no key)."""
    for name in KEY_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            if not all("!" <= char <= "~" for char in value):
                # http.client would reject it with the key in the message: refuse first, without it.
                raise ReaderError(f"the API key in the environment variable {name} has a character an HTTP header "
                                  f"cannot carry; it may hold only {KEY_CHARACTERS}: set it again")
            return Secret(value)
    return None


@dataclass(frozen=True)
class _Attempt:
    """One HTTP exchange: the first choice of a 200, or a failure (with what the server asked us to wait)."""
    status: int | None = None
    choice: dict | None = None
    usage: tuple[int, int] = (0, 0)
    failure: str | None = None
    retry_after: float | None = None


class Reader(Protocol):
    """What the funnel calls (reading.py): the OpenAI-compatible reader, or a test's stand-in."""
    stats: ReaderStats

    def read_many(self, requests: list[ReadRequest]) -> list[Reading]: ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...


class OpenAICompatibleReader:
    """read_many(requests) -> one Reading per request; the stats of every read in `stats`."""

    def __init__(self, base_url: str, model: str, *, api_key: Secret | None = None, timeout_s: float = 30.0,
                 retries: int = 2, concurrency: int = 4, prices: Prices = Prices(), prompt_version: str = "v1",
                 cache: ReadingCache | None = None, backoff_base_s: float = 0.5, backoff_cap_s: float = 8.0,
                 max_wait_s: float = 60.0, rng: random.Random | None = None, time_budget_s: float = 0.0):
        url = urlsplit(base_url)
        # http.client sends the path as is: non-ASCII or spaces would fail in a worker thread, so refuse them here.
        plain = base_url.isascii() and base_url.isprintable() and " " not in base_url
        if url.scheme not in ("http", "https") or not url.hostname or not plain or not model:
            raise ReaderError("an OpenAI-compatible reader needs an http(s) base URL with a host (ASCII, no spaces) "
                             "and a model name")
        prompt.template(prompt_version)   # a missing template fails now, not on the first read
        self.base_url, self.model, self.prompt_version = base_url.rstrip("/"), model, prompt_version
        self.timeout_s, self.retries, self.concurrency = timeout_s, retries, concurrency
        self.prices, self.cache = prices, cache
        self.backoff_base_s, self.backoff_cap_s, self.max_wait_s = backoff_base_s, backoff_cap_s, max_wait_s
        self.stats = ReaderStats()
        self.time_budget_s = time_budget_s   # 0: none; else the run's reads end this long after the first one
        self._budget_end = math.inf
        self._api_key = api_key
        self._https, self._host, self._port = url.scheme == "https", url.hostname, url.port
        self.host = url.netloc.rpartition("@")[2]   # for describe(): never a user:password@ part
        self._path = url.path.rstrip("/") + "/chat/completions"
        self._models_path = url.path.rstrip("/") + "/models"
        self.served_model: str | None = None   # what GET /models says is served, once the start-up check ran
        self._rng = rng or random.Random()
        self._logprobs = True   # until the server shows it does not return them
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[_Exchange] = set()

    @classmethod
    def from_config(cls, cfg, environ: Mapping[str, str] = os.environ) -> "OpenAICompatibleReader":
        """From an LLMConfig; the key from the environment, the cache opened at cfg.cache_path."""
        return cls(cfg.base_url, cfg.model, api_key=api_key_from_env(environ), timeout_s=cfg.timeout_s,
                   retries=cfg.retries, concurrency=cfg.concurrency,
                   prices=Prices(cfg.input_price_per_million, cfg.output_price_per_million),
                   prompt_version=cfg.prompt_version,
                   cache=ReadingCache(cfg.cache_path, cfg.model, cfg.prompt_version),
                   time_budget_s=cfg.time_budget_s)

    def __repr__(self) -> str:
        return f"OpenAICompatibleReader(model={self.model!r}, host={self.host!r})"

    def describe(self) -> dict:
        """For the report and demo_metrics.json: the endpoint's host only, never its path or a key."""
        return {"provider": "openai_compatible", "real": True, "model": self.model, "host": self.host,
                "prompt_version": self.prompt_version, "served_model": self.served_model}

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def key(self, request: ReadRequest) -> str:
        """The cache key: the yes/no request, whichever question the read ends up asking."""
        return request_key(self.base_url, self.model, prompt.messages(request, self.prompt_version, "yes_no"),
                           YES_NO, self.prompt_version)

    def read_many(self, requests: list[ReadRequest]) -> list[Reading]:
        """One Reading per request, in order: cache hits first, the rest at most `concurrency` at a time.

        Each new successful reading is committed to the cache as it arrives, so an interrupted batch
        keeps what it paid for. On Ctrl-C the calls not yet started are cancelled."""
        readings: list[Reading | None] = [None] * len(requests)
        if self.time_budget_s and self._budget_end == math.inf:   # the clock starts at the run's first read
            self._budget_end = time.monotonic() + self.time_budget_s
        keys = [self.key(r) for r in requests]
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is None:
                todo.append(i)
            else:   # nothing paid and no model time spent this run
                readings[i] = dataclasses.replace(hit, cached=True, cost=0.0, latency_ms=0.0)
                self.stats.record(readings[i])
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            futures = {pool.submit(self._read, requests[i]): i for i in todo}
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                readings[i] = future.result()
                if readings[i].ok and self.cache is not None:
                    self.cache.put(keys[i], readings[i])
                self.stats.record(readings[i])
        except BaseException:   # Ctrl-C, SIGTERM: nothing more is sent, and what is in flight is cut
            self.stop()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return readings

    def probe(self, request: ReadRequest) -> Reading:
        """One test read before the run, through the cache and with a short deadline; not counted in `stats`."""
        key = self.key(request)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            return hit
        reading = self._read(request, min(self.timeout_s, PROBE_TIMEOUT_S))
        if reading.ok and self.cache is not None:
            self.cache.put(key, reading)
        return reading

    def stop(self) -> None:
        """No request is sent after this; every socket in flight is shut down (its read fails as "stopped")."""
        self._stop.set()
        with self._lock:
            for exchange in self._in_flight:
                _shut(exchange.sock)

    def _read(self, request: ReadRequest, timeout_s: float | None = None) -> Reading:
        start = time.monotonic()
        if self._stop.is_set() or start >= self._budget_end:   # never sent: neither a call nor a latency
            return Reading(probability=None, failure=STOPPED if self._stop.is_set() else OVER_BUDGET, sent=False)
        deadline = min(start + (timeout_s or self.timeout_s), self._budget_end)
        attempts = []
        probability, failure, method = None, None, ""
        if self._logprobs:
            attempt = self._call(prompt.messages(request, self.prompt_version, "yes_no"), YES_NO, deadline)
            attempts.append(attempt)
            if attempt.failure is None:
                probability, method = parse.p_yes_from_logprobs(attempt.choice), "logprobs"
                if attempt.choice.get("logprobs") is None:
                    self._logprobs = False
            elif attempt.status == 400:   # e.g. a model that refuses the logprobs parameter
                self._logprobs = False
            else:
                failure = attempt.failure
        if probability is None and failure is None:
            attempt = self._call(prompt.messages(request, self.prompt_version, "number"), NUMBER, deadline)
            attempts.append(attempt)
            failure = attempt.failure
            if failure is None:
                probability, failure = parse.parse_probability(_content(attempt.choice))
                method = "number"
        if failure is not None and time.monotonic() >= self._budget_end:   # cut by the run's budget, not the server
            failure = OVER_BUDGET
        input_tokens = sum(a.usage[0] for a in attempts)
        output_tokens = sum(a.usage[1] for a in attempts)
        return Reading(probability=probability, failure=failure, input_tokens=input_tokens,
                       output_tokens=output_tokens, cost=self.prices.cost(input_tokens, output_tokens),
                       latency_ms=(time.monotonic() - start) * 1000.0, method=method if failure is None else "")

    def _call(self, messages: list[dict], parameters: dict, deadline: float) -> _Attempt:
        """POST with retries until the deadline: Retry-After when the server sends one, else full-jitter backoff."""
        body = json.dumps({"model": self.model, "messages": messages, **parameters}).encode("utf-8")
        for number in itertools.count():
            attempt = self._post(body, deadline)
            if attempt.failure is None or not retryable(attempt.status) or number >= self.retries:
                return attempt
            wait = attempt.retry_after
            if wait is None:
                wait = backoff_s(number, self.backoff_base_s, self.backoff_cap_s, self._rng)
            if wait > min(self.max_wait_s, deadline - time.monotonic()):   # it would end past the deadline: fail now
                return attempt
            if self._stop.wait(wait):
                return _Attempt(failure=STOPPED)

    def _post(self, body: bytes, deadline: float) -> _Attempt:
        answer = self._http("POST", self._path, body, deadline)
        if isinstance(answer, str):
            return _Attempt(failure=answer)
        status, data, retry_after = answer
        if status != 200:
            return _Attempt(status=status, failure=http_failure(status), retry_after=retry_after_s(retry_after))
        payload = _json(data)
        choices = payload.get("choices") if isinstance(payload, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            return _Attempt(status=status, failure=BAD_RESPONSE)
        return _Attempt(status=status, choice=choice, usage=usage_tokens(payload))

    def served_models(self, timeout_s: float = PROBE_TIMEOUT_S) -> list[str] | None:
        """The model ids GET {base_url}/models lists, or None when the server has no usable list (not every
        OpenAI-compatible server implements it: the test read then decides alone)."""
        answer = self._http("GET", self._models_path, None, time.monotonic() + min(self.timeout_s, timeout_s))
        if isinstance(answer, str) or answer[0] != 200:
            return None
        payload = _json(answer[1])
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            return None
        ids = [entry.get("id") for entry in data if isinstance(entry, dict)]
        return [i for i in ids if isinstance(i, str)] or None

    def _http(self, method: str, path: str, body: bytes | None, deadline: float):
        """One exchange within the deadline: (status, body, Retry-After) or a failure reason."""
        left = deadline - time.monotonic()
        if self._stop.is_set():   # checked before every send: nothing leaves after a stop
            return STOPPED
        if left <= 0:
            return TIMEOUT
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=left)   # bounds the connect and each wait for bytes ...
        exchange = _Exchange()
        watchdog = threading.Timer(left, self._expire, [exchange])   # ... and this the whole exchange
        watchdog.daemon = True
        with self._lock:
            self._in_flight.add(exchange)
        watchdog.start()
        try:
            connection.connect()
            with self._lock:   # the socket itself: the response keeps it after the connection lets it go
                exchange.sock = connection.sock
            if self._stop.is_set():
                return STOPPED
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_RESPONSE_BYTES)
            status, retry_after = response.status, response.getheader("Retry-After")
        except TimeoutError:   # the socket's own timeout, set to what was left: the deadline
            return self._cut_short(exchange) or TIMEOUT
        except (OSError, http.client.HTTPException):
            return self._cut_short(exchange) or CONNECTION
        finally:
            watchdog.cancel()
            with self._lock:
                self._in_flight.discard(exchange)
            connection.close()
        if self._cut_short(exchange):   # a socket shut down mid-body reads as a short body, not an error
            return self._cut_short(exchange)
        return status, data, retry_after

    def _cut_short(self, exchange: "_Exchange") -> str | None:
        """Why an exchange's socket was shut down under it, if it was: a stop, or its deadline."""
        if self._stop.is_set():
            return STOPPED
        return TIMEOUT if exchange.expired else None

    def _expire(self, exchange: "_Exchange") -> None:
        """The watchdog: the exchange's deadline passed."""
        with self._lock:
            exchange.expired = True
            _shut(exchange.sock)


class _Exchange:
    """One HTTP exchange in flight: its socket once connected, and whether its deadline cut it."""

    def __init__(self):
        self.sock: socket.socket | None = None
        self.expired = False


def _shut(sock: socket.socket | None) -> None:
    """End an exchange from another thread: a blocked recv returns at once (close alone would not wake it)."""
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass   # already closed


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError("a number longer than any count or logprob")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > 2 * MAX_DIGITS + 8:   # digits, a point, a sign and an exponent
        raise ValueError("a number longer than any count or logprob")
    return float(text)


def _json(data: bytes):
    """The decoded body, or None: numbers with more digits than any count or logprob needs, and deep nesting,
    make it a bad response, never an exception."""
    try:
        return json.loads(data, parse_int=_bounded_int, parse_float=_bounded_float)
    except (ValueError, RecursionError):
        return None


def _content(choice: dict) -> str:
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""
