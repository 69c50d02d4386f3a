"""Ctrl-C and SIGTERM while the real LLM reader has requests in flight: the run stops at once, nothing is sent
after the signal, and a second Ctrl-C is as quiet as the first.

A real process against the scripted server of test_llm_reader.py on 127.0.0.1, whose every read after the
start-up test read hangs for 60 s: before this, the run ended ~10 s after the signal (91 s with timeout_s 30)
and its worker threads sent 16 more requests carrying the API key. Bounded by communicate()'s timeout.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from test_llm_reader import MODEL, SECRET, FakeServer, Reply, serving, yes_no_logprobs
from test_stop_signals import STOPPED, STOPS, python_main
from test_cli import subprocess_env


@pytest.fixture
def hanging_server():
    fake = FakeServer()
    fake.script = lambda body, n: yes_no_logprobs(0.5) if n == 0 else Reply(delay_s=60.0, body={})
    yield from serving(fake)


def start_run(server: FakeServer, tmp_path) -> subprocess.Popen:
    (tmp_path / "tiny.yaml").write_text(
        "simulation: {opportunities: 12}\ntraining: {epochs: 1, samples: 256, holdout_samples: 256}\n"
        f"llm: {{cache_path: '{tmp_path / 'cache.sqlite'}', concurrency: 4}}\n", encoding="utf-8")
    env = {**subprocess_env(), "TRM_DEMO_LLM_API_KEY": SECRET}
    return python_main("--config", "tiny.yaml", "--quiet", "--llm-provider", "openai_compatible", "--llm-base-url",
                       server.url, "--llm-model", MODEL, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)


def wait_for_reads_in_flight(server: FakeServer, process: subprocess.Popen, count: int = 4) -> None:
    for _ in range(1200):   # up to 60 s for start-up and fine-tuning on a loaded machine
        if server.in_flight >= count or process.poll() is not None:
            return
        time.sleep(0.05)


@STOPS
def test_a_stop_with_reads_in_flight_ends_the_run_and_sends_nothing_after_it(hanging_server, tmp_path, name, code,
                                                                              word):
    process = start_run(hanging_server, tmp_path)
    wait_for_reads_in_flight(hanging_server, process)
    assert hanging_server.in_flight == 4, "the run never had its reads in flight"
    sent = len(hanging_server.seen)
    process.send_signal(getattr(signal, name))
    _, err = process.communicate(timeout=10)   # the reads hang for 60 s: ending here means they were cut
    assert process.returncode == code and err.splitlines() == [f"{word}: {STOPPED}"]
    assert len(hanging_server.seen) == sent, "a request was sent after the signal"
    assert not (tmp_path / "demo_metrics.json").exists()


def test_a_second_ctrl_c_prints_no_traceback(hanging_server, tmp_path):
    # Before: a 13-line `Exception ignored in: <module 'threading'>` traceback.
    process = start_run(hanging_server, tmp_path)
    wait_for_reads_in_flight(hanging_server, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    # 130, or killed by the SIGINT itself while Python finalises (its handlers are gone): a shell shows 130 for both
    assert process.returncode in (130, -signal.SIGINT) and "Traceback" not in err and "Exception ignored" not in err
    assert err.splitlines() in ([f"interrupted: {STOPPED}"], [])   # the second may end it before the line
