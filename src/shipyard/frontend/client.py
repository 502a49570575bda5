"""An HTTP client for the frontend's admin API; the transport is injectable for tests."""

from __future__ import annotations

import os
import re
import ssl
from typing import Any

import httpx

from shipyard.errors import FrontendError
from shipyard.frontend.core.config import CA_ENV
from shipyard.validation_text import first_problem

# C0 and C1 control characters but tab and newline, and DEL: what a terminal would obey.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: Any) -> Any:
    """``value`` with terminal control characters removed from every string in it.

    Whatever the server sends (a host's message, a name, an error) reaches a terminal;
    an escape sequence in it must not move the cursor, retitle or rewrite the screen.
    """
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    return value


def _verify() -> ssl.SSLContext | bool:
    """Trust the certificate in $SHIPYARD_FRONTEND_CA (a self-signed frontend), else the CAs."""
    ca = os.environ.get(CA_ENV)
    if not ca:
        return True
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise FrontendError(f"cannot read the frontend certificate in ${CA_ENV} ({ca})") from exc
    return context


class FrontendClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            verify=_verify(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FrontendClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        """Call the API; a refusal or an unreachable frontend becomes a FrontendError."""
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise FrontendError(f"cannot reach the frontend at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            detail = printable(_detail(response))
            raise FrontendError(f"the frontend refused {method} {path}: {detail}")
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return printable(response.json())
        return printable(response.text)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(detail, list):
        # Validation errors: the first field (without "body"/"path") and what is wrong with it.
        return first_problem([d for d in detail if isinstance(d, dict)], skip=1)
    return str(detail)
