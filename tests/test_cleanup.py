"""Cleanup runs every undo, whatever signals arrive while it runs."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import textwrap

import pytest

# A program whose work is interrupted (Ctrl-C) and whose first undo step waits for a
# line on stdin, so the test can send more signals while cleanup is under way.
PROGRAM = textwrap.dedent(
    """
    import sys
    from shipyard.cleanup import cleanup_scope

    def undo(n):
        print(f"undo {n} started", flush=True)
        if n == 2:
            sys.stdin.readline()
        print(f"undo {n} done", flush=True)

    try:
        with cleanup_scope() as cleanup:
            for n in range(3):
                cleanup.register(f"step {n}", lambda n=n: undo(n))
            print("working", flush=True)
            sys.stdin.readline()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    """
)


def test_a_second_ctrl_c_during_cleanup_skips_no_undo() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", PROGRAM],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "working\n"
        child.send_signal(signal.SIGINT)
        assert child.stdout.readline() == "undo 2 started\n"
        for again in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
            child.send_signal(again)
        out, err = child.communicate("go on\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = out.splitlines()
    assert lines == ["undo 2 done", "undo 1 started", "undo 1 done", "undo 0 started",
                     "undo 0 done", "interrupted"]  # fmt: skip
    assert child.returncode == 130
    assert "Traceback" not in err
    assert "cleanup will finish first" in err


# A main thread waiting while another thread is alive. The test sends SIGTERM to the
# other thread only, as the kernel may do with a signal sent to the process.
WAITER = textwrap.dedent(
    """
    import subprocess, sys, threading
    from shipyard import proc
    from shipyard.cleanup import signals_as_interrupts, wait_for_signal
    from shipyard.errors import Interrupted

    threading.Thread(target=threading.Event().wait, daemon=True).start()
    child = subprocess.Popen(["sleep", "600"])
    try:
        with signals_as_interrupts():
            print("waiting", flush=True)
            if sys.argv[1] == "signal":
                wait_for_signal()
            else:
                proc.wait(child)
    except Interrupted as exc:
        print(exc, flush=True)
    finally:
        child.kill()
        child.wait()
    """
)


def _signal_other_thread(pid: int, signum: int) -> None:
    main = str(pid)
    others = [int(t) for t in os.listdir(f"/proc/{pid}/task") if t != main]
    assert others, "the program should have started a thread"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.tgkill(pid, others[0], signum) == 0, os.strerror(ctypes.get_errno())


@pytest.mark.parametrize("how", ["signal", "process"])
def test_a_waiting_main_thread_stops_on_sigterm_sent_to_another_thread(how: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", WAITER, how], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == "waiting\n"
        _signal_other_thread(child.pid, signal.SIGTERM)
        out, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out == "stopped by signal SIGTERM\n"
