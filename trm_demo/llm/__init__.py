"""The LLM reader: how likely is a candidate to accept an interview, read from the job's fields,
the candidate's fields and the candidate's free-text message.

How the pieces fit:

    ReadRequest(job fields, candidate fields, message)                    request.py
      │  reader.read_many([...]) -> [Reading, ...]: one per request, failures included
      └─ OpenAICompatibleReader (llm.provider: openai_compatible)            client.py
           1. cache lookup by a hash of the canonical request                cache.py
           2. messages from the versioned template prompts/<version>.txt     prompt.py
           3. POST {base_url}/chat/completions, at most `concurrency` at once,
              retried on dropped connections, 429 and 5xx (backoff,
              Retry-After) within one deadline per read, timeout_s           retry.py
           4. P(yes) from the logprobs, else a number parsed strictly        parse.py
           5. cost from the returned usage tokens                            pricing.py
           6. a successful reading is committed to the cache                 cache.py
    Reading(probability | None, failure | None, tokens, cost, latency_ms, cached, method)
    reader.stats: hits, misses, failures by reason, spend, latencies         stats.py

A failed read is a Reading with probability None and a reason ("timeout", "connection",
"rate limited", "http 500", "bad response", "unparseable", "out of range", "stopped"): never an exception
and never a made-up probability, so the caller's circuit breaker can count failures and decide
with the TRM alone. The simulated reader (llm.provider: simulated, the default) is vectorised
with the market in trm_demo/funnel/reading.py; nothing touches the network unless llm.provider is
openai_compatible. Call
reader.probe(request) once before a run (a server that is not there is found in seconds),
reader.stop() to cut the reads in flight (read_many does on Ctrl-C), and reader.close() at
the end of a run (the real reader closes its cache). The API key comes from
TRM_DEMO_LLM_API_KEY, else OPENAI_API_KEY, and is only ever put in the Authorization header.
"""

from .cache import CacheError, ReadingCache, request_key
from .client import OpenAICompatibleReader, Reader, ReaderError, api_key_from_env
from .pricing import Prices
from .request import ReadRequest, Reading
from .stats import ReaderStats

__all__ = ["CacheError", "OpenAICompatibleReader", "Prices", "ReadRequest", "Reader", "ReaderError", "Reading", "ReaderStats",
           "ReadingCache", "api_key_from_env", "request_key"]
