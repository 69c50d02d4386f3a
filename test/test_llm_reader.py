"""The LLM reader against a real HTTP server on 127.0.0.1 that speaks chat completions.

Each test scripts the server's behaviour (logprobs, plain text, garbage, 429, 500, hangs,
outages) and checks what the reader returns: one Reading per request, failures counted with
their reason, never an exception and never a made-up probability. No network beyond loopback.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from test_atomic_outputs import as_from_a_terminal
from trm_demo.config import load_config
from trm_demo.errors import ConfigError
from trm_demo.llm import OpenAICompatibleReader, Prices, ReadingCache, ReadRequest, api_key_from_env, request_key
from trm_demo.funnel.reading import readings_for
from trm_demo.llm import prompt
from trm_demo.llm.parse import p_yes_from_logprobs, parse_probability
from trm_demo.llm.retry import backoff_s, retry_after_s

MODEL = "test-model"
SECRET = "sk-test-Zq8VnL3xSECRET"


# --- the scripted server ---

@dataclass
class Reply:
    status: int = 200
    body: object = None          # a dict is sent as JSON, bytes as they are
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0         # sleep before answering (cut short when the test ends)
    drip_s: float = 0.0          # send the body one byte at a time, this long apart (a drip)
    action: str = ""             # "reset": drop the connection with a TCP reset; "endless": a chunked body that never ends


def completion(content: str = "yes", logprobs=None, usage=(50, 1)) -> Reply:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": logprobs,
              "finish_reason": "length"}
    return Reply(body={"id": "x", "object": "chat.completion", "model": MODEL, "choices": [choice],
                       "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                 "total_tokens": usage[0] + usage[1]}})


def yes_no_logprobs(p_yes: float, **kw) -> Reply:
    """P(yes) = p_yes after normalising: 90 % of the mass on yes/no spread over token variants,
    10 % on a token that is neither."""
    top = [{"token": "Yes", "logprob": math.log(0.6 * 0.9 * p_yes)},
           {"token": " yes", "logprob": math.log(0.4 * 0.9 * p_yes)},
           {"token": "No", "logprob": math.log(0.7 * 0.9 * (1 - p_yes))},
           {"token": "NO", "logprob": math.log(0.3 * 0.9 * (1 - p_yes))},
           {"token": "Maybe", "logprob": math.log(0.1)}]
    return completion("Yes", {"content": [{"token": "Yes", "logprob": top[0]["logprob"], "top_logprobs": top}]},
                      **kw)


class FakeServer:
    def __init__(self):
        self.script = lambda body, n: yes_no_logprobs(0.8)
        self.models: list[str] | None = None   # what GET /v1/models lists; None: no such endpoint (404)
        self.seen: list[dict] = []      # {"t", "headers", "body"} per request, in arrival order
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def bodies(self) -> list[dict]:
        return [s["body"] for s in self.seen]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listed = self.path == "/v1/models" and fake.models is not None
                data = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]}
                                  ).encode() if listed else b""
                self.send_response(200 if listed else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    n = len(fake.seen)
                    fake.seen.append({"t": time.monotonic(), "headers": dict(self.headers), "body": body})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                self.counted = True
                try:
                    reply = fake.script(body, n) if self.path == "/v1/chat/completions" else Reply(404, b"")
                    if reply.delay_s:
                        fake.done.wait(reply.delay_s)
                    if reply.action:
                        return self._misbehave(reply.action)
                    data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    # Out of flight before the body: once it has arrived the client may send its next request,
                    # which another thread could count before this one's `finally` ran (max_in_flight one too high).
                    self._leave()
                    if reply.drip_s:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            if fake.done.wait(reply.drip_s):
                                break
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client gave up (a timeout test)
                finally:
                    self._leave()

            def _leave(self):
                with fake.lock:
                    if self.counted:
                        fake.in_flight -= 1
                        self.counted = False

            def _misbehave(self, action: str):
                if action == "reset":   # SO_LINGER 0: close() sends RST, the client sees a reset connection
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b'{"choices": [' * 1000
                while not fake.done.is_set():   # until the client hangs up (BrokenPipe) or the test ends
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

            def log_message(self, *args):
                pass

        return Handler


def serving(fake: "FakeServer"):
    """Serve `fake` on a thread for one test (a generator for a fixture), then shut it down."""
    # A short poll interval: shutdown() waits for one, and every test starts its own server.
    thread = threading.Thread(target=fake.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    fake.done.set()
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def server():
    yield from serving(FakeServer())


def make_reader(server, tmp_path=None, **kw) -> OpenAICompatibleReader:
    kw.setdefault("timeout_s", 2.0)
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("backoff_cap_s", 0.05)
    if tmp_path is not None:
        kw["cache"] = ReadingCache(tmp_path / "cache.sqlite", kw.get("model", MODEL), "v1")
    return OpenAICompatibleReader(server.url if hasattr(server, "url") else server, kw.pop("model", MODEL), **kw)


def requests(n: int) -> list[ReadRequest]:
    return [ReadRequest(job={"title": "Data engineer", "budget_band": "110-130k", "work_mode": "hybrid",
                             "urgent": True},
                        candidate={"ask": 118000, "experience_years": 6.5, "remote_only": False},
                        message=f"Thanks for reaching out. I'm not actively looking, but I'd hear more ({i}).")
            for i in range(n)]


# --- the two ways to a probability ---

def test_logprobs_path_reads_p_yes_normalised_over_the_yes_no_variants(server):
    reader = make_reader(server)
    [reading] = reader.read_many(requests(1))
    assert reading.probability == pytest.approx(0.8) and reading.method == "logprobs" and reading.ok
    [body] = server.bodies()
    assert body["model"] == MODEL and body["temperature"] == 0 and body["max_tokens"] == 1
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    user = body["messages"][-1]["content"]
    for text in ("I'm not actively looking", "budget band: 110-130k", "experience years: 6.5", "remote only: no",
                 "yes or no"):
        assert text in user


def test_number_path_when_the_server_returns_no_logprobs(server):
    server.script = lambda body, n: completion("0.35")
    reader = make_reader(server)
    assert [r.probability for r in reader.read_many(requests(1))] == [0.35]
    # The first read tried logprobs, then asked for a number; the next one asks for the number at once.
    assert [r.probability for r in reader.read_many(requests(2)[1:])] == [0.35]
    bodies = server.bodies()
    assert [b.get("logprobs", False) for b in bodies] == [True, False, False]
    assert "single number between 0 and 1" in bodies[1]["messages"][-1]["content"]
    assert reader.stats.failures == {} and reader.stats.misses == 2


def test_a_server_that_refuses_the_logprobs_parameter_is_asked_for_a_number(server):
    server.script = lambda body, n: Reply(400, {"error": "logprobs not supported"}) if body.get("logprobs") \
        else completion("0.6")
    [reading] = make_reader(server).read_many(requests(1))
    assert reading.probability == 0.6 and reading.method == "number"


@pytest.mark.parametrize("reply, probability, failure", [
    ("0.35", 0.35, None), ("70%", 0.7, None), (" 1 \n", 1.0, None), ("0", 0.0, None),
    ("maybe", None, "unparseable"), ("", None, "unparseable"), ("0.7 because she is keen", None, "unparseable"),
    ("1.5", None, "out of range"), ("-0.1", None, "out of range"), ("150%", None, "out of range"),
])
def test_number_replies_are_parsed_strictly_and_bad_ones_are_counted_failures(server, reply, probability, failure):
    server.script = lambda body, n: completion(reply)
    reader = make_reader(server)
    [reading] = reader.read_many(requests(1))
    assert (reading.probability, reading.failure) == (probability, failure)
    assert dict(reader.stats.failures) == ({failure: 1} if failure else {})


def test_a_200_that_is_not_chat_completions_json_is_a_bad_response(server):
    server.script = lambda body, n: Reply(200, b"<html>gateway</html>")
    [reading] = make_reader(server).read_many(requests(1))
    assert (reading.probability, reading.failure) == (None, "bad response")


# --- robustness ---

def test_429_waits_for_retry_after_then_succeeds(server):
    server.script = lambda body, n: Reply(429, {"error": "slow down"}, {"Retry-After": "0.2"}) if n == 0 \
        else yes_no_logprobs(0.3)
    reader = make_reader(server, backoff_base_s=0.0, backoff_cap_s=0.0)   # any wait seen is the server's
    [reading] = reader.read_many(requests(1))
    assert reading.probability == pytest.approx(0.3)
    first, second = server.seen
    assert second["t"] - first["t"] >= 0.2
    assert reading.latency_ms >= 200 and reader.stats.failures == {}


def test_429_with_a_retry_after_beyond_the_longest_wait_fails_now_as_rate_limited(server):
    server.script = lambda body, n: Reply(429, {}, {"Retry-After": "3600"})
    start = time.monotonic()
    [reading] = make_reader(server, max_wait_s=1.0).read_many(requests(1))
    assert reading.failure == "rate limited" and time.monotonic() - start < 1.0 and len(server.seen) == 1


def test_500s_then_success_is_retried_with_backoff(server):
    server.script = lambda body, n: Reply(500, {"error": "boom"}) if n < 2 else yes_no_logprobs(0.9)
    [reading] = make_reader(server, retries=2).read_many(requests(1))
    assert reading.probability == pytest.approx(0.9) and len(server.seen) == 3


def test_another_4xx_is_not_retried(server):
    server.script = lambda body, n: Reply(404, {"error": "no such model"})
    [reading] = make_reader(server, retries=3).read_many(requests(1))
    assert reading.failure == "http 404" and len(server.seen) == 1


def test_a_hang_past_the_timeout_is_a_timeout_failure(server):
    server.script = lambda body, n: Reply(delay_s=5.0, body={})
    start = time.monotonic()
    [reading] = make_reader(server, timeout_s=0.3, retries=0).read_many(requests(1))
    assert reading.failure == "timeout" and reading.probability is None
    assert 0.3 <= time.monotonic() - start < 1.5


def test_timeout_s_bounds_the_whole_read_retries_included(server):
    server.script = lambda body, n: Reply(delay_s=5.0, body={}) if n == 0 else yes_no_logprobs(0.4)
    start = time.monotonic()
    [reading] = make_reader(server, timeout_s=0.3, retries=2).read_many(requests(1))
    assert reading.failure == "timeout" and len(server.seen) == 1 and time.monotonic() - start < 1.5


# --- hostile servers: each is a counted failure, in bounded time, never an exception ---

def test_a_drip_of_one_byte_every_0_2_s_ends_at_the_deadline(server):
    # Before: each byte reset the socket's timeout, and the read was still running after 25 s.
    server.script = lambda body, n: Reply(body=yes_no_logprobs(0.5).body, drip_s=0.2)
    start = time.monotonic()
    [reading] = make_reader(server, timeout_s=1.0, retries=2).read_many(requests(1))
    assert reading.failure == "timeout" and time.monotonic() - start < 2.0


def test_a_retry_after_longer_than_the_deadline_fails_the_read_now(server):
    # Before: `503` with `Retry-After: 59` kept the run waiting 59 s per read.
    server.script = lambda body, n: Reply(503, {}, {"Retry-After": "59"})
    start = time.monotonic()
    [reading] = make_reader(server, timeout_s=1.0, retries=2).read_many(requests(1))
    assert reading.failure == "http 503" and len(server.seen) == 1 and time.monotonic() - start < 1.0


@pytest.mark.parametrize("body", [
    b"[" * 100_000,                                                          # before: RecursionError, exit 1
    json.dumps({"choices": [{"logprobs": {"content": [{"token": "Yes", "logprob": 0, "top_logprobs": []}]}}]})
    .replace('"logprob": 0', '"logprob": -' + "9" * 400).encode(),         # before: OverflowError, exit 1
    json.dumps({**yes_no_logprobs(0.5).body, "usage": {"prompt_tokens": 0}})
    .replace('"prompt_tokens": 0', '"prompt_tokens": ' + "9" * 400).encode(),   # before: OverflowError, exit 1
], ids=["nested", "huge-logprob", "huge-usage"])
def test_hostile_bodies_are_a_counted_bad_response(server, body):
    server.script = lambda b, n: Reply(body=body)
    reader = make_reader(server, retries=0)
    [reading] = reader.read_many(requests(1))
    assert reading.failure == "bad response" and reader.stats.failures == {"bad response": 1}


def test_stop_cuts_reads_in_flight_and_sends_nothing_after_it(server):
    server.script = lambda body, n: Reply(delay_s=30.0, body={})
    reader = make_reader(server, timeout_s=30.0, retries=2, concurrency=2)
    threading.Timer(0.3, reader.stop).start()
    start = time.monotonic()
    readings = reader.read_many(requests(6))
    assert time.monotonic() - start < 1.5
    assert {r.failure for r in readings} == {"stopped"} and len(server.seen) == 2   # the two in flight, no more


def test_an_outage_gives_one_counted_failure_per_request_and_recovery_reads_again(server):
    server.script = lambda body, n: Reply(503, {"error": "down"})
    reader = make_reader(server, retries=1)
    readings = reader.read_many(requests(5))
    assert [r.failure for r in readings] == ["http 503"] * 5 and all(r.probability is None for r in readings)
    assert reader.stats.failures == {"http 503": 5} and len(server.seen) == 10   # one retry each
    server.script = lambda body, n: yes_no_logprobs(0.7)                        # the server is back
    [probe] = reader.read_many(requests(1))
    assert probe.ok and probe.probability == pytest.approx(0.7)


def test_connection_refused_is_a_connection_failure():
    with socket.socket() as sock:            # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    [reading] = make_reader(f"http://127.0.0.1:{port}/v1", retries=1).read_many(requests(1))
    assert reading.failure == "connection"


def test_concurrency_is_bounded_and_each_reading_answers_its_own_request(server):
    def script(body, n):   # request i (its number is in the message) gets P(yes) = (i + 1) / 10, late ones first
        i = int(re.search(r"\((\d+)\)", body["messages"][-1]["content"]).group(1))
        return Reply(**{**vars(yes_no_logprobs((i + 1) / 10)), "delay_s": 0.05 * (6 - i)})
    server.script = script
    reader = make_reader(server, concurrency=2)
    readings = reader.read_many(requests(6))
    assert [r.probability for r in readings] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert server.max_in_flight == 2


# --- money and cache ---

def test_cost_is_charged_from_the_returned_usage_tokens(server):
    server.script = lambda body, n: yes_no_logprobs(0.5, usage=(1000, 1))
    [reading] = make_reader(server, prices=Prices(2.0, 8.0)).read_many(requests(1))
    assert (reading.input_tokens, reading.output_tokens) == (1000, 1)
    assert reading.cost == pytest.approx((1000 * 2.0 + 1 * 8.0) / 1e6)


def test_the_number_path_pays_for_both_calls(server):
    server.script = lambda body, n: completion("0.5", usage=(900, 1) if body.get("logprobs") else (920, 3))
    reader = make_reader(server, prices=Prices(1.0, 4.0))
    [reading] = reader.read_many(requests(1))
    assert (reading.input_tokens, reading.output_tokens) == (1820, 4)
    assert reader.stats.spend == pytest.approx((1820 * 1.0 + 4 * 4.0) / 1e6)


def test_a_rerun_hits_the_cache_and_makes_no_http_call(server, tmp_path):
    first = make_reader(server, tmp_path, prices=Prices(1.0, 1.0))
    readings = first.read_many(requests(4))
    first.close()
    assert len(server.seen) == 4 and first.stats.misses == 4
    again = make_reader(server, tmp_path, prices=Prices(1.0, 1.0))
    cached = again.read_many(requests(4))
    assert len(server.seen) == 4, "the rerun called the server"
    assert [r.probability for r in cached] == [r.probability for r in readings]
    assert all(r.cached and r.cost == 0.0 for r in cached)
    assert (again.stats.hits, again.stats.misses, again.stats.spend) == (4, 0, 0.0)
    # Another model in the same file: never served the first model's readings.
    other = make_reader(server, tmp_path, model="another-model")
    other.read_many(requests(4))
    assert len(server.seen) == 8 and other.stats.hits == 0
    assert sorted(other.cache.pairs()) == [("another-model", "v1"), (MODEL, "v1")]


def test_failures_are_not_cached(server, tmp_path):
    server.script = lambda body, n: Reply(503, {}) if n == 0 else yes_no_logprobs(0.2)
    assert make_reader(server, tmp_path, retries=0).read_many(requests(1))[0].failure == "http 503"
    assert make_reader(server, tmp_path, retries=0).read_many(requests(1))[0].probability == pytest.approx(0.2)
    assert len(server.seen) == 2


def test_describe_names_the_model_and_the_host_only():
    reader = OpenAICompatibleReader("https://user:pw@llm.example.com:8443/v1/", "m")
    assert reader.describe() == {"provider": "openai_compatible", "real": True, "model": "m",
                                 "host": "llm.example.com:8443", "prompt_version": "v1",
                                 "served_model": None}
    with pytest.raises(ValueError):
        OpenAICompatibleReader("http://h/v\u00e9", "m")


def test_the_cache_key_covers_model_prompt_version_endpoint_messages_and_parameters():
    messages = [{"role": "user", "content": "hi"}]
    base = request_key("http://h/v1", "m", messages, {"temperature": 0}, "v1")
    assert base == request_key("http://h/v1/", "m", messages, {"temperature": 0}, "v1")
    others = [request_key("http://h/v1", "m2", messages, {"temperature": 0}, "v1"),
              request_key("http://h/v1", "m", messages, {"temperature": 0}, "v2"),
              request_key("http://g/v1", "m", messages, {"temperature": 0}, "v1"),
              request_key("http://h/v1", "m", [{"role": "user", "content": "ho"}], {"temperature": 0}, "v1"),
              request_key("http://h/v1", "m", messages, {"temperature": 1}, "v1")]
    assert base not in others and len(set(others)) == len(others)


WRITER = """
import sys
from trm_demo.llm.cache import ReadingCache
from trm_demo.llm.request import Reading
cache = ReadingCache(sys.argv[1], "m", "v1")
for i in range(10**9):
    cache.put(f"key{i}", Reading(probability=0.5, method="number", input_tokens=i, output_tokens=1, cost=0.001))
    if i == 20:
        print("ready", flush=True)
