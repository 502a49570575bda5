"""The agent's children: started without subprocess, never outliving what waits for them."""

from __future__ import annotations

import os
import signal
import time
from types import FrameType

import pytest

from shipyard.agent.spawn import Child


class Interrupted(Exception):
    pass


def test_an_interrupted_wait_kills_and_reaps_the_child() -> None:
    # As a Ctrl-C or the unit's stop would, while the agent waits for the links.
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    child = Child(["/bin/sh", "-c", "sleep 60 & sleep 60"])
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(Interrupted):
            child.wait()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert child.code == -signal.SIGKILL
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped: no zombie
    deadline = time.monotonic() + 10  # the backgrounded sleep went with its group
    while time.monotonic() < deadline:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the child's process group outlived the wait")
