"""Read a VM's serial console log as it grows: wait for lines, collect agent reports."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.errors import VMError

AGENT_PREFIX = "shipyard-agent: "
FINAL_STEPS = ("ready", "failed")
KERNEL_PANIC = re.compile(r"Kernel panic - not syncing: ([^\n]*)")
AGENT_FINAL = re.compile(r'shipyard-agent: \{[^\n]*"step": ?"(ready|failed)"')
CLOUD_INIT_FINISHED = re.compile(
    r"Cloud-init v\. \S+ finished at [^\n]*Datasource (\S+?)\.? [^\n]*Up ([0-9.]+) seconds"
)


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def wait_for(
    path: Path,
    pattern: str | re.Pattern[str],
    timeout: float,
    *,
    trouble: Callable[[], str | None] = lambda: None,
    interval: float = 0.1,
) -> re.Match[str]:
    """The first match of ``pattern`` in the log.

    VMError on timeout, or at once when ``trouble()`` says why the VM will make no more
    progress (qemu exited, the guest stopped).
    """
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    while True:
        text = read_text(path)
        match = regex.search(text)
        if match:
            return match
        panic = KERNEL_PANIC.search(text)
        if panic:
            raise VMError(f"the guest's kernel panicked: {panic[1].strip()}", hint=f"see {path}")
        why = trouble()
        if why is not None:
            match = regex.search(read_text(path))
            if match:
                return match
            raise VMError(
                f"the VM stopped before its console showed {regex.pattern!r}: {why}",
                hint=f"see the console log {path}",
            )
        if time.monotonic() > deadline:
            raise VMError(
                f"the VM's console did not show {regex.pattern!r} within {timeout:g} s",
                hint=f"see the console log {path}",
            )
        time.sleep(interval)


def agent_reports(text: str) -> list[dict[str, Any]]:
    """Every ``shipyard-agent: {...}`` report in ``text``, in order."""
    decoder = json.JSONDecoder()
    reports: list[dict[str, Any]] = []
    start = 0
    while (index := text.find(AGENT_PREFIX, start)) >= 0:
        start = index + len(AGENT_PREFIX)
        try:
            doc, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(doc, dict) and "step" in doc:
            reports.append(doc)
    return reports


def final_report(text: str) -> dict[str, Any] | None:
    """The agent's closing report (ready or failed), if it has printed one."""
    for report in reversed(agent_reports(text)):
        if report.get("step") in FINAL_STEPS:
            found: dict[str, Any] = report
            return found
    return None