"""


def test_ctrl_c_while_writing_leaves_a_sound_cache_of_whole_rows(tmp_path):
    path = tmp_path / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    # SIGINT at its default, as from a terminal: a suite started as a script's background job inherits it
    # ignored, and the writer then never stops (it failed so, at 60 s, under a loaded session's bench)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env,
                              preexec_fn=as_from_a_terminal)
    try:
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(0.1)
        writer.send_signal(signal.SIGINT)
        writer.communicate(timeout=60)   # generous: a loaded machine's fsyncs are slow (no timing is asserted)
    finally:
        if writer.poll() is None:        # never leave a writer behind for the tests that count processes
            writer.kill()
            writer.wait()
    assert writer.returncode != 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT key, probability, method, input_tokens, output_tokens, cost FROM readings").fetchall()
    assert len(rows) > 20
    assert all(None not in row for row in rows)
    assert {int(key[3:]) for key, *_ in rows} == set(range(len(rows))), "a row in the middle is missing"


# --- the API key ---

def test_the_api_key_goes_in_the_header_and_nowhere_else(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TRM_DEMO_LLM_API_KEY", SECRET)
    cfg = load_config(overrides={"llm.provider": "openai_compatible", "llm.model": MODEL, "llm.base_url": server.url,
                                 "llm.cache_path": str(tmp_path / "cache.sqlite"), "llm.retries": 0,
                                 "llm.input_price_per_million": 1.0}).llm
    reader = OpenAICompatibleReader.from_config(cfg)
    # The server echoes every header into its error body, as a careless proxy might.
    server.script = lambda body, n: yes_no_logprobs(0.6) if n < 2 else Reply(500, {"echo": dict(server.seen[n]["headers"])})
    readings = reader.read_many(requests(3))
    assert sorted(r.ok for r in readings) == [False, True, True]   # calls run concurrently: any one fails
    assert all(s["headers"]["Authorization"] == f"Bearer {SECRET}" for s in server.seen)
    shown = [repr(reader), repr(vars(reader)), repr(readings), repr(reader.stats), json.dumps(reader.stats.to_dict()),
             json.dumps(reader.describe())]
    assert not any(SECRET in text for text in shown)
    reader.close()
    for path in tmp_path.rglob("*"):
        assert SECRET.encode() not in path.read_bytes(), f"the key is in {path.name}"
    # A key a header cannot carry is refused without repeating it.
    monkeypatch.setenv("TRM_DEMO_LLM_API_KEY", SECRET + "\nX-Evil: 1")
    with pytest.raises(ValueError) as err:
        api_key_from_env(os.environ)
    assert SECRET not in repr(err.value) and SECRET not in str(err.value)


@pytest.mark.parametrize("bad", ["\r", "\n", "\t", "\x7f", "\x1b", " ", "é"])
def test_a_key_a_header_cannot_carry_is_one_line_naming_the_variable_exit_2(server, tmp_path, monkeypatch, capsys,
                                                                            bad):
    # Before: `internal error: ValueError ...`, exit 1.
    monkeypatch.setenv("OPENAI_API_KEY", f"{SECRET[:6]}{bad}{SECRET[6:]}")
    monkeypatch.delenv("TRM_DEMO_LLM_API_KEY", raising=False)
    code, err = run_failing(server, tmp_path, monkeypatch, capsys)
    assert code == 2 and err.startswith("error: the API key in the environment variable OPENAI_API_KEY")
    assert "visible ASCII" in err and err.count("\n") == 1 and SECRET[6:] not in err
    assert server.seen == [] and not (tmp_path / "demo_metrics.json").exists()


def test_the_key_comes_from_trm_demo_llm_api_key_else_openai_api_key():
    assert api_key_from_env({"TRM_DEMO_LLM_API_KEY": "a", "OPENAI_API_KEY": "b"}).reveal() == "a"
    assert api_key_from_env({"TRM_DEMO_LLM_API_KEY": " ", "OPENAI_API_KEY": "b\n"}).reveal() == "b"
    assert api_key_from_env({}) is None


def test_without_a_key_no_authorization_header_is_sent(server):
    make_reader(server).read_many(requests(1))
    assert "Authorization" not in server.seen[0]["headers"]


# --- pure parts ---

def test_p_yes_from_logprobs_edge_cases():
    def choice(*tokens):
        top = [{"token": t, "logprob": lp} for t, lp in tokens]
        return {"logprobs": {"content": [{**top[0], "top_logprobs": top}]}}
    assert p_yes_from_logprobs(choice(("\u2581yes", math.log(0.3)), ("Ġno", math.log(0.1)))) == pytest.approx(0.75)
    assert p_yes_from_logprobs(choice(("Yes", 0.0))) == 1.0                  # "no" not among the top tokens
    assert p_yes_from_logprobs(choice(("The", -0.1), ("A", -3.0))) is None   # no yes/no variant: ask a number
    assert p_yes_from_logprobs({"logprobs": None}) is None
    assert p_yes_from_logprobs({"logprobs": {"content": []}}) is None
    assert p_yes_from_logprobs(choice(("yes", "x"), ("no", math.log(0.5)))) == 0.0   # a malformed entry is skipped


@pytest.mark.parametrize("text, expected", [
    ("0.7", (0.7, None)), (".25", (0.25, None)), ("1.0", (1.0, None)), ("5%", (0.05, None)), ("7e-1", (0.7, None)),
    (None, (None, "unparseable")), ("nan", (None, "unparseable")), ("0.7.", (None, "unparseable")),
    ("0.3 or 0.4", (None, "unparseable")), ("yes", (None, "unparseable")), ("2", (None, "out of range")),
    ("101%", (None, "out of range")),
])
def test_parse_probability(text, expected):
    assert parse_probability(text) == expected


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert retry_after_s("120", now) == 120.0
    assert retry_after_s("0.2", now) == 0.2
    assert retry_after_s("Wed, 21 Oct 2026 07:28:30 GMT", now) == 30.0
    assert retry_after_s("Wed, 21 Oct 2026 07:00:00 GMT", now) == 0.0
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None and retry_after_s("-5", now) is None


def test_backoff_is_full_jitter_under_an_exponential_cap():
    rng = random.Random(0)
    waits = [[backoff_s(attempt, 0.5, 4.0, rng) for _ in range(2000)] for attempt in range(5)]
    for attempt, sample in enumerate(waits):
        ceiling = min(4.0, 0.5 * 2 ** attempt)
        assert 0.0 <= min(sample) and max(sample) <= ceiling
        assert np.mean(sample) == pytest.approx(ceiling / 2, rel=0.1)


def test_prompt_v1_has_both_questions_and_renders_deterministically():
    request = requests(1)[0]
    yes_no = prompt.messages(request, "v1", "yes_no")
    number = prompt.messages(request, "v1", "number")
    assert yes_no == prompt.messages(request, "v1", "yes_no")
    assert yes_no[0]["role"] == "system" and yes_no[0] == number[0]
    assert yes_no[1]["content"].endswith("Answer with one word: yes or no.")
    assert number[1]["content"].endswith("Reply with a single number between 0 and 1 and nothing else.")
    assert "$" not in yes_no[1]["content"] and "urgent: yes" in yes_no[1]["content"]



# --- prompt v2: written for small models (yes/no read from the logprobs, a unit on every number) ---

# What llama-cpp-python 0.3.36's server answered SmolLM2-135M-Instruct to a yes/no question (max_tokens 1,
# top_logprobs 5): capitalised tokens, `bytes` and `refusal` fields, and three of the five tokens neither yes nor no.
LLAMA_CPP_REPLY = {
    "id": "chatcmpl-282ca09e", "object": "chat.completion", "created": 1796637566, "model": "smollm2-135m",
    "choices": [{"index": 0, "message": {"content": "No", "role": "assistant"}, "logprobs": {"content": [
        {"token": "No", "logprob": -1.2472360134124756, "bytes": None, "top_logprobs": [
            {"token": "No", "logprob": -1.2472360134124756, "bytes": None},
            {"token": "Yes", "logprob": -2.01572585105896, "bytes": None},
            {"token": "I", "logprob": -2.4564015865325928, "bytes": None},
            {"token": "The", "logprob": -2.691118001937866, "bytes": None},
            {"token": "This", "logprob": -3.3107125759124756, "bytes": None}]}], "refusal": None},
        "finish_reason": "length"}],
    "usage": {"prompt_tokens": 212, "completion_tokens": 1, "total_tokens": 213}}


def market_request(**overrides) -> ReadRequest:
    """A request with the market's own field names, as funnel/reading.request_for builds it."""
    job = {"budget_low": 75.17, "budget_high": 98.4, "min_experience": 3.0, "max_experience": 8.0,
           "work_mode": "hybrid", "urgency": 0.3}
    candidate = {"asking_salary": 91.25, "experience": 5.5, "distance_km": 12.0, "remote_only": False,
                 "competing_offers": 1}
    return ReadRequest({**job, **overrides}, candidate, "Happy to talk, but I have another offer on the table.")


