"""Per-client rate limit of token requests over a sliding window.

Qlik Cloud allows 100 token requests a minute; past that it responds with 429 and
``Retry-After``. The local tenant counts every token request that names a
registered client, accepted or not, except those rejected with 429. The
counts live in memory, so a restart starts every client afresh.
"""

from __future__ import annotations

import collections
import math
import threading

from .settings import Settings


class RateLimiter:
    """Sliding-window counter of requests per client, read live from `Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._times: dict[str, collections.deque[float]] = {}

    def acquire(self, client_id: str, now: float) -> int | None:
        """Count a request at ``now``; return None, or seconds to wait when over."""
        window, limit = self.settings.rate_window, self.settings.rate_limit
        with self._lock:
            times = self._times.setdefault(client_id, collections.deque())
            while times and times[0] <= now - window:
                times.popleft()
            while len(times) > limit:
                times.popleft()
            if len(times) >= limit:
                return max(1, math.ceil(times[0] + window - now))
            times.append(now)
            return None
