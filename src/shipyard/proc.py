"""The one place Shipyard runs external programs.

Every command is logged as a line you can paste into a shell; a failure raises
:class:`~shipyard.errors.ToolError` (or the error class the caller names) with the
command and the tail of what it printed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

from shipyard.errors import ShipyardError, ToolError

log = logging.getLogger("shipyard.proc")

OUTPUT_TAIL_LINES = 25


def command_line(argv: Sequence[str | os.PathLike[str]]) -> str:
    """The command as one shell-quoted line."""
    return shlex.join(str(a) for a in argv)


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    capture: bool = True,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    error: type[ShipyardError] | None = None,
    what: str | None = None,
    log_file: Path | None = None,
    inherit_env: bool = True,
    die_with_parent: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return its completed process (stdout/stderr as text).

    ``error`` is the ShipyardError subclass raised on failure (ToolError by default);
    ``what`` names the action for the message ("format the root filesystem").
    With ``capture=False`` output goes to ``log_file`` (or is inherited) instead.
    ``env`` is added to this process's environment, or replaces it with ``inherit_env=False``.
    With ``die_with_parent`` (the default) the child is killed if Shipyard dies, even by
    SIGKILL, so nothing it holds (mount namespaces, locks) outlives the build.
    """
    args = [str(a) for a in argv]
    line = command_line(args)
    log.debug("$ %s", line)
    full_env = None
    if env is not None:
        full_env = dict(os.environ) if inherit_env else {}
        full_env.update(env)
    data = input.encode() if isinstance(input, str) else input
    try:
        if capture:
            result = subprocess.run(
                args,
                input=data,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if log_file else subprocess.PIPE,
                env=full_env,
                cwd=cwd,
                timeout=timeout,
                check=False,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
            stdout = result.stdout.decode(errors="replace")
            stderr = (result.stderr or b"").decode(errors="replace")
            if log_file is not None:
                with open(log_file, "a", encoding="utf-8") as fh:
                    fh.write(f"$ {line}\n{stdout}")
        else:
            with open(log_file, "ab") if log_file else nullcontext() as fh:
                result = subprocess.run(
                    args,
                    input=data,
                    stdout=fh,
                    stderr=subprocess.STDOUT if fh else None,
                    env=full_env,
                    cwd=cwd,
                    timeout=timeout,
                    check=False,
                    preexec_fn=_die_with_parent if die_with_parent else None,
                )
            stdout, stderr = "", ""
    except FileNotFoundError as exc:
        message = f"cannot run {args[0]!r}: it is not installed or not on PATH"
        if error:
            raise error(message) from exc
        raise ToolError(message, argv=args, returncode=127, output_tail="") from exc
    except subprocess.TimeoutExpired as exc:
        message = f"{what or args[0]} did not finish within {timeout:g} s: {line}"
        if error:
            raise error(message) from exc
        raise ToolError(message, argv=args, returncode=-1, output_tail="") from exc
    completed = subprocess.CompletedProcess(args, result.returncode, stdout, stderr)
    if check and result.returncode != 0:
        output = stderr.strip() or stdout.strip()
        if not output and log_file is not None and log_file.exists():
            output = log_file.read_text(errors="replace")
        tail_text = tail(output)
        last = tail_text.splitlines()[-1] if tail_text else "no output"
        message = (
            f"{what or 'command'} failed (exit {result.returncode}): {last}"
            if what
            else f"{args[0]} failed (exit {result.returncode}): {last}"
        )
        log.error("command failed: %s\n%s", line, tail_text)
        if error:
            exc_obj = error(message)
            exc_obj.__dict__.update(argv=args, returncode=result.returncode, output_tail=tail_text)
            raise exc_obj
        raise ToolError(message, argv=args, returncode=result.returncode, output_tail=tail_text)
    return completed


_PR_SET_PDEATHSIG = 1
# Loaded in the parent: a child between fork and exec must not import or allocate.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGKILL when the parent dies."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def which(name: str) -> str | None:
    """Path of an executable, also looking in sbin directories that a user's PATH may lack."""
    import shutil

    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(d) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def start(
    argv: Sequence[str | os.PathLike[str]],
    *,
    output: Path,
    error: type[ShipyardError],
    what: str,
    new_session: bool = False,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a long-running program (a VM, a server) in the background.

    Its stdout and stderr go to ``output``. With ``new_session`` a Ctrl-C in the
    terminal reaches only Shipyard, which then stops the program its own way.
    """
    args = [str(a) for a in argv]
    log.debug("$ %s &", command_line(args))
    with open(output, "wb") as fh:
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=fh,
                start_new_session=new_session,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        except FileNotFoundError as exc:
            raise error(f"cannot {what}: {args[0]} is not installed or not on PATH") from exc


# Python runs signal handlers only in the main thread, and a signal the kernel hands to
# another thread (an HTTP server's, a console reader's) does not wake a main thread that
# is blocked in waitpid or on a lock. Blocking in short slices lets the handler run.
SIGNAL_POLL_SECONDS = 0.5


def wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for ``process`` to exit, still stopping at once on Ctrl-C or SIGTERM."""
    while True:
        try:
            return process.wait(timeout=SIGNAL_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