def test_prompt_v2_shows_every_number_of_the_market_with_its_unit():
    from trm_demo.funnel.market import CANDIDATE_FIELDS, JOB_FIELDS
    request = market_request()
    assert set(request.job) == set(JOB_FIELDS) and set(request.candidate) == set(CANDIDATE_FIELDS)
    [system, user] = prompt.messages(request, "v2", "yes_no")
    text = user["content"]
    for line in ("- budget low: 75.17 ($k per year)", "- urgency: 0.3 (0 = not urgent, 1 = very urgent)",
                 "- asking salary: 91.25 ($k per year)", "- distance km: 12 (km from the office)",
                 "- competing offers: 1 (other offers, 0 to 3)", "- work mode: hybrid", "- remote only: no"):
        assert line in text.splitlines(), line
    numbers = {**request.job, **request.candidate}
    for name, value in numbers.items():   # every number the model is shown carries its unit
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            (shown,) = [line for line in text.splitlines() if line.startswith(f"- {name.replace('_', ' ')}:")]
            assert shown.endswith(")"), shown
    assert text.endswith("Will this candidate accept an interview for this job? Answer yes or no.")
    assert prompt.messages(request, "v2", "number")[1]["content"].endswith(
        "Reply with one number between 0 and 1, for example 0.7, and nothing else.")
    assert prompt.messages(request, "v2", "yes_no") == [system, user]   # deterministic: the cache relies on it
    assert "$$" not in text and "$job" not in text and "$message" not in text


