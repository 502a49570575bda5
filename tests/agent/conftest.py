"""Run the agent in-process against a real metadata emulator on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent.main import AgentEnvironment, run
from shipyard.vm.identity import Signer
from shipyard.vm.imds import ImdsServer, serve
from shipyard.vm.metadata import Instance


@dataclass
class AgentRun:
    ok: bool
    reports: list[dict[str, Any]]
    console: str

    def step(self, name: str) -> dict[str, Any]:
        found = [r for r in self.reports if r["step"] == name]
        assert found, f"no {name!r} report in {self.reports}"
        return found[-1]


@pytest.fixture
def machine(tmp_path: Path) -> AgentEnvironment:
    """An agent's view of a machine, all inside tmp_path; the user is the one running tests."""
    import os
    import pwd

    (tmp_path / "etc").mkdir()
    (tmp_path / "home").mkdir()
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"user": pwd.getpwuid(os.getuid()).pw_name, "bootstrap": []}))
    return AgentEnvironment(
        config=config,
        state_dir=tmp_path / "state",
        console=str(tmp_path / "console.log"),
        imds_host="127.0.0.1",
        deadline=5.0,
        etc=tmp_path / "etc",
        set_hostname=False,
        home=tmp_path / "home",
    )


@pytest.fixture
def boot(machine: AgentEnvironment, signer: Signer) -> Callable[..., AgentRun]:
    """``boot(instance, server_hook=None)`` runs the agent once against ``instance``."""

    def _boot(
        instance: Instance, hook: Callable[[ImdsServer], None] | None = None, **serve_args: Any
    ) -> AgentRun:
        with serve(instance, signer, **serve_args) as server:
            if hook:
                hook(server)
            machine.imds_port = server.port
            console = Path(machine.console or "")
            start = console.stat().st_size if console.exists() else 0
            ok = run(machine)
        text = console.read_text()[start:]
        reports = [
            json.loads(line.removeprefix("shipyard-agent: "))
            for line in text.splitlines()
            if line.startswith("shipyard-agent: ")
        ]
        return AgentRun(ok, reports, text)

    return _boot


@pytest.fixture
def closed_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
