"""Sliding-window limits kept in memory: joins per token and per source address."""

from __future__ import annotations

import math
import time
from collections import deque

from shipyard.frontend.core.config import RateLimit
from shipyard.frontend.core.problems import Problem

# Forget keys idle this long, so a scan of many addresses cannot grow the table forever.
MAX_KEYS = 100_000


class TooManyRequests(Problem):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Limiter:
    def __init__(self, limit: RateLimit, what: str) -> None:
        self.limit, self.what = limit, what
        self._seen: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one request for ``key``; raise TooManyRequests past the limit."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= MAX_KEYS:
                self._forget(now)
            seen = self._seen[key] = deque()
        while seen and seen[0] <= now - self.limit.window:
            seen.popleft()
        if len(seen) >= self.limit.count:
            retry = max(1, math.ceil(seen[0] + self.limit.window - now))
            raise TooManyRequests(
                f"too many joins {self.what}; retry in {retry} s", retry_after=retry
            )
        seen.append(now)

    def _forget(self, now: float) -> None:
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.limit.window]:
            del self._seen[key]
