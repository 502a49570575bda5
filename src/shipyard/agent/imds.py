"""An IMDSv2 client: a session token, retries with backoff under one deadline.

Never falls back to IMDSv1: without a token nothing is read. On 401 the token is
renewed once; 403 means the metadata service is disabled for this instance, so the
agent stops and says so.
"""

from __future__ import annotations

import time

from .imds_http import Connection

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"


class ImdsError(Exception):
    """The metadata service could not be read; the message says why."""


class ImdsForbidden(ImdsError):
    """The metadata service answered 403: it is disabled for this instance."""


class ImdsClient:
    def __init__(
        self,
        host: str = "169.254.169.254",
        port: int = 80,
        *,
        deadline: float = 60.0,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        ttl: int = 21600,
    ) -> None:
        self.host, self.port = host, port
        # How long one request may keep retrying. Per request, not since the client was
        # made: a bootstrap step or user-data script may run for minutes between calls.
        self.patience = deadline
        self.deadline = time.monotonic() + deadline
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.ttl = ttl
        self._token: str | None = None
        self._conn: Connection | None = None
        self.retries = 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def token(self) -> str:
        if self._token is None:
            status, body = self._request("PUT", TOKEN_PATH, {TTL_HEADER: str(self.ttl)})
            if status != 200:
                raise ImdsError(f"the metadata service refused a session token (HTTP {status})")
            token = body.decode("ascii", errors="replace").strip()
            if not token or not token.isprintable() or " " in token or "\ufffd" in token:
                raise ImdsError("the metadata service gave a session token that cannot be sent")
            self._token = token
        return self._token

    def get(self, path: str) -> bytes | None:
        """The body at ``path`` (e.g. ``/latest/meta-data/instance-id``); None on 404."""
        renewed = False
        while True:
            status, body = self._request("GET", path, {TOKEN_HEADER: self.token()})
            if status == 200:
                return body
            if status == 404:
                return None
            if status == 401 and not renewed:
                # The token expired (or the service restarted): take a new one, once.
                self._token = None
                renewed = True
                continue
            raise ImdsError(f"the metadata service answered HTTP {status} for {path}")

    def text(self, path: str) -> str | None:
        body = self.get(path)
        return None if body is None else body.decode(errors="replace").strip()

    def _request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """One answer that is not a transient failure, retrying until the deadline."""
        self.deadline = time.monotonic() + self.patience
        delay = 0.05
        last = "no answer"
        while True:
            # A service that answers busy is given up to a second between tries; one
            # that cannot be reached (a link still coming up) is tried four times a
            # second, which costs nothing and finds it soon after it appears.
            cap = 1.0
            try:
                status, body = self._once(method, path, headers)
                if status == 403:
                    raise ImdsForbidden(
                        "the metadata service is disabled for this instance (HTTP 403)"
                    )
                if status < 500 and status != 429:
                    return status, body
                last = f"HTTP {status}"
            except OSError as exc:
                self.close()
                last = type(exc).__name__ if not str(exc) else str(exc)
                cap = 0.25
            left = self.deadline - time.monotonic()
            if left > 0:
                self.retries += 1
                time.sleep(min(delay, cap, left))
                delay = min(delay * 2, 1.0)
            if self.deadline - time.monotonic() <= 0:
                raise ImdsError(f"the metadata service did not answer in time ({last})")

    def _once(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        if self._conn is None:
            self._conn = Connection(self.host, self.port, min(self.connect_timeout, left))
        status, body = self._conn.request(method, path, headers, min(self.read_timeout, left))
        if not self._conn.reusable:
            self.close()
        return status, body
