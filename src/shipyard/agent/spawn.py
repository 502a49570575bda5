"""Child processes through posix_spawn, with timeouts through a pidfd.

Not subprocess: importing it (selectors, threading, contextlib and more) cost a tenth of
a second of every first boot under emulation, on the way to the ready report.
"""

from __future__ import annotations

import os
import signal
import time

TYPE_CHECKING = False  # typing is not imported at boot: see main.py
if TYPE_CHECKING:
    from pathlib import Path

# Scripts and steps run from /, as they would from a unit; posix_spawn cannot change
# the directory itself, so a shell does, then becomes the program.
FROM_ROOT = ["/bin/sh", "-c", 'cd / && exec "$0" "$@"']
# Python ignores these two for itself; a child must start with the defaults, or
# `yes | head -n1` in a script never ends (subprocess restores them the same way).
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
LONGEST_POLL_MS = 2**31 - 1  # poll's limit; longer waits go round again


class Child:
    """A child with no input, its output to ``output`` (nowhere when None), in a process
    group of its own, so that stopping it stops whatever it started too."""

    def __init__(self, argv: list[str], output: int | None = None) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            out = devnull if output is None else output
            actions = [
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ]
            self.pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=actions,
                setpgroup=0,
                setsigdef=DEFAULT_SIGNALS,
            )
        finally:
            os.close(devnull)
        self.code: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: the signal that ended it), or None when the child
        still runs after ``timeout`` seconds. Reaps it once, then remembers. Whatever
        interrupts the wait (Ctrl-C, SIGTERM), the child does not outlive it."""
        try:
            if self.code is None and timeout is not None and not self._ends_within(timeout):
                return None
            if self.code is None:
                self.code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        except BaseException:
            # Killed before anything else: a second interrupt can only cost the reaping.
            self.stop(signal.SIGKILL)
            raise
        return self.code

    def stop(self, how: int = signal.SIGTERM) -> None:
        """Signal its process group if it still runs, and reap it: nothing is left behind."""
        if self.code is None:
            # Not reaped yet, so the group still exists, even if the child has ended.
            os.killpg(self.pid, how)
            self.code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def _ends_within(self, timeout: float) -> bool:
        import select  # a built-in module: nothing to load

        deadline = time.monotonic() + timeout
        try:
            fd = os.pidfd_open(self.pid)
        except OSError:  # no pidfds here (an old kernel, a sandbox): look every 50 ms
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.code = os.waitstatus_to_exitcode(status)
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if poller.poll(min(LONGEST_POLL_MS, max(1, int(left * 1000)))):
                    return True
        finally:
            os.close(fd)


def run_logged(argv: list[str], log: Path, timeout: float, what: str) -> int | None:
    """Run ``argv`` from / with its output appended to ``log`` (root's eyes only); its
    exit code, or None when it ran past ``timeout`` seconds and was killed. Both that and
    a program that cannot start (OSError, raised) are said in the log, naming ``what``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        try:
            child = Child([*FROM_ROOT, *argv], fd)
        except OSError as exc:
            os.write(fd, f"cannot run {what}: {exc}\n".encode())
            raise
        code = child.wait(timeout)
        if code is None:
            child.stop(signal.SIGKILL)
            os.write(fd, f"{what} ran past {timeout:g} s and was killed\n".encode())
        return code
    finally:
        os.close(fd)
