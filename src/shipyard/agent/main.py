"""The agent's first-boot run: token, instance id, keys, hostname, bootstrap, user data.

Keys come first so login works as early as possible; work that must happen once per
instance (bootstrap steps, user data) is keyed on the instance id, so an image made from
a running instance runs it again when launched as a new one.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import sys
from pathlib import Path

from . import keys as keys_mod
from . import userdata
from .files import write_atomic
from .imds import ImdsClient, ImdsError, ImdsForbidden
from .report import Reporter
from .spawn import run_logged
from .system import SYSTEMCTL, WAIT_ONLINE, start_waiting_for_basic, wait_for_basic, wait_for_links

# typing is left unimported at run time: under emulation each module the agent imports
# delays its first report, and annotations are never evaluated here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .spawn import Child

CONFIG = "/etc/shipyard/agent.json"
STATE = "/var/lib/shipyard-agent"


class AgentEnvironment:
    """Where the agent reads and writes, and where it finds the metadata service.

    A plain class: under emulation, importing dataclasses (and the inspect module behind
    it) cost a noticeable part of a second of every boot."""

    def __init__(
        self,
        *,
        config: Path = Path(CONFIG),
        state_dir: Path = Path(STATE),
        console: str | None = "/dev/console",
        imds_host: str = "169.254.169.254",
        imds_port: int = 80,
        deadline: float = 60.0,
        etc: Path = Path("/etc"),  # where hostname and hosts are written
        set_hostname: bool = True,  # also set the running system's host name
        home: Path | None = None,  # the user's home, when not the one in the passwd database
        script_timeout: float = 3600.0,
        ansible_playbook: str = "/usr/bin/ansible-playbook",
        wait_online: str | None = None,  # a program that returns once the links are up
        systemctl: str | None = None,  # to wait for basic.target before steps and user data
    ) -> None:
        self.config, self.state_dir, self.console = config, state_dir, console
        self.imds_host, self.imds_port, self.deadline = imds_host, imds_port, deadline
        self.etc, self.set_hostname, self.home = etc, set_hostname, home
        self.script_timeout = script_timeout
        self.ansible_playbook = ansible_playbook
        self.wait_online = wait_online
        self.systemctl = systemctl


def load_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def run(settings: AgentEnvironment) -> bool:
    """One agent run; True when it ends ready."""
    report = Reporter(settings.console)
    report("start", True, pid=os.getpid())
    config = load_config(settings.config)
    client = ImdsClient(settings.imds_host, settings.imds_port, deadline=settings.deadline)
    try:
        _run(settings, config, client, report)
    except ImdsForbidden as exc:
        report("imds", False, error=str(exc))
    except ImdsError as exc:
        report("imds", False, error=str(exc), retries=client.retries)
    except Exception as exc:  # the run must still end with a report, whatever broke
        report("agent", False, error=f"{type(exc).__name__}: {exc}")
    finally:
        client.close()
    return report.finish()


def _run(
    settings: AgentEnvironment, config: dict[str, Any], client: ImdsClient, report: Reporter
) -> None:
    # At boot the unit starts before basic.target (see agent.system): keys and the host
    # name need only the links; bootstrap steps and user data wait for the basic system.
    basic = start_waiting_for_basic(settings.systemctl, report) if settings.systemctl else None
    try:
        if settings.wait_online:
            wait_for_links(settings.wait_online, report)
        _first_boot(settings, config, client, report, basic)
    finally:
        if basic is not None:
            basic.stop()


def _first_boot(
    settings: AgentEnvironment,
    config: dict[str, Any],
    client: ImdsClient,
    report: Reporter,
    basic: Child | None,
) -> None:
    client.token()
    instance_id = client.text("/latest/meta-data/instance-id") or ""
    if not instance_id.startswith("i-") or "/" in instance_id:
        report("instance", False, error="the metadata service gave no usable instance id")
        return
    instance_dir = settings.state_dir / "instances" / instance_id
    first = not instance_dir.is_dir()
    instance_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    report("instance", True, instance_id=instance_id, first_boot=first, retries=client.retries)

    install_keys(settings, config, client, report)
    set_hostname(settings, client, report)
    wait_for_basic(basic, report)
    if _once(instance_dir, "bootstrap"):
        run_bootstrap(settings, config, instance_dir, report, client)
    else:
        report("bootstrap", True, skipped="already ran for this instance")
    handle_user_data(settings, client, instance_dir, report)


def install_keys(
    settings: AgentEnvironment, config: dict[str, Any], client: ImdsClient, report: Reporter
) -> None:
    user = config.get("user")
    if not isinstance(user, str):
        report("keys", False, error="the image names no user for the keys")
        return
    listing = client.text("/latest/meta-data/public-keys/") or ""
    found: list[str] = []
    skipped: list[int] = []
    for entry in listing.splitlines():
        index = entry.split("=", 1)[0].strip()
        if not index.isdigit():
            continue
        raw = client.text(f"/latest/meta-data/public-keys/{index}/openssh-key") or ""
        lines = [line for line in raw.splitlines() if line.strip()]
        for line in lines or [""]:
            key = keys_mod.valid_key(line)
            if key is None:
                skipped.append(int(index))
            else:
                found.append(key)
    try:
        entry_pw = pwd.getpwnam(user)
    except KeyError:
        report("keys", False, error=f"user {user} does not exist")
        return
    home = settings.home or Path(entry_pw.pw_dir)
    try:
        keys_mod.install(home, entry_pw.pw_uid, entry_pw.pw_gid, found)
    except OSError as exc:
        report("keys", False, user=user, error=str(exc))
        return
    report("keys", True, user=user, installed=len(found), skipped=skipped)


def set_hostname(settings: AgentEnvironment, client: ImdsClient, report: Reporter) -> None:
    full = client.text("/latest/meta-data/local-hostname")
    if not full:
        report("hostname", True, skipped="no local-hostname in the metadata")
        return
    name = full.split(".", 1)[0].lower()
    if not name or not all(c.isalnum() or c == "-" for c in name) or len(name) > 63:
        report("hostname", False, error="local-hostname is not a usable host name")
        return
    try:
        (settings.etc / "hostname").write_text(name + "\n")
        _hosts_entry(settings.etc / "hosts", name, full)
        if settings.set_hostname:
            socket.sethostname(name)
    except OSError as exc:
        report("hostname", False, error=str(exc))
        return
    report("hostname", True, hostname=name)


def _hosts_entry(path: Path, name: str, full: str) -> None:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        lines = ["127.0.0.1\tlocalhost"]
    lines = [line for line in lines if not line.startswith("127.0.1.1")]
    lines.append(f"127.0.1.1\t{full} {name}" if full != name else f"127.0.1.1\t{name}")
    write_atomic(path, "\n".join(lines) + "\n", 0o644)


def run_bootstrap(
    settings: AgentEnvironment,
    config: dict[str, Any],
    instance_dir: Path,
    report: Reporter,
    client: ImdsClient,
) -> None:
    steps = config.get("bootstrap") or []
    log = instance_dir / "bootstrap.log"
    for index, step in enumerate(steps):
        argv: list[str]
        if "ansible" in step:
            from . import ansible  # only images with playbooks pay for importing it

            variables = ansible.instance_variables(client)
            code, problem = ansible.run_playbook(
                step["ansible"],
                variables,
                instance_dir,
                log,
                settings.script_timeout,
                settings.ansible_playbook,
            )
            if code != 0:
                report("ansible", False, index=index, exit_code=code, error=problem, log=str(log))
                report("bootstrap", False, index=index, exit_code=code, log=str(log))
                return
            report("ansible", True, index=index)
            continue
        if "shell" in step:
            argv = ["/bin/sh", "-c", str(step["shell"])]
        else:
            script = instance_dir / f"bootstrap-{index}"
            script.write_text(str(step.get("content", "")))
            os.chmod(script, 0o700)
            argv = (
                [str(script)] if script.read_bytes().startswith(b"#!") else ["/bin/sh", str(script)]
            )
        try:
            ended = run_logged(argv, log, settings.script_timeout, f"bootstrap step {index}")
        except OSError:
            ended = None
        code = -1 if ended is None else ended
        if code != 0:
            report("bootstrap", False, index=index, exit_code=code, log=str(log))
            return
    report("bootstrap", True, steps=len(steps))


def handle_user_data(
    settings: AgentEnvironment, client: ImdsClient, instance_dir: Path, report: Reporter
) -> None:
    raw = client.get("/latest/user-data")
    if raw is None:
        report("user-data", True, kind="none")
        return
    try:
        data = userdata.unpack(raw)
    except userdata.UserDataError as exc:
        report("user-data", False, error=str(exc))
        return
    what = userdata.kind(data)
    if what == "script":
        if not _once(instance_dir, "user-data"):
            report("user-data", True, kind=what, skipped="already ran for this instance")
            return
        code = userdata.run_script(data, instance_dir, settings.script_timeout)
        report(
            "user-data",
            code == 0,
            kind=what,
            exit_code=code,
            log=str(instance_dir / "user-data.log"),
        )
    elif what == "json":
        try:
            request = userdata.load_json(data)
        except userdata.UserDataError as exc:
            report("user-data", False, kind=what, error=str(exc))
            return
        if isinstance(request, dict) and "master" in request:
            register(client, request, report)
        else:
            # A JSON document that is not a registration: settings for the image's own
            # steps (the frontend image reads its "frontend" key), as EC2 leaves user data
            # to whoever reads it.
            report("user-data", True, kind=what, note="left for the image's own steps")
    elif what in ("cloud-config", "multipart"):
        report(
            "user-data",
            False,
            kind=what,
            error="this user data needs an image with agent: cloud-init",
        )
    elif what == "empty":
        report("user-data", True, kind=what)
    else:
        report(
            "user-data",
            False,
            kind=what,
            error="user data is neither a #! script nor a JSON document",
        )


def register(client: ImdsClient, request: dict[str, object], report: Reporter) -> None:
    # Imported here: only instances that register pay for TLS and HTTP at boot.
    from . import register as register_mod

    facts = {
        "instance_id": client.text("/latest/meta-data/instance-id") or "",
        "availability_zone": client.text("/latest/meta-data/placement/availability-zone") or "",
        "region": client.text("/latest/meta-data/placement/region") or "",
        "local_ipv4": client.text("/latest/meta-data/local-ipv4") or "",
        "mac": client.text("/latest/meta-data/mac") or "",
        "hostname": socket.gethostname(),
        "identity_document": client.text("/latest/dynamic/instance-identity/document") or "",
        "identity_signature": client.text("/latest/dynamic/instance-identity/signature") or "",
    }
    try:
        ok = bool(register_mod.join(request, facts, report))
    except Exception as exc:  # registration must not take the other steps' reports down
        report("register", False, error=f"{type(exc).__name__}: {exc}")
        return
    if not ok and "register" not in report.failures:
        report("register", False)


def _once(instance_dir: Path, what: str) -> bool:
    """True the first time ``what`` is asked for this instance (and marks it done)."""
    marker = instance_dir / f"{what}.done"
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def parse(argv: list[str] | None = None) -> AgentEnvironment:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # How systemd starts it: no need to import argparse at boot.
        return AgentEnvironment(wait_online=WAIT_ONLINE, systemctl=SYSTEMCTL)
    import argparse

    parser = argparse.ArgumentParser(
        prog="shipyard-agent", description="Shipyard's first-boot agent."
    )
    parser.add_argument("--config", type=Path, default=Path(CONFIG))
    parser.add_argument("--state-dir", type=Path, default=Path(STATE))
    parser.add_argument("--console", default="/dev/console", help="where reports go ('' for none)")
    parser.add_argument(
        "--imds", default="169.254.169.254:80", help="HOST:PORT of the metadata service"
    )
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="seconds to wait for the metadata service"
    )
    parser.add_argument("--etc", type=Path, default=Path("/etc"))
    parser.add_argument(
        "--no-hostname", action="store_true", help="do not set the running host name"
    )
    args = parser.parse_args(argv)
    host, _, port = args.imds.rpartition(":")
    return AgentEnvironment(
        config=args.config,
        state_dir=args.state_dir,
        console=args.console or None,
        imds_host=host,
        imds_port=int(port),
        deadline=args.deadline,
        etc=args.etc,
        set_hostname=not args.no_hostname,
    )


def main(argv: list[str] | None = None) -> int:
    return 0 if run(parse(argv)) else 1
