"""The cases of issue 22 that held when the reader was first attacked, kept by a test each: hostile bodies and
connections on a 127.0.0.1 server, redirects, refused URLs, two readers on one cache, and the start-up test
read's other refusals. Each is a counted failure or one line (exit 2), in bounded time, never an exception.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from test_llm_reader import (MODEL, SECRET, FakeServer, Reply, completion, make_reader, requests, run_failing,
                             serving, yes_no_logprobs)
from trm_demo.config import load_config
from trm_demo.errors import ConfigError
from trm_demo.llm import ReadingCache
from trm_demo.llm.client import MAX_RESPONSE_BYTES


@pytest.fixture
def server():
    yield from serving(FakeServer())


@pytest.fixture
def elsewhere():
    """A second server: where a redirect points."""
    yield from serving(FakeServer())


def nan_logprobs(word: str) -> Reply:
    """Yes/no logprobs that are NaN or infinite: json.dumps writes NaN and Infinity, as a careless server would."""
    top = [{"token": "Yes", "logprob": float(word)}, {"token": "No", "logprob": float(word)}]
    return Reply(body=json.dumps({"choices": [{"message": {"content": "Yes"},
                                               "logprobs": {"content": [{**top[0], "top_logprobs": top}]}}]}).encode())


@pytest.mark.parametrize("reply, failure", [
    (Reply(body=b"x" * (5 * MAX_RESPONSE_BYTES)), "bad response"),           # 5 MB (100 MB before): cut at 1 MB
    (Reply(action="endless"), "bad response"),                                # a chunked body that never ends
    (Reply(body=b'{"choices": [{"message": '), "bad response"),               # invalid JSON
    (Reply(body=b'{"choices": "\xff\xfe\xfd"}'), "bad response"),             # not UTF-8
    (Reply(action="reset"), "connection"),                                    # a TCP reset instead of an answer
    (nan_logprobs("nan"), "unparseable"),                                     # no usable logprob, no number either
    (nan_logprobs("inf"), "unparseable"),
], ids=["big-body", "endless-stream", "invalid-json", "not-utf8", "reset", "nan-logprobs", "infinite-logprobs"])
def test_a_hostile_answer_is_one_counted_failure_in_bounded_time(server, reply, failure):
    server.script = lambda body, n: reply
    reader = make_reader(server, retries=0, timeout_s=3.0)
    start = time.monotonic()
    [reading] = reader.read_many(requests(1))
    assert (reading.probability, reading.failure) == (None, failure)
    assert dict(reader.stats.failures) == {failure: 1} and time.monotonic() - start < 3.5


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_a_counted_failure_and_the_key_follows_none(server, elsewhere, status):
    server.script = lambda body, n: Reply(status, b"", {"Location": elsewhere.url + "/chat/completions"})
    from trm_demo.llm.client import Secret
    reader = make_reader(server, retries=2, api_key=Secret(SECRET))
    [reading] = reader.read_many(requests(1))
    assert reading.failure == f"http {status}" and len(server.seen) == 1   # a 3xx is not retried either
    assert elsewhere.seen == [], "the request (and its Authorization header) followed the redirect"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/v1", "javascript:alert(1)",
                                 "http://127.0.0.1:1/v1\r\nX-Evil: 1", "http://127.0.0.1:99999/v1"],
                         ids=["file", "ftp", "javascript", "crlf", "port-99999"])
def test_a_base_url_the_reader_cannot_use_is_one_line_naming_llm_base_url(url):
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"llm.provider": "openai_compatible", "llm.model": MODEL, "llm.base_url": url})
    assert "'llm.base_url' must be an http:// or https:// URL with a host" in str(err.value)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)


def test_an_unresolvable_host_stops_the_run_in_seconds_exit_2(tmp_path, monkeypatch, capsys):
    start = time.monotonic()
    code, err = run_failing("http://no-such-host.invalid/v1", tmp_path, monkeypatch, capsys)
    assert code == 2 and "failed a test read (connection)" in err and time.monotonic() - start < 15


@pytest.mark.parametrize("reply, failure, fix", [
    (Reply(401, {"error": "bad key"}), "http 401", "the server refused the API key"),
    (Reply(403, {"error": "forbidden"}), "http 403", "the server refused the API key"),
    (completion("I am a helpful assistant."), "unparseable", "its reply could not be read as a probability"),
], ids=["401", "403", "unparseable"])
def test_the_test_read_refuses_a_key_the_server_refuses_and_a_reply_it_cannot_read(server, tmp_path, monkeypatch,
                                                                                     capsys, reply, failure, fix):
    server.script = lambda body, n: reply
    code, err = run_failing(server, tmp_path, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1 and f"failed a test read ({failure}): {fix}" in err
    assert f"llm.base_url '{server.url}'" in err and f"llm.model '{MODEL}'" in err and SECRET not in err
    assert not (tmp_path / "cache.sqlite").exists()


def test_two_readers_sharing_one_cache_both_read_and_every_row_is_whole(server, tmp_path):
    server.script = lambda body, n: Reply(**{**vars(yes_no_logprobs(0.4)), "delay_s": 0.01})
    path = tmp_path / "cache.sqlite"
    readers = [make_reader(server, cache=ReadingCache(path, MODEL, "v1")) for _ in range(2)]
    batches = [requests(40)[:25], requests(40)[15:]]   # 10 requests in common
    results = [None, None]

    def read(i):
        results[i] = readers[i].read_many(batches[i])
    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(r is not None and all(x.ok for x in r) for r in results)
    for reader in readers:
        reader.close()
    again = make_reader(server, cache=ReadingCache(path, MODEL, "v1"))
    sent = len(server.seen)
    assert [r.probability for r in again.read_many(requests(40))] == pytest.approx([0.4] * 40)
    assert len(server.seen) == sent and again.stats.hits == 40, "a reading of one of the two runs was lost"
    again.close()
