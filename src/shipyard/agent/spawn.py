"""Child processes through posix_spawn, with timeouts through a pidfd.

Not subprocess: importing it (selectors, threading, contextlib and more) cost a tenth of
a second of every first boot under emulation, on the way to the ready report.
"""

from __future__ import annotations

import os
import signal
import time

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
        still runs after ``timeout`` seconds. Reaps it once, then remembers."""
        if self.code is None and timeout is not None and not self._ends_within(timeout):
            return None
        if self.code is None:
            self.code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.code

    def stop(self, how: int = signal.SIGTERM) -> None:
        """Signal its process group if it still runs, and reap it: nothing is left behind."""
        if self.code is None:
            # Not reaped yet, so the group still exists, even if the child has ended.
            os.killpg(self.pid, how)
            self.wait()

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


def run_from_root(argv: list[str], output: int, timeout: float) -> int | None:
    """Run ``argv`` from / with its output to the ``output`` descriptor; its exit code,
    or None when it ran past ``timeout`` seconds and was killed. OSError when it cannot
    start. Whatever interrupts the wait, the child does not outlive it."""
    child = Child([*FROM_ROOT, *argv], output)
    try:
        code = child.wait(timeout)
    except BaseException:
        child.stop(signal.SIGKILL)
        raise
    if code is None:
        child.stop(signal.SIGKILL)
    return code