def test_prompt_v2_reads_p_yes_from_a_llama_cpp_reply(server):
    server.script = lambda body, n: Reply(body=LLAMA_CPP_REPLY)
    reader = make_reader(server, prompt_version="v2")
    [reading] = reader.read_many([market_request()])
    yes, no = math.exp(-2.01572585105896), math.exp(-1.2472360134124756)
    assert reading.ok and reading.method == "logprobs" and reading.probability == pytest.approx(yes / (yes + no))
    assert (reading.input_tokens, reading.output_tokens) == (212, 1)
    [body] = server.bodies()
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"], body["temperature"]) == (1, True, 5, 0)
    assert body["messages"][-1]["content"].endswith("Answer yes or no.")


@pytest.mark.parametrize("reply, probability, failure", [
    ("0.7", 0.7, None), ("The candidate is likely to accept.", None, "unparseable"), ("Yes", None, "unparseable")])
def test_prompt_v2_falls_back_to_its_number_question_and_parses_it_strictly(server, reply, probability, failure):
    # The fallback SmolLM2-135M could not answer with v1 (10 of 10 unparseable): v2 asks for one number, with an example.
    server.script = lambda body, n: completion(reply)   # no logprobs: the reader asks for a number
    reader = make_reader(server, prompt_version="v2")
    [reading] = reader.read_many([market_request()])
    assert (reading.probability, reading.failure) == (probability, failure)
    assert server.bodies()[1]["messages"][-1]["content"].endswith("for example 0.7, and nothing else.")


