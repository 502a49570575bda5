"""Waiting for the booting system: every link up, and basic.target reached.

The agent's unit starts early in the boot, before basic.target, so that Python's start
(over a second under emulation) overlaps udev and systemd-networkd instead of following
them. What the agent then needs from the system, it waits for itself, in two places: the
links before its first metadata request, basic.target before bootstrap steps and user
data, which may need sockets and D-Bus as any service would.

Both waits run a program (agent.spawn: no subprocess at boot).
"""

from __future__ import annotations

import os

from .spawn import Child

TYPE_CHECKING = False  # typing is not imported at boot: see main.py
if TYPE_CHECKING:
    from .report import Reporter

WAIT_ONLINE = "/lib/systemd/systemd-networkd-wait-online"
WAIT_ONLINE_SECONDS = 30
SYSTEMCTL = "/bin/systemctl"
BASIC = "basic.target"
# A target ordered after basic.target that pulls nothing in (see start_waiting_for_basic).
AFTER_BASIC = "shipyard-agent-basic.target"
AFTER_BASIC_TEXT = f"""[Unit]
Description=Shipyard agent: the basic system is up
DefaultDependencies=no
After={BASIC}
"""


def wait_for_links(program: str, report: Reporter) -> None:
    """Wait until every link systemd-networkd configures is up, for at most 30 s.

    The first metadata request must go out on the link the metadata service is on. In
    the local VM, a guest whose NAT link came up before its metadata link would send it
    through the NAT link, to whatever answers at 169.254.169.254 on the host (on a cloud
    host, the host's own metadata service).
    """
    if not os.path.exists(program):
        return  # not networkd's: the metadata client's retries are all there is
    try:
        # The program's own --timeout bounds the wait.
        code = Child([program, f"--timeout={WAIT_ONLINE_SECONDS}"]).wait()
    except OSError as exc:
        report("network", True, warning=f"could not wait for the links: {exc}")
        return
    if code != 0:
        # Not a failure of the agent's: the metadata service may be on a link that is up.
        report("network", True, warning=f"not every link came up within {WAIT_ONLINE_SECONDS} s")


def start_waiting_for_basic(systemctl: str, report: Reporter) -> Child | None:
    """Ask systemd to start AFTER_BASIC and return without waiting: ``systemctl start``
    returns once it is reached. Started first, so that its own start overlaps the agent's
    metadata requests.

    AFTER_BASIC (the image's unit) is only ordered after basic.target and wants nothing:
    starting basic.target itself would also start again whatever it wants that is not
    running (a oneshot, a timer stopped on purpose) when the agent is run by hand.
    ``--job-mode=fail`` never turns back a shutdown under way."""
    if not os.path.exists(systemctl):
        return None  # not a systemd system: nothing to wait for
    try:
        return Child([systemctl, "start", "--job-mode=fail", AFTER_BASIC])
    except OSError as exc:
        report("system", True, warning=f"could not wait for {BASIC}: {exc}")
        return None


def wait_for_basic(waiting: Child | None, report: Reporter) -> None:
    code = waiting.wait() if waiting is not None else 0
    if code != 0:
        # Steps and user data still run, as they would after a unit that failed.
        report(
            "system",
            True,
            warning=f"{BASIC} was not reached (systemctl exit code {code}); going on without it",
        )
