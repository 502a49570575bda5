"""A transfer progress bar (bytes and MB/s) on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Bar:
    """Callbacks for an uploader: ``start(total)`` once, then ``advance(n)``."""

    _progress: Any = None
    _task: Any = None
    done: int = field(default=0)

    def start(self, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("upload", total=total)

    def advance(self, n: int) -> None:
        self.done += n
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)


@contextmanager
def transfer_bar(label: str, *, enabled: bool = True) -> Iterator[Bar]:
    """A rich progress bar for ``label`` when stderr is a terminal, else a silent counter."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from shipyard.console import stderr_console

    console = stderr_console()
    if not enabled or not console.is_terminal:
        yield Bar()
        return
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        yield Bar(progress)