def test_prompt_versions_never_share_readings_in_one_cache(server, tmp_path):
    path = tmp_path / "cache.sqlite"
    v1 = make_reader(server, cache=ReadingCache(path, MODEL, "v1"), prompt_version="v1")
    v1.read_many(requests(3))
    v1.close()
    v2 = make_reader(server, cache=ReadingCache(path, MODEL, "v2"), prompt_version="v2")
    v2.read_many(requests(3))
    assert len(server.seen) == 6 and v2.stats.hits == 0 and "Answer yes or no." in server.bodies()[-1]["messages"][-1]["content"]
    assert sorted(v2.cache.pairs()) == [(MODEL, "v1"), (MODEL, "v2")]
    v2.close()


# --- the simulated reader ---

# --- config ---

def test_the_default_config_is_simulated_and_touches_no_network():
    cfg = load_config()
    assert (cfg.llm.provider, cfg.llm.base_url, cfg.llm.model, cfg.llm.prompt_version) == \
        ("simulated", "http://localhost:8000/v1", "", "v1")
    assert not readings_for(cfg).real


@pytest.mark.parametrize("overrides, fragment", [
    ({"llm.provider": "openai_compatible"}, "'llm.model' must name the model"),
    ({"llm.provider": "openai_compatible", "llm.model": "m", "llm.base_url": "localhost:8000"}, "'llm.base_url'"),
    ({"llm.provider": "openai_compatible", "llm.model": "m", "llm.base_url": "http://h/v1 beta"}, "'llm.base_url'"),
    ({"llm.provider": "openai", "llm.model": "m"}, "must be one of simulated, openai_compatible"),
    ({"llm.prompt_version": "v0"}, "'llm.prompt_version' must be one of v1"),
    ({"llm.concurrency": 0}, "'llm.concurrency' must be ≥ 1"),
    ({"llm.cache_path": ""}, "'llm.cache_path' must be a file path"),
])
def test_llm_config_errors_are_one_line(overrides, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=overrides)
    assert fragment in str(err.value) and "\n" not in str(err.value)


# --- the whole run against the endpoint ---

def answer_from_the_reply(body: dict, n: int) -> Reply:
    """A toy model that reads: 'not actively' and 'curious' mean no, anything else leans yes."""
    text = body["messages"][-1]["content"]
    p = 0.15 if ("curious" in text or "accepted" in text) else 0.6 if "not actively" in text else 0.75
    return yes_no_logprobs(p)


def run_main(server, tmp_path, monkeypatch, capsys, extra: str = "", cache=None, flags=(), llm: str = ""):
    """main() on a tiny config against `server` (a FakeServer or a URL): (exit code, stdout, stderr).
    extra: more YAML; llm: more `llm:` keys (", key: value")."""
    from trm_demo.__main__ import main
    if "OPENAI_API_KEY" not in os.environ:
        monkeypatch.setenv("TRM_DEMO_LLM_API_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assets").mkdir(exist_ok=True)
    (tmp_path / "tiny.yaml").write_text(
        "simulation: {opportunities: 12}\ntraining: {epochs: 1, samples: 256, holdout_samples: 256}\n"
        f"llm: {{cache_path: '{cache or tmp_path / 'cache.sqlite'}', retries: 0, input_price_per_million: 2.0, "
        f"output_price_per_million: 8.0{llm}}}\n" + extra, encoding="utf-8")
    code = main(["--config", "tiny.yaml", "--quiet", "--llm-provider", "openai_compatible",
                 "--llm-base-url", getattr(server, "url", server), "--llm-model", MODEL, *flags])
    out, err = capsys.readouterr()
    return code, out, err


def run_against(server, tmp_path, monkeypatch, capsys, extra: str = ""):
    code, _, _ = run_main(server, tmp_path, monkeypatch, capsys, extra)
    return code, json.loads((tmp_path / "demo_metrics.json").read_text())


def run_failing(server, tmp_path, monkeypatch, capsys, extra: str = "", **kw):
    """A run that must stop before the work: (exit code, stderr); nothing written."""
    code, _, err = run_main(server, tmp_path, monkeypatch, capsys, extra, **kw)
    assert not (tmp_path / "demo_metrics.json").exists() and not any((tmp_path / "assets").iterdir()), \
        "a refused run wrote an output"
    return code, err


