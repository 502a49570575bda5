"""The boot agent against a real metadata emulator: what an instance's owner would notice."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent.main import AgentEnvironment, run
from shipyard.vm.imds import Fault, ImdsBehaviour, ImdsServer
from shipyard.vm.metadata import Instance

Boot = Callable[..., "object"]


def script(marker: Path) -> bytes:
    return f"#!/bin/sh\necho ran >> {marker}\n".encode()


def test_first_boot_installs_keys_sets_hostname_runs_user_data(
    boot: Boot, machine: AgentEnvironment, public_key: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    result = boot(Instance(public_keys=(public_key,), user_data=script(marker)))
    assert result.ok, result.reports
    assert result.reports[0]["step"] == "start"
    assert result.reports[-1]["step"] == "ready"
    assert result.step("keys")["installed"] == 1
    assert marker.read_text() == "ran\n"
    assert result.step("user-data")["exit_code"] == 0
    authorized = machine.home / ".ssh" / "authorized_keys"  # type: ignore[operator]
    assert public_key in authorized.read_text()
    assert stat.S_IMODE(authorized.stat().st_mode) == 0o600
    assert stat.S_IMODE(authorized.parent.stat().st_mode) == 0o700
    assert (machine.etc / "hostname").read_text() == "ip-10-0-2-15\n"
    assert "ip-10-0-2-15" in (machine.etc / "hosts").read_text()
    # Reports never carry keys or user data.
    assert public_key.split()[1] not in result.console
    assert "echo ran" not in result.console
    for report in result.reports:
        assert isinstance(report["seconds"], float)


def test_the_same_instance_does_not_run_user_data_twice_a_new_one_does(
    boot: Boot, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    instance = Instance(user_data=script(marker))
    boot(instance)
    second = boot(instance)
    assert second.ok
    assert "skipped" in second.step("user-data")
    assert second.step("instance")["first_boot"] is False
    assert marker.read_text() == "ran\n"
    boot(Instance(user_data=script(marker)))
    assert marker.read_text() == "ran\nran\n"


def test_bootstrap_steps_run_once_per_instance(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    marker = tmp_path / "bootstrapped"
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [
        {"shell": f"echo shell >> {marker}"},
        {"script": "setup.sh", "content": f"#!/bin/sh\necho script >> {marker}\n"},
    ]
    machine.config.write_text(json.dumps(config))
    instance = Instance()
    assert boot(instance).step("bootstrap")["steps"] == 2
    boot(instance)
    assert marker.read_text() == "shell\nscript\n"


def test_a_failing_bootstrap_step_ends_failed(boot: Boot, machine: AgentEnvironment) -> None:
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [{"shell": "exit 3"}]
    machine.config.write_text(json.dumps(config))
    result = boot(Instance())
    assert not result.ok
    assert result.step("bootstrap")["exit_code"] == 3
    assert result.reports[-1]["step"] == "failed"


def test_token_expiring_mid_run_is_renewed(boot: Boot, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def expire_third_request(server: ImdsServer) -> None:
        server.inject(Fault(), Fault(), Fault(expire_tokens=True))

    result = boot(Instance(user_data=script(marker)), expire_third_request)
    assert result.ok, result.reports
    assert marker.exists()


def test_403_stops_the_agent_and_says_so(boot: Boot) -> None:
    result = boot(Instance(), settings=ImdsBehaviour(enabled=False))
    assert not result.ok
    assert "disabled" in result.step("imds")["error"]
    assert result.reports[-1]["step"] == "failed"


def test_no_user_data_is_fine(boot: Boot) -> None:
    result = boot(Instance())
    assert result.ok
    assert result.step("user-data")["kind"] == "none"


def test_503_and_slow_answers_within_the_deadline_are_retried(boot: Boot) -> None:
    def throttle(server: ImdsServer) -> None:
        server.inject(Fault(status=503), Fault(status=503), Fault(delay=0.5))

    result = boot(Instance(), throttle)
    assert result.ok, result.reports
    assert result.step("instance")["retries"] >= 2


def test_an_unreachable_service_fails_within_the_deadline(
    machine: AgentEnvironment, closed_port: int
) -> None:
    machine.imds_port = closed_port
    machine.deadline = 1.5
    start = time.monotonic()
    assert run(machine) is False
    assert time.monotonic() - start < 10
    console = Path(machine.console or "").read_text()
    assert '"step":"imds"' in console and "did not answer in time" in console


def test_gzipped_user_data_is_unpacked(boot: Boot, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = boot(Instance(user_data=gzip.compress(script(marker))))
    assert result.ok
    assert marker.exists()


def test_a_malformed_key_is_skipped_and_reported(boot: Boot, public_key: str) -> None:
    result = boot(Instance(public_keys=(public_key, "ssh-rsa not-base64!! x@y")))
    assert result.ok
    keys = result.step("keys")
    assert keys["installed"] == 1
    assert keys["skipped"] == [1]


def test_keys_replace_what_the_agent_installed_before(
    boot: Boot, machine: AgentEnvironment, public_key: str, tmp_path: Path
) -> None:
    authorized = machine.home / ".ssh" / "authorized_keys"  # type: ignore[operator]
    authorized.parent.mkdir(mode=0o700)
    authorized.write_text("ssh-ed25519 AAAA-the-users-own-line mine\n")
    boot(Instance(public_keys=(public_key,)))
    boot(Instance(public_keys=(public_key,)))
    text = authorized.read_text()
    assert text.count(public_key) == 1
    assert "the-users-own-line" in text
    boot(Instance())
    assert public_key not in authorized.read_text()


def test_oversized_user_data_is_refused(boot: Boot) -> None:
    result = boot(Instance(user_data=b"#!/bin/sh\n" + b"#" * 17000))
    assert not result.ok
    assert "limit" in result.step("user-data")["error"]


def test_cloud_config_asks_for_the_cloud_init_agent(boot: Boot) -> None:
    result = boot(Instance(user_data=b"#cloud-config\npackages: [nginx]\n"))
    assert not result.ok
    assert "cloud-init" in result.step("user-data")["error"]


def test_a_failing_script_is_recorded(boot: Boot, machine: AgentEnvironment) -> None:
    instance = Instance(user_data=b"#!/bin/sh\necho oops >&2\nexit 7\n")
    result = boot(instance)
    assert not result.ok
    assert result.step("user-data")["exit_code"] == 7
    instance_dir = machine.state_dir / "instances" / instance.instance_id
    assert (instance_dir / "user-data.exit").read_text() == "7\n"
    assert "oops" in (instance_dir / "user-data.log").read_text()
    assert stat.S_IMODE((instance_dir / "user-data").stat().st_mode) == 0o700


def test_scripts_and_steps_run_from_the_root_folder(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [{"shell": f"pwd > {tmp_path / 'step-ran-in'}"}]
    machine.config.write_text(json.dumps(config))
    result = boot(Instance(user_data=f"#!/bin/sh\npwd > {tmp_path / 'script-ran-in'}\n".encode()))
    assert result.ok, result.reports
    assert (tmp_path / "step-ran-in").read_text() == "/\n"
    assert (tmp_path / "script-ran-in").read_text() == "/\n"


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of every process the agent starts during the test."""
    pids: list[int] = []
    real = os.posix_spawn

    def recording(*args: Any, **kwargs: Any) -> int:
        pid = real(*args, **kwargs)
        pids.append(pid)
        return pid

    monkeypatch.setattr(os, "posix_spawn", recording)
    return pids


