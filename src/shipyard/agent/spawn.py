"""Child processes through posix_spawn, with timeouts through a pidfd.

Not subprocess: importing it (selectors, threading, contextlib and more) cost a tenth of
a second of every first boot under emulation, on the way to the ready report.
"""

from __future__ import annotations

import os

# Scripts and steps run from /, as they would from a unit; posix_spawn cannot change
# the directory itself, so a shell does, then becomes the program.
FROM_ROOT = ["/bin/sh", "-c", 'cd / && exec "$0" "$@"']


class Child:
    """A child with no input, its output to ``output`` (nowhere when None)."""

    def __init__(self, argv: list[str], output: int | None = None) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            out = devnull if output is None else output
            actions = [
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ]
            self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
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

    def stop(self, how: str = "SIGTERM") -> None:
        """Signal it if it still runs, and reap it: nothing is left behind."""
        if self.code is None:
            import signal  # only a run cut short pays for it

            # Not reaped yet, so the pid is still this child's, even if it has ended.
            os.kill(self.pid, getattr(signal, how))
            self.wait()

    def _ends_within(self, timeout: float) -> bool:
        import select  # a built-in module: nothing to load

        fd = os.pidfd_open(self.pid)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(max(0, int(timeout * 1000))))
        finally:
            os.close(fd)


def run_from_root(argv: list[str], output: int, timeout: float) -> int | None:
    """Run ``argv`` from / with its output to the ``output`` descriptor; its exit code,
    or None when it ran past ``timeout`` seconds and was killed. OSError when it cannot
    start."""
    child = Child([*FROM_ROOT, *argv], output)
    code = child.wait(timeout)
    if code is None:
        child.stop("SIGKILL")
    return code
