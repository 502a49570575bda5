"""Progress reports: one JSON line per step on the serial console, ``shipyard-agent: {...}``.

The same lines go to standard output (the journal). Reports carry step names, outcomes,
counts and times; never user data or keys.
"""

from __future__ import annotations

import json
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at boot: see main.py
if TYPE_CHECKING:
    from typing import Any, TextIO

PREFIX = "shipyard-agent: "


class Reporter:
    """Callable ``report(step, ok, **fields)``; ``seconds`` is the time since the last report."""

    def __init__(self, console: str | None = "/dev/console", stream: TextIO | None = None) -> None:
        self.console = console
        self.stream = stream if stream is not None else sys.stdout
        self.started = time.monotonic()
        self._last = self.started
        self.failures: list[str] = []

    def __call__(self, step: str, ok: bool, **fields: Any) -> None:
        now = time.monotonic()
        doc: dict[str, Any] = {"step": step, "ok": ok, "seconds": round(now - self._last, 3)}
        doc.update(fields)
        self._last = now
        if not ok:
            self.failures.append(step)
        self.write(PREFIX + json.dumps(doc, separators=(",", ":"), default=str))

    def finish(self, **fields: Any) -> bool:
        """The closing ``ready`` (or ``failed``) report; True when every step went well."""
        ok = not self.failures
        total = round(time.monotonic() - self.started, 3)
        if ok:
            self("ready", True, total=total, **fields)
        else:
            self("failed", False, total=total, failed_steps=list(self.failures), **fields)
            self.failures.pop()  # the closing report itself is not a step
        return ok

    def write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
        if self.console:
            try:
                # One write per line so reports never interleave with other console output.
                fd = os.open(
                    self.console, os.O_WRONLY | os.O_NOCTTY | os.O_APPEND | os.O_CREAT, 0o600
                )
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
            except OSError:
                pass
