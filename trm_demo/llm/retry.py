"""When to retry a failed call, and how long to wait first.

Exponential backoff with full jitter (a uniform wait in [0, min(cap, base * 2^attempt)]) spreads
the retries of concurrent readers instead of having them hit a recovering server in lock step.
A server's Retry-After (seconds, or an HTTP date) overrides it: the server knows best.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

_SECONDS = re.compile(r"\d{1,9}(?:\.\d+)?")


def retryable(status: int | None) -> bool:
    """429 and 5xx are worth another try; other statuses would fail the same way. None (a timeout
    or a dropped connection) is retried too."""
    return status is None or status == 429 or 500 <= status <= 599


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Full-jitter wait before retry number `attempt` (0 for the first retry)."""
    return rng.uniform(0.0, min(cap_s, base_s * 2.0 ** attempt))


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header ("120" or "Wed, 21 Oct 2026 07:28:00 GMT");
    None when absent or unreadable, 0 for a date in the past. Decimal seconds ("0.5"), which
    the standard does not define but some gateways send, are read too."""
    if not value:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:          # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