def test_a_run_reads_with_the_endpoint_and_a_rerun_is_free_and_identical(server, tmp_path, monkeypatch, capsys):
    server.script = answer_from_the_reply
    code, first = run_against(server, tmp_path, monkeypatch, capsys)
    assert code == 0
    llm = first["run"]["llm"]
    assert llm["real"] and llm["model"] == MODEL and llm["host"].startswith("127.0.0.1:")
    calls = len(server.seen) - 1   # the first is the test read before the run
    # every candidate the LLM-alone strategy reads, once (the cascade and its replays reuse those readings), and
    # the history replies the calibration reads once at set-up
    assert first["strategies"]["llm"]["llm_reads"] == 12 * first["run"]["candidates_per_opportunity"]
    assert calls == first["strategies"]["llm"]["llm_reads"] + first["cascade"]["setup_reads"]
    assert first["strategies"]["llm"]["llm_cost"] > 0          # charged from the usage tokens
    decisions = (tmp_path / "trm_calls.json").read_text()
    code, second = run_against(server, tmp_path, monkeypatch, capsys)
    assert code == 0 and len(server.seen) == calls + 1, "a rerun (its test read too) must be served by the cache"
    assert second["run"]["llm"]["stats"]["hits"] == calls and second["run"]["llm"]["stats"]["spend"] == 0
    assert _without_wall_clock(second["strategies"]) == _without_wall_clock(first["strategies"])
    assert (tmp_path / "trm_calls.json").read_text().replace(" ", "") != "" and \
        _decisions(tmp_path / "trm_calls.json") == _decisions_text(decisions)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def test_an_endpoint_outage_opens_the_breaker_and_the_tabular_models_decide(server, tmp_path, monkeypatch, capsys):
    # the endpoint answers the test read and the calibration's 8 set-up reads (so the cascade trusts it), then
    # goes down
    server.script = lambda body, n: answer_from_the_reply(body, n) if n < 9 else Reply(503, {"error": "down"})
    code, out, err = run_main(server, tmp_path, monkeypatch, capsys,
                              "sentinel: {breaker_window: 4}\ncascade: {calibration_reads: 8}\n")
    metrics = json.loads((tmp_path / "demo_metrics.json").read_text())
    assert code == 0
    states = [e["state"] for e in metrics["sentinel"]["events"]]
    assert "open" in states
    assert metrics["run"]["llm"]["stats"]["failures"]
    # the cascade fell back to the TRM: it still decided every opportunity
    assert metrics["strategies"]["cascade"]["attempts"] == metrics["run"]["opportunities"]
    # Before: exit 0, `LLM: real (...)` and "Use the TRM alone: at these prices, paying an LLM ... does not pay."
    llm = metrics["run"]["llm"]
    # every read failed but the set-up's (answered before the outage)
    assert llm["failed_reads"] == llm["candidates_read"] - metrics["cascade"]["setup_reads"] > 0
    assert not llm["verdicts_valid"]
    # The LLM alone reads under the breaker too: an endpoint that is down is not asked about every candidate
    # (before: every one, ~10 hours for a default run against a hung server).
    assert len(server.seen) - 1 < metrics["cascade"]["setup_reads"] + 12 * metrics["run"]["candidates_per_opportunity"]
    assert f"warning: the LLM failed {llm['failed_reads']:,} of {llm['candidates_read']:,} reads (http 503" in err
    first = (tmp_path / "assets" / "trm_executive_report.md").read_text().split("\n\n")[1]
    assert first.startswith("**The LLM failed") and "no verdict involving it" in first and "prices" not in first


def test_a_server_that_is_not_there_stops_the_run_in_seconds_exit_2(tmp_path, monkeypatch, capsys):
    # Before: 305 s of silent failures, exit 0, advice drawn from them.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    start = time.monotonic()
    code, err = run_failing(url, tmp_path, monkeypatch, capsys)
    assert code == 2 and time.monotonic() - start < 10
    assert err == (f"error: the LLM at llm.base_url '{url}' (llm.model '{MODEL}') failed a test read (connection): "
                   "nothing answered there: start the server, or fix llm.base_url; or set llm.provider: simulated\n")
    assert not (tmp_path / "cache.sqlite").exists()


def test_an_unknown_model_or_path_fails_the_test_read_exit_2(server, tmp_path, monkeypatch, capsys):
    server.script = lambda body, n: Reply(404, {"error": "model not found"})
    code, err = run_failing(server, tmp_path, monkeypatch, capsys)
    assert code == 2 and "failed a test read (http 404)" in err and "llm.model" in err and len(server.seen) == 1


def test_a_real_reader_gets_no_simulated_scenario_and_one_ledger_for_its_cost(server, tmp_path, monkeypatch, capsys):
    # Before: the outage billed the LLM alone $100 (charged 0.0), and the spend line disagreed with the table.
    server.script = answer_from_the_reply
    code, metrics = run_against(server, tmp_path, monkeypatch, capsys,
                                "scenario: {events: [{at: 2, llm_outage: 5}, {at: 6, llm_price_multiplier: 2.5}]}\n")
    assert code == 0
    llm, strategies = metrics["run"]["llm"], metrics["strategies"]
    # what the endpoint charged: the LLM alone's reads (which the cascade reuses) and the calibration's set-up reads
    assert llm["stats"]["failures"] == {}
    assert strategies["llm"]["llm_cost"] + metrics["cascade"]["setup_cost"] == pytest.approx(llm["charged"])
    assert metrics["sentinel"]["llm_spent"] == pytest.approx(strategies["cascade"]["llm_cost"])
    assert "not applied to a real one" in (tmp_path / "assets" / "trm_executive_report.md").read_text()


def test_scenario_events_opt_in_bills_a_real_reader_at_the_scenarios_price(server, tmp_path, monkeypatch, capsys):
    """llm.scenario_events true: the price multiplier applies to what the endpoint charged (a what-if)."""
    server.script = answer_from_the_reply
    events = "scenario: {events: [{at: 0, llm_price_multiplier: 3.0}]}\n"
    code, plain = run_against(server, tmp_path, monkeypatch, capsys, events)
    assert code == 0 and plain["run"]["llm"]["scenario_llm_events"] is False
    code, _, _ = run_main(server, tmp_path, monkeypatch, capsys, events, llm=", scenario_events: true")
    what_if = json.loads((tmp_path / "demo_metrics.json").read_text())
    assert code == 0 and what_if["run"]["llm"]["scenario_llm_events"] is True
    from trm_demo.ui import llm_line   # the terminal says which, as the dossier does
    assert "events are not applied to it" in llm_line(plain["run"]["llm"])
    assert "events are applied to it as a what-if" in llm_line(what_if["run"]["llm"])
    assert "applied to this real reader as a what-if" in (tmp_path / "assets" / "trm_executive_report.md").read_text()
    # the LLM alone reads every candidate either way (from the cache the second time): only the bill changes
    llm_alone = lambda m: m["strategies"]["llm"]
    assert llm_alone(what_if)["llm_reads"] == llm_alone(plain)["llm_reads"]
    assert llm_alone(what_if)["llm_cost"] == pytest.approx(3.0 * llm_alone(plain)["llm_cost"])


