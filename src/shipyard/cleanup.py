"""Undo registration for everything Shipyard creates outside the process.

A :class:`Cleanup` is an ExitStack with names: whoever creates a temp dir, an overlay,
an AWS snapshot or an AMI registers its undo the moment the thing exists. On success
the caller may ``keep`` what should survive; on failure or interruption every undo runs
in reverse order, and an undo that fails is logged, never masks the original error.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from shipyard.errors import Interrupted

log = logging.getLogger("shipyard.cleanup")


@dataclass
class _Undo:
    name: str
    action: Callable[[], Any]
    always: bool


@dataclass
class Cleanup:
    """A stack of named undo actions."""

    _undos: list[_Undo] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str, action: Callable[[], Any], *, always: bool = False) -> str:
        """Register ``action`` to run on failure (or always, e.g. temp dirs); returns its name."""
        with self._lock:
            self._undos.append(_Undo(name, action, always))
        return name

    def keep(self, name: str) -> None:
        """Forget the undo called ``name``: what it would remove is meant to stay."""
        with self._lock:
            self._undos = [u for u in self._undos if u.name != name]

    def tempdir(self, prefix: str = "shipyard-", parent: Path | None = None) -> Path:
        """A temporary directory that is removed however the work ends."""
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.register(
            f"tempdir {path}", lambda: shutil.rmtree(path, ignore_errors=True), always=True
        )
        return path

    def run(self, *, failed: bool) -> None:
        """Run the undos in reverse order: all on failure, only the ``always`` ones otherwise."""
        with self._lock:
            undos, self._undos = self._undos, []
        for undo in reversed(undos):
            if not failed and not undo.always:
                continue
            try:
                log.debug("cleanup: %s", undo.name)
                undo.action()
            except Exception as exc:  # an undo must never hide the error being unwound
                log.warning("cleanup of %s failed: %s", undo.name, exc)

    def pending(self) -> list[str]:
        with self._lock:
            return [u.name for u in self._undos]


@contextmanager
def cleanup_scope() -> Iterator[Cleanup]:
    """A Cleanup whose undos run when the block fails (or always-undos when it ends)."""
    stack = Cleanup()
    try:
        yield stack
    except BaseException:
        stack.run(failed=True)
        raise
    stack.run(failed=False)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` so cleanup runs as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"stopped by signal {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
