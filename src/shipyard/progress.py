"""How long work tells its caller what it is doing: a step, and bytes moved in it.

Domain code (the catalog's add and pull) reports through this protocol and never prints;
the CLI decides how it looks (a bar on a terminal, one line per step in a log).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def step(self, text: str, total: int | None = None) -> None:
        """A new step; ``total`` bytes when it moves data."""

    def advance(self, n: int) -> None:
        """``n`` more bytes of the current step are done."""


class Silent:
    """Progress nobody watches."""

    def step(self, text: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


SILENT = Silent()
