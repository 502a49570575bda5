"""One retry budget shared by every upload worker, with backoff and a shared pause.

Throttling is a property of the account, not of one request: when any worker is told
to slow down, all of them wait, and the whole upload spends from one budget so a
broken endpoint fails the upload instead of retrying forever.
"""

from __future__ import annotations

import random
import threading
import time

from shipyard.errors import AWSError

THROTTLE_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def classify(exc: BaseException) -> str | None:
    """ "throttle", "transient" or None."""
    import botocore.exceptions
    import botocore.parsers

    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLE_CODES or status == 429:
            return "throttle"
        if code in TRANSIENT_CODES or status >= 500:
            return "transient"
        return None
    if isinstance(
        exc,
        botocore.exceptions.HTTPClientError
        | botocore.exceptions.ConnectionError
        | botocore.parsers.ResponseParserError
        | botocore.exceptions.IncompleteReadError,
    ):
        return "transient"
    return None


class RetryBudget:
    """``retries`` retries in all, exponential backoff with full jitter, shared pauses."""

    def __init__(self, retries: int, *, base: float = 0.2, cap: float = 10.0) -> None:
        self.limit = retries
        self.base = base
        self.cap = cap
        self.used = 0
        self.throttled = 0
        self._resume_at = 0.0
        self._lock = threading.Lock()

    def spend(self, attempt: int, kind: str, what: str, exc: BaseException) -> float:
        """Take one retry and return how long to wait; AWSError once the budget is gone."""
        with self._lock:
            if self.used >= self.limit:
                from shipyard.aws.session import as_aws_error

                error = as_aws_error(what, exc) if isinstance(exc, Exception) else None
                detail = f": {error.message}" if error else ""
                raise AWSError(
                    f"giving up after {self.used} retries in all{detail}",
                    hint="the endpoint keeps failing or throttling; try again later",
                ) from exc
            self.used += 1
            delay = random.uniform(0, min(self.cap, self.base * 2**attempt))
            if kind == "throttle":
                self.throttled += 1
                # Everyone waits: a throttled account needs fewer requests, not more.
                self._resume_at = max(self._resume_at, time.monotonic() + delay)
            return delay

    def pause(self) -> None:
        """Wait until a shared throttling pause (if any) is over."""
        with self._lock:
            wait = self._resume_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
