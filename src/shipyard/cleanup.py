"""Undo registration for everything Shipyard creates outside the process.

A :class:`Cleanup` is an ExitStack with names: whoever creates a temp dir, an overlay,
an AWS snapshot or an AMI registers its undo the moment the thing exists. On success
the caller may ``keep`` what should survive; on failure or interruption every undo runs
in reverse order, and an undo that fails is logged, never masks the original error.

Threads that create things wrap the call and the registration of its undo in
:meth:`Cleanup.creating`: cleanup waits for those to end before it starts, and once it
has started nothing new is created. Without that, a copy requested by one thread while
another failed came back after cleanup had run, and its AMI was never deleted.

Cleanup runs to the end whatever signals arrive: a second Ctrl-C (or SIGTERM, SIGHUP)
while it runs is noted on stderr and otherwise ignored, since stopping half-way
leaves exactly the orphans cleanup is there to remove.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
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
    _settled: threading.Condition = field(init=False)
    _creating: int = 0
    _closed: bool = False

    def __post_init__(self) -> None:
        self._settled = threading.Condition(self._lock)

    def register(self, name: str, action: Callable[[], Any], *, always: bool = False) -> str:
        """Register ``action`` to run on failure (or always, e.g. temp dirs); returns its name."""
        with self._lock:
            self._undos.append(_Undo(name, action, always))
        return name

    @contextmanager
    def creating(self, what: str) -> Iterator[None]:
        """Around making ``what`` and registering its undo: cleanup waits for the block.

        Once cleanup has begun, the block does not start: :class:`Interrupted` instead.
        """
        with self._lock:
            if self._closed:
                raise Interrupted(f"not starting {what}: cleanup has begun")
            self._creating += 1
        try:
            yield
        finally:
            with self._lock:
                self._creating -= 1
                self._settled.notify_all()

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
        with _signals_deferred():
            self._run(failed=failed)

    def _run(self, *, failed: bool) -> None:
        with self._lock:
            self._closed = True
            if self._creating:
                log.info("cleanup waits for %d creation(s) in flight", self._creating)
            while self._creating:
                self._settled.wait()
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


_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """While the block runs, signals that would stop us are reported and ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals in Python
        return

    def note(signum: int, frame: FrameType | None) -> None:
        # os.write, not logging or print: those are not safe to re-enter from a handler.
        name = signal.Signals(signum).name
        os.write(2, f"shipyard: {name} during cleanup: cleanup will finish first\n".encode())

    previous = {s: signal.signal(s, note) for s in _STOPPING}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


@contextmanager
def cleanup_scope(*, keep_on_failure: bool = False) -> Iterator[Cleanup]:
    """A Cleanup whose undos run when the block fails (or always-undos when it ends).

    With ``keep_on_failure`` a failed block's undos are not run but logged, so that what
    was made can be looked at; it is then the user's to remove.
    """
    stack = Cleanup()
    try:
        yield stack
    except BaseException:
        if not keep_on_failure:
            stack.run(failed=True)
        elif kept := stack.pending():
            log.warning("keeping after failure: %s", ", ".join(kept))
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


def wait_for_signal() -> None:
    """Block until a signal handler raises: Ctrl-C, or SIGTERM under signals_as_interrupts.

    Sleeps in short slices: a signal delivered to another thread does not wake a main
    thread blocked on a lock, so ``threading.Event().wait()`` could ignore it for good.
    """
    while True:
        time.sleep(0.5)