def assert_gone(pid: int) -> None:
    """Reaped (no zombie), and nothing left in its process group, which it led."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    deadline = time.monotonic() + 10  # orphans killed with the group are reaped by init
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {pid} outlived the agent")


def test_a_script_past_its_time_is_killed_with_what_it_started(
    boot: Boot, machine: AgentEnvironment, spawned: list[int]
) -> None:
    machine.script_timeout = 0.5
    instance = Instance(user_data=b"#!/bin/sh\nsleep 60 &\nsleep 60\n")
    started = time.monotonic()
    result = boot(instance)
    assert time.monotonic() - started < 20
    assert result.step("user-data")["exit_code"] == -1
    log = machine.state_dir / "instances" / instance.instance_id / "user-data.log"
    assert "the user data script ran past 0.5 s and was killed" in log.read_text()
    assert spawned
    for pid in spawned:
        assert_gone(pid)


def test_scripts_start_with_default_signal_handling(boot: Boot, tmp_path: Path) -> None:
    # Python ignores SIGPIPE and SIGXFSZ for itself, and an ignored signal stays ignored
    # across exec: a script that inherited it would spin in `while :; do echo; done |
    # head -n1` until its timeout, filling its log with write errors.
    seen = tmp_path / "sigign"
    script = f"#!/bin/sh\ngrep SigIgn /proc/self/status > {seen}\n"
    result = boot(Instance(user_data=script.encode()))
    assert result.ok, result.reports
    ignored = int(seen.read_text().split()[1], 16)
    assert ignored & (1 << (signal.SIGPIPE - 1)) == 0
    assert ignored & (1 << (signal.SIGXFSZ - 1)) == 0


def test_a_bootstrap_step_past_its_time_is_killed_and_said(
    boot: Boot, machine: AgentEnvironment
) -> None:
    machine.script_timeout = 0.5
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [{"shell": "exec sleep 60"}]
    machine.config.write_text(json.dumps(config))
    instance = Instance()
    result = boot(instance)
    assert not result.ok
    step = result.step("bootstrap")
    assert step["exit_code"] == -1
    assert "ran past 0.5 s and was killed" in Path(step["log"]).read_text()


def test_a_script_whose_interpreter_is_missing_fails_with_the_reason_in_its_log(
    boot: Boot, machine: AgentEnvironment
) -> None:
    instance = Instance(user_data=b"#!/no/such/interpreter\necho hi\n")
    result = boot(instance)
    assert not result.ok
    assert result.step("user-data")["exit_code"] == 127  # as a shell says: not found
    log = machine.state_dir / "instances" / instance.instance_id / "user-data.log"
    assert "not found" in log.read_text()


def test_a_registration_request_goes_to_registration(boot: Boot) -> None:
    request = {"master": "http://127.0.0.1:9", "appliance": "backend"}
    result = boot(Instance(user_data=json.dumps(request).encode()))
    assert any(r["step"].startswith("register") for r in result.reports)


def test_an_unexpected_error_still_ends_with_a_failed_report(
    boot: Boot, machine: AgentEnvironment
) -> None:
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [5]  # not a step: the agent trips over it
    machine.config.write_text(json.dumps(config))
    result = boot(Instance())
    assert not result.ok
    assert "TypeError" in result.step("agent")["error"]
    assert result.reports[-1]["step"] == "failed"


def test_a_bootstrap_step_longer_than_the_deadline_does_not_cost_the_user_data(
    boot: Boot, machine: AgentEnvironment
) -> None:
    # The deadline bounds how long one request waits for the metadata service, not the
    # agent's whole run: a slow bootstrap step must not make later requests give up.
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [{"shell": "sleep 2"}]
    machine.config.write_text(json.dumps(config))
    machine.deadline = 1.0
    result = boot(Instance())
    assert result.ok, result.reports
    assert result.step("bootstrap")["ok"] and result.step("user-data")["kind"] == "none"


def test_json_that_is_not_a_registration_is_left_for_the_image(boot: Boot) -> None:
    result = boot(Instance(user_data=b'{"frontend": {"db": "sqlite:////var/lib/x.db"}}'))
    assert result.ok, result.reports
    assert result.step("user-data")["kind"] == "json"
    # Anything else that is neither a script nor JSON still fails, saying why.
    refused = boot(Instance(user_data=b"just some words"))
    assert not refused.ok
    assert "neither a #! script" in refused.step("user-data")["error"]


def test_deeply_nested_json_user_data_fails_the_step_not_the_agent(boot: Boot) -> None:
    nested = b'{"master": "10.0.0.1", "x": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    packed = gzip.compress(nested, 9)
    assert len(packed) < 16 * 1024
    result = boot(Instance(user_data=packed))
    assert not result.ok
    step = result.step("user-data")
    assert step["ok"] is False
    assert step["error"] == "user data is JSON nested deeper than 32 levels"
    assert not any(r["step"] == "agent" for r in result.reports)
    assert result.reports[-1]["step"] == "failed"
    assert result.reports[-1]["failed_steps"] == ["user-data"]


def test_json_just_too_deep_for_python_is_refused_the_same_way(boot: Boot) -> None:
    # Deep enough to matter, shallow enough for json.loads to build it.
    nested = b'{"master": "10.0.0.1", "x": ' + b"[" * 200 + b"]" * 200 + b"}"
    result = boot(Instance(user_data=nested))
    assert result.step("user-data")["error"] == "user data is JSON nested deeper than 32 levels"


def test_malformed_json_user_data_is_named(boot: Boot) -> None:
    result = boot(Instance(user_data=b'{"master": \n'))
    step = result.step("user-data")
    assert not result.ok
    assert step["error"] == "user data starts with { but is not valid JSON (line 2)"


def test_at_boot_the_agent_waits_for_every_link_before_asking_the_metadata_service(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    # The first metadata request must not leave through a link that came up before the
    # metadata service's own link (the local VM's NAT link), so it waits for all of them.
    from shipyard.agent.main import parse
    from shipyard.agent.system import WAIT_ONLINE

    assert parse([]).wait_online == WAIT_ONLINE  # how systemd starts it
    calls = tmp_path / "calls"
    waiter = tmp_path / "wait-online"
    waiter.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    waiter.chmod(0o755)
    machine.wait_online = str(waiter)
    result = boot(Instance())
    assert result.ok, result.reports
    assert calls.read_text() == "--timeout=30\n"
    assert [r["step"] for r in result.reports[:2]] == ["start", "instance"]


def test_links_that_never_come_up_do_not_stop_the_agent(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    waiter = tmp_path / "wait-online"
    waiter.write_text("#!/bin/sh\nexit 1\n")
    waiter.chmod(0o755)
    machine.wait_online = str(waiter)
    result = boot(Instance())
    assert result.ok, result.reports
    assert result.step("network")["warning"] == "not every link came up within 30 s"
    machine.wait_online = str(tmp_path / "no-such-program")  # an image without networkd
    assert boot(Instance()).ok


def fake_systemctl(tmp_path: Path, body: str) -> Path:
    """A systemctl that records its arguments, then runs ``body``."""
    program = tmp_path / "systemctl"
    program.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\n{body}\n')
    program.chmod(0o755)
    return program


def test_user_data_runs_only_once_the_basic_system_is_up(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    # The unit starts before basic.target, so that Python's start overlaps the rest of the
    # boot; a user data script still finds sockets and D-Bus up, as in any service.
    from shipyard.agent.main import parse
    from shipyard.agent.system import SYSTEMCTL

    assert parse([]).systemctl == SYSTEMCTL  # how systemd starts it
    reached = tmp_path / "basic-reached"
    machine.systemctl = str(fake_systemctl(tmp_path, f"sleep 1.5\ntouch {reached}"))
    script = f"#!/bin/sh\ntest -e {reached}\n".encode()
    result = boot(Instance(user_data=script))
    assert result.ok, result.reports
    assert result.step("user-data")["exit_code"] == 0
    # A target ordered after basic.target that wants nothing: basic.target itself would
    # start again what it wants that is not running, when the agent is run by hand.
    calls = (tmp_path / "calls").read_text()
    assert calls == "start --job-mode=fail shipyard-agent-basic.target\n"


def test_a_basic_system_that_fails_is_said_and_user_data_still_runs(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path
) -> None:
    machine.systemctl = str(fake_systemctl(tmp_path, "exit 1"))
    result = boot(Instance(user_data=b"#!/bin/sh\nexit 0\n"))
    assert result.ok, result.reports
    assert result.step("system")["warning"] == (
        "basic.target was not reached (systemctl exit code 1); going on without it"
    )
    assert result.step("user-data")["exit_code"] == 0
    machine.systemctl = str(tmp_path / "no-such-program")  # not a systemd system
    assert boot(Instance()).ok


def test_a_run_that_stops_early_leaves_no_waiting_process(
    boot: Boot, machine: AgentEnvironment, tmp_path: Path, spawned: list[int]
) -> None:
    machine.systemctl = str(fake_systemctl(tmp_path, "exec sleep 60"))
    started = time.monotonic()
    result = boot(Instance(), settings=ImdsBehaviour(enabled=False))
    assert not result.ok
    assert time.monotonic() - started < 30
    assert len(spawned) == 1
    assert_gone(spawned[0])
