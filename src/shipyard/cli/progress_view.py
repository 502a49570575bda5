"""The CLI's view of :mod:`shipyard.progress`: a bar on a terminal, a line per step in logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shipyard.cli.output import stderr_console
from shipyard.manifest.sizes import format_size


class _Lines:
    """Piped stderr: one line per step, so a log shows where the time went."""

    def step(self, text: str, total: int | None = None) -> None:
        size = f" ({format_size(total)})" if total else ""
        stderr_console().print(f"shipyard: {text}{size}", markup=False, highlight=False)

    def advance(self, n: int) -> None:
        pass


class _Bar:
    """A terminal: the current step with a bar, bytes and speed while data moves."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def step(self, text: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(text, total=total)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


@contextmanager
def shown_progress(*, quiet: bool = False) -> Iterator[Any]:
    """Progress for one command; ``quiet`` (e.g. --json) keeps only the bar, never lines."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TransferSpeedColumn,
    )

    from shipyard.progress import SILENT

    console = stderr_console()
    if not console.is_terminal:
        yield SILENT if quiet else _Lines()
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress)