def test_a_password_in_the_base_url_is_refused_and_never_shown(server, tmp_path, monkeypatch, capsys):
    url = server.url.replace("http://", "http://user:hunter2@")
    code, err = run_failing(url, tmp_path, monkeypatch, capsys)
    assert code == 2 and "hunter2" not in err and "http://user:***@127.0.0.1" in err and server.seen == []
    code, err = run_failing(url.replace("http", "ftp", 1), tmp_path, monkeypatch, capsys)   # the other message too
    assert code == 2 and "hunter2" not in err
    # In YAML as by flag: the same refusal, the password never shown.
    (tmp_path / "secret.yaml").write_text(f"llm: {{provider: openai_compatible, model: {MODEL}, base_url: '{url}'}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "secret.yaml")
    assert "hunter2" not in str(err.value) and "http://user:***@127.0.0.1" in str(err.value)


# --- the cache is an output: checked with the others, and every failure is one line ---

def _cache_cases(tmp_path):
    (tmp_path / "junk").write_bytes(b"not a database at all, just some bytes" * 100)
    good = tmp_path / "good.sqlite"
    ReadingCache(good, MODEL, "v1").close()
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(good.read_bytes()[:100] + b"\xff" * 4000)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("PRAGMA user_version = 7")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE readings (x)")
    (tmp_path / "adir").mkdir()
    (tmp_path / "target").write_text("")
    (tmp_path / "link.sqlite").symlink_to(tmp_path / "target")
    os.link(good, tmp_path / "hard.sqlite")
    return {"junk": "cannot be used", "corrupt.sqlite": "cannot be used", "other.sqlite": "schema version 7",
            "foreign.sqlite": "not an LLM cache", "adir": "a directory", "link.sqlite": "symbolic link",
            "hard.sqlite": "hard link", "missing/cache.sqlite": "does not exist",
            "demo_metrics.json": "--export-json", "tiny.yaml": "the input --config",
            "/dev/null": "a character device, not a regular file",
            str(Path(__file__).resolve().parent.parent / "trm_demo" / "checkpoints" / "pretrained_trm.npz"):
                "inside trm-demo's own files"}


def test_every_unusable_cache_is_one_line_naming_llm_cache_path_exit_2(server, tmp_path, monkeypatch, capsys):
    # Before: `internal error: CacheError ...`, exit 1 (13 cases); `cache_path: demo_metrics.json` was overwritten.
    cases = _cache_cases(tmp_path)
    (tmp_path / "demo_metrics.json").write_text("{}")
    for name, fragment in cases.items():
        before = {p: p.read_bytes() for p in tmp_path.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.name != "tiny.yaml"}   # run_main writes that one
        code, _, err = run_main(server, tmp_path, monkeypatch, capsys, cache=tmp_path / name)
        assert code == 2 and "llm.cache_path" in err and fragment in err and err.count("\n") == 1, (name, err)
        assert {p: p.read_bytes() for p in before} == before, f"{name}: a refused run changed a file"
    assert (tmp_path / "target").read_text() == "" and server.seen == []


def test_a_read_only_cache_directory_is_one_line_exit_2(server, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a read-only directory is writable")
        code, _, err = run_main(server, tmp_path, monkeypatch, capsys, cache=locked / "cache.sqlite")
        assert code == 2 and "llm.cache_path" in err and "not writable" in err
    finally:
        locked.chmod(0o700)


def test_a_cache_locked_by_another_process_is_one_line_exit_2(server, tmp_path, monkeypatch, capsys):
    path = tmp_path / "cache.sqlite"
    ReadingCache(path, MODEL, "v1").close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = run_main(server, tmp_path, monkeypatch, capsys, cache=path)
    finally:
        holder.rollback()
        holder.close()
    assert code == 2 and "llm.cache_path" in err and "locked" in err


def test_cache_rows_that_are_not_readings_are_skipped_and_counted(tmp_path):
    # Before: a probability 'abc' crashed the run with a TypeError.
    path = tmp_path / "cache.sqlite"
    cache = ReadingCache(path, MODEL, "v1")
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO readings VALUES (?, ?, 'logprobs', 1, 1, 0.0, 1.0)",
                       [("abc", "abc"), ("negative", -0.5), ("big", 7.0), ("ok", 0.25)])
    assert [cache.get(k) is None for k in ("abc", "negative", "big", "ok")] == [True, True, True, False]
    assert cache.skipped == 3 and cache.get("ok").probability == 0.25
    cache.close()


def _decisions(path) -> list:
    return _decisions_text(path.read_text())


def _decisions_text(text: str) -> list:
    return [(r["opportunity"], r["candidate"], r["decision"]) for r in json.loads(text)]


def _without_wall_clock(strategies: dict) -> dict:
    return {k: {m: v for m, v in row.items() if "latency" not in m} for k, row in strategies.items()}


def test_a_model_the_server_does_not_list_is_one_line_naming_what_it_serves_exit_2(server, tmp_path, monkeypatch,
                                                                                  capsys):
    server.models = ["smollm2-135m", "qwen2.5-0.5b"]
    code, err = run_failing(server, tmp_path, monkeypatch, capsys)
    assert code == 2
    (line,) = err.strip().splitlines()[-1:]
    assert "llm.model" in line and "--llm-model" in line and "'smollm2-135m'" in line and "'qwen2.5-0.5b'" in line
    assert server.seen == [], "no read is sent for a model the server does not serve"
    assert not (tmp_path / "cache.sqlite").exists()


def test_the_served_model_is_recorded_and_a_server_without_a_list_is_tolerated(server, tmp_path, monkeypatch,
                                                                              capsys):
    for models, served in (([MODEL, "another"], MODEL), (None, None)):   # None: GET /v1/models answers 404
        server.models = models
        directory = tmp_path / str(served)
        directory.mkdir()
        code, out, err = run_main(server, directory, monkeypatch, capsys)
        assert code == 0, err
        assert json.loads((directory / "demo_metrics.json").read_text())["run"]["llm"]["served_model"] == served
    # The landscape replays the simulated reader even in a real run: the dossier and the terminal say so.
    report = (directory / "assets" / "trm_executive_report.md").read_text()
    assert report.count("read by the simulated reader (not this run's real LLM)") == 2   # deferral curve, map


# --- the run's LLM time budget: reads stop, the tabular models decide, the report says so ---

def test_the_time_budget_stops_the_reads_and_the_tabular_models_decide_the_rest(server, tmp_path, monkeypatch,
                                                                                capsys):
    # Before llm.time_budget_s a slow server made a default run take hours (6.9 s per read, 1,600 reads).
    budget = 1.0
    server.script = lambda body, n: Reply(**{**vars(answer_from_the_reply(body, n)), "delay_s": 0.1})
    code, out, err = run_main(server, tmp_path, monkeypatch, capsys,
                              "cascade: {calibration_reads: 8}\n", llm=f", time_budget_s: {budget}, concurrency: 2")
    assert code == 0, err
    metrics = json.loads((tmp_path / "demo_metrics.json").read_text())
    llm = metrics["run"]["llm"]
    # Counted at the server: the test read, then reads for at most the budget (the clock starts at the first
    # read), and nothing sent after it.
    sent = [s["t"] for s in server.seen[1:]]
    assert sent and max(sent) - min(sent) <= budget + 0.05, "a read was sent after the time budget ran out"
    wanted = metrics["cascade"]["setup_reads"] + 12 * metrics["run"]["candidates_per_opportunity"]
    # (a read in flight when the budget ran out was sent and then cut: it counts as sent and as over budget)
    assert llm["over_budget_reads"] > 0 and len(sent) + llm["stats"]["unsent"] <= wanted
    assert llm["stats"]["failures"].get("time budget", 0) >= llm["over_budget_reads"]
    # A read never sent is neither a call to the endpoint nor a latency (before, 85 unsent reads were "calls" of 0 ms).
    assert llm["stats"]["misses"] == len(sent) == llm["stats"]["latency_ms"]["count"] and llm["stats"]["unsent"] > 0
    # A budget is not an outage: the verdicts stand, and every opportunity was still decided (by the TRM where the
    # LLM could not read).
    assert llm["failed_reads"] == 0 and llm["verdicts_valid"]
    assert metrics["sentinel"]["events"] == [], "reads kept back by the time budget opened the outage guard"
    assert all(row["attempts"] == metrics["run"]["opportunities"] for row in metrics["strategies"].values()
               if "attempts" in row)
    skipped = f"{llm['over_budget_reads']:,}"
    assert (f"warning: the LLM time budget (llm.time_budget_s: 1.00 s) ran out: {skipped} reads were not made "
            "and the TRM decided them") in err
    section = (tmp_path / "assets" / "trm_executive_report.md").read_text().split("## The LLM reader")[1]
    assert f"Time budget: `llm.time_budget_s: 1.00` s ran out: {skipped} reads were not made" in section


def test_a_budget_that_is_not_reached_or_not_set_says_so(server, tmp_path, monkeypatch, capsys):
    server.script = answer_from_the_reply
    for budget, words in ((600, "Time budget: `llm.time_budget_s: 600.00` s, not reached; every read was made."),
                          (0, "Time budget: none set (`llm.time_budget_s: 0`)")):
        directory = tmp_path / str(budget)
        directory.mkdir()
        code, _, err = run_main(server, directory, monkeypatch, capsys, "cascade: {calibration_reads: 8}\n",
                                llm=f", time_budget_s: {budget}")
        assert code == 0 and "time budget" not in err
        assert words in (directory / "assets" / "trm_executive_report.md").read_text()


def test_a_reader_with_no_signal_is_judged_worse_than_the_trm_in_the_terminal_and_the_report(server, tmp_path,
                                                                                             monkeypatch, capsys):
    # Before: only a calibration table, which looked almost calibrated for SmolLM2-135M (rank correlation -0.015).
    def coin(body, n):   # a reading that ignores the candidate: a hash of the prompt, spread over (0.2, 0.6)
        return yes_no_logprobs(0.2 + 0.4 * (zlib.crc32(body["messages"][-1]["content"].encode()) % 1000) / 1000)
    server.script = coin
    code, out, err = run_main(server, tmp_path, monkeypatch, capsys, "cascade: {calibration_reads: 8}\n")
    assert code == 0, err
    judged = json.loads((tmp_path / "demo_metrics.json").read_text())["run"]["llm"]["discrimination"]
    assert judged["worse_than_trm"] and judged["candidates"] > 50
    assert judged["reader"]["rank_correlation_with_truth"] < judged["trm"]["rank_correlation_with_truth"]
    rho = lambda side: f"{judged[side]['rank_correlation_with_truth']:.2f}"
    assert (f"warning: the LLM reads worse than the TRM alone: rank correlation with the true probability "
            f"{rho('reader')} against the TRM's {rho('trm')} (a simulation-only check)") in err
    report = (tmp_path / "assets" / "trm_executive_report.md").read_text()
    first = report.split("\n\n")[1]
    assert "**Warning: the LLM reads worse than the TRM alone**" in first
    section = report.split("## The LLM reader")[1].split("\n## ")[0]
    assert f"Discrimination on the {judged['candidates']:,} candidates of the run the LLM answered" in section
    assert "**The LLM reads worse than the TRM alone**" in section
    row = (f"| Rank correlation with the true probability (a simulation-only check) | "
           f"{judged['reader']['rank_correlation_with_truth']:+.3f} | {judged['trm']['rank_correlation_with_truth']:+.3f} |")
    assert row in section and "| AUC on the observed outcomes (what a deployment can see) |" in section


def test_a_reader_that_ranks_as_well_as_the_trm_gets_no_warning():
    # No scripted server knows the true probability, so this side is judged from a metrics record.
    from trm_demo.report.dossier import discrimination_blocks
    from trm_demo.report.document import to_markdown, Document
    judged = {"candidates": 96, "reader": {"rank_correlation_with_truth": 0.95, "auc": 0.9, "log_loss": 0.4},
              "trm": {"rank_correlation_with_truth": 0.84, "auc": 0.83, "log_loss": 0.49}, "worse_than_trm": False}
    text = to_markdown(Document("t", discrimination_blocks(judged)))
    assert "ranks the candidates at least as well as the TRM alone" in text and "worse" not in text
    assert "| Log-loss on the observed outcomes (lower is better) | 0.400 | 0.490 |" in text
    assert "not measured (1 answered candidate" in to_markdown(Document("t", discrimination_blocks({"candidates": 1})))


def test_the_terminals_llm_line_gives_both_rank_correlations():
    from trm_demo.ui import llm_line
    llm = {"provider": "openai_compatible", "real": True, "model": "smollm2-135m", "verdicts_valid": True,
           "discrimination": {"candidates": 200, "reader": {"rank_correlation_with_truth": 0.0744},
                              "trm": {"rank_correlation_with_truth": 0.8992}, "worse_than_trm": True}}
    assert llm_line(llm) == ("LLM: real (openai_compatible, model smollm2-135m); rank correlation with the true "
                             "probability +0.07 (the TRM's +0.90, a simulation-only check); the scenario's LLM price "
                             "and outage events are not applied to it")
    llm["discrimination"]["reader"]["rank_correlation_with_truth"] = None   # every reading alike
    assert "probability none (all readings alike) (the TRM's +0.90" in llm_line(llm)
    assert "rank correlation" not in llm_line({**llm, "discrimination": {"candidates": 1}})
