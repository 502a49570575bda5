"""The agent is copied alone into images: it may import only the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import shipyard.agent
from shipyard.vm.identity import Signer

AGENT_DIR = Path(shipyard.agent.__file__).parent


def imported_modules(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (alias.name, node.level if hasattr(node, "level") else 0) for alias in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_the_agent_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(AGENT_DIR.rglob("*.py"))
    assert files
    for path in files:
        for module, level in imported_modules(path):
            if level > 0:
                continue  # relative: inside the agent package
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {module}, which is not in the standard library"
            )


def copied_agent(root: Path) -> Path:
    """The agent alone, copied into ``root`` as a build copies it into an image; the
    folder that holds the package."""
    from shipyard.build import agent_shipyard

    agent_shipyard.copy_agent(root)
    return root / agent_shipyard.LIB.lstrip("/")


def test_the_agent_runs_as_a_module_outside_the_project(tmp_path: Path) -> None:
    import subprocess

    lib = copied_agent(tmp_path)
    # Run by the system's python3 from a folder holding only the copy, as in an image.
    result = subprocess.run(
        ["python3", "-m", "shipyard.agent", "--help"],
        cwd=lib,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "first-boot agent" in result.stdout


def test_a_first_boot_with_nothing_to_run_imports_nothing_heavy(tmp_path: Path) -> None:
    """Each module is paid for at every first boot, ten to twenty times over under
    emulation: HTTP comes from the agent's own reader, not http.client (email, ssl), and
    typing, tempfile and subprocess stay out until something needs them."""
    import subprocess

    lib = copied_agent(tmp_path)
    probe = "import sys, shipyard.agent.main; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        ["python3", "-S", "-c", probe],
        cwd=lib,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(result.stdout.split())
    heavy = {"http.client", "email", "ssl", "typing", "tempfile", "subprocess", "shutil"}
    assert not heavy & loaded, f"the agent's boot imports {sorted(heavy & loaded)}"


def imported_by(argv: list[str], cwd: Path) -> set[str]:
    """Every module a run of ``argv`` (a python3 command) imports, from -X importtime."""
    import subprocess

    result = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    } - {"imported package"}


def test_the_unit_starts_the_agent_as_a_script_without_runpy(tmp_path: Path) -> None:
    # python3 -m would import runpy and importlib.util first: a third of a second of
    # every boot under emulation.
    from shipyard.build import agent_shipyard

    agent_shipyard.copy_agent(tmp_path)
    command = next(
        line.removeprefix("ExecStart=")
        for line in agent_shipyard.UNIT_TEXT.splitlines()
        if line.startswith("ExecStart=")
    ).split()
    assert command[:2] == ["/usr/bin/python3", "-S"]
    launcher = tmp_path / command[2].lstrip("/")
    loaded = imported_by(["python3", "-S", str(launcher), "--help"], cwd=tmp_path)
    assert "shipyard.agent.main" in loaded
    assert not {"runpy", "importlib.util"} & loaded


def test_a_whole_first_boot_imports_nothing_heavy(tmp_path: Path, signer: Signer) -> None:
    """Keys, host name and a user data script, against the metadata emulator: the
    connection to it does not pull in the idna codec (a str host given to getaddrinfo
    does), nor HTTP, TLS or email packages."""
    import json
    import os
    import pwd

    from shipyard.vm.imds import serve
    from shipyard.vm.metadata import Instance

    lib = copied_agent(tmp_path / "image")
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"user": pwd.getpwuid(os.getuid()).pw_name}))
    (tmp_path / "etc").mkdir()
    instance = Instance(user_data=b"#!/bin/sh\nexit 0\n")
    (tmp_path / "home").mkdir()
    with serve(instance, signer) as server:
        machine = (
            f"config=Path({str(config)!r}), state_dir=Path({str(tmp_path / 'state')!r}), "
            f"etc=Path({str(tmp_path / 'etc')!r}), home=Path({str(tmp_path / 'home')!r}), "
            f"console=None, imds_host='127.0.0.1', imds_port={server.port}, deadline=10.0, "
            "set_hostname=False"
        )
        probe = (
            "import sys\nfrom pathlib import Path\n"
            "from shipyard.agent.main import AgentEnvironment, run\n"
            f"sys.exit(0 if run(AgentEnvironment({machine})) else 1)\n"
        )
        loaded = imported_by(["python3", "-S", "-c", probe], cwd=lib)
    assert "shipyard.agent.userdata" in loaded
    heavy = {"encodings.idna", "stringprep", "unicodedata", "http.client", "email", "ssl"}
    heavy |= {"subprocess", "threading"}  # scripts go through agent.spawn
    assert not heavy & loaded, f"a first boot imports {sorted(heavy & loaded)}"
