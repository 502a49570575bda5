"""``agent: shipyard``: copy the stdlib-only boot agent into the image and enable it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import shipyard.agent
from shipyard.agent.system import AFTER_BASIC, AFTER_BASIC_TEXT
from shipyard.build import inroot
from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.build.units import enable_unit
from shipyard.errors import BuildError
from shipyard.manifest.schema import AnsibleSpec, AnsibleStep, Manifest, ScriptStep, ShellStep

LIB = "/usr/lib/shipyard-agent"
CONFIG = "/etc/shipyard/agent.json"
# First-boot playbooks, their roles, collections and vars files, one folder per step.
ANSIBLE_DIR = "/var/lib/shipyard/ansible"
UNIT = "shipyard-agent.service"
# What the unit runs: its folder, first on sys.path, holds the agent package.
LAUNCHER = "shipyard-agent.py"
LAUNCHER_TEXT = """import sys

from shipyard.agent.main import main

sys.exit(main())
"""

# Early in the boot, not after basic.target: Python's start (over a second under
# emulation) then overlaps udev and systemd-networkd instead of following them. The agent
# itself waits for every link before its first metadata request and for basic.target
# before bootstrap steps and user data (agent.system). After the root has grown, since
# user data may need the whole disk; before multi-user.target, which keeps meaning that
# the agent has run. -S skips site-packages, which the stdlib-only agent never uses; a
# script, not -m, spares every boot importing runpy and importlib.util (a third of a
# second under emulation).
UNIT_TEXT = f"""[Unit]
Description=Shipyard first-boot agent: SSH keys, host name, bootstrap, user data
DefaultDependencies=no
After=local-fs.target shipyard-growroot.service
Before=multi-user.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/python3 -S {LIB}/{LAUNCHER}
StandardOutput=journal
TimeoutStartSec=2h

[Install]
WantedBy=multi-user.target
"""

# network-online.target, for the units that wait for it, means every configured link,
# not any one of them, for at most 30 s, as the agent's own wait does.
WAIT_ONLINE_DROPIN = """[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --timeout=30
"""


def packages(manifest: Manifest) -> tuple[str, ...]:
    if any(isinstance(step, AnsibleStep) for step in manifest.bootstrap):
        return ("python3", "ansible-core")  # Debian's, for first-boot playbooks
    return ("python3",)


def install(ctx: BuildContext) -> None:
    copy_agent(ctx.root)
    write_agent_config(ctx)
    copy_playbooks(ctx)
    write_unit(ctx.root, "/etc/systemd/system/" + UNIT, UNIT_TEXT)
    write_unit(ctx.root, "/etc/systemd/system/" + AFTER_BASIC, AFTER_BASIC_TEXT)
    write_unit(
        ctx.root,
        "/etc/systemd/system/systemd-networkd-wait-online.service.d/shipyard.conf",
        WAIT_ONLINE_DROPIN,
    )
    enable_unit(ctx.root, UNIT, "multi-user.target")
    enable_unit(ctx.root, "systemd-networkd-wait-online.service", "network-online.target")
    # Byte-compiled ahead so the first boot does not pay for it.
    run_in_root(
        ctx.root,
        # Hashes of the sources, not their times, so that the same agent gives the same bytes.
        ["python3", "-m", "compileall", "-q", "--invalidation-mode", "checked-hash", LIB],
        error=BuildError,
        what="byte-compile the boot agent",
    )


def copy_agent(root: Path) -> None:
    """The agent package, alone, importable as ``shipyard.agent`` from LIB."""
    source = Path(shipyard.agent.__file__).parent
    lib = root / LIB.lstrip("/")
    if lib.exists():
        shutil.rmtree(lib)
    target = lib / "shipyard" / "agent"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (lib / "shipyard" / "__init__.py").write_text("")
    (lib / LAUNCHER).write_text(LAUNCHER_TEXT)


def agent_config(manifest: Manifest) -> dict[str, Any]:
    """What the agent reads at boot: the user for keys and the bootstrap steps, inlined."""
    steps: list[dict[str, Any]] = []
    for index, step in enumerate(manifest.bootstrap):
        if isinstance(step, AnsibleStep):
            steps.append({"ansible": _ansible_config(step.ansible, f"{ANSIBLE_DIR}/{index}")})
        elif isinstance(step, ShellStep):
            steps.append({"shell": step.shell})
        elif isinstance(step, ScriptStep):
            try:
                content = step.script.read_text()
            except OSError as exc:
                raise BuildError(f"cannot read bootstrap script {step.script}: {exc}") from exc
            steps.append({"script": step.script.name, "content": content})
    return {"user": manifest.system.user, "bootstrap": steps}


def _image_paths(spec: AnsibleSpec, folder: str) -> dict[str, list[tuple[Path, str]]]:
    """Where each of the step's paths goes in the image: (build host path, image path)."""
    return {
        "playbook": [(spec.playbook.parent, f"{folder}/playbook")],
        "roles_path": [(p, f"{folder}/roles-{n}") for n, p in enumerate(spec.roles_path)],
        "collections_path": [
            (p, f"{folder}/collections-{n}") for n, p in enumerate(spec.collections_path)
        ],
        "vars_files": [(p, f"{folder}/vars-{n}-{p.name}") for n, p in enumerate(spec.vars_files)],
    }


def _ansible_config(spec: AnsibleSpec, folder: str) -> dict[str, Any]:
    paths = _image_paths(spec, folder)
    return {
        "playbook": f"{paths['playbook'][0][1]}/{spec.playbook.name}",
        "roles_path": [image for _, image in paths["roles_path"]],
        "collections_path": [image for _, image in paths["collections_path"]],
        "vars_files": [image for _, image in paths["vars_files"]],
        "vars": spec.vars,
        "tags": list(spec.tags),
        "skip_tags": list(spec.skip_tags),
    }


def copy_playbooks(ctx: BuildContext) -> None:
    """First-boot playbooks and what they read, into the image, readable by root only."""
    for index, step in enumerate(ctx.manifest.bootstrap):
        if not isinstance(step, AnsibleStep):
            continue
        for pairs in _image_paths(step.ansible, f"{ANSIBLE_DIR}/{index}").values():
            for source, image_path in pairs:
                files = [(source, "")] if source.is_file() else _files_in(source)
                for path, relative in files:
                    target = f"{image_path}/{relative}" if relative else image_path
                    inroot.install_file(ctx.root, target, path, 0o600)


def _files_in(folder: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for current, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(current, name)
            if path.is_file():
                found.append((path, path.relative_to(folder).as_posix()))
    return found


def write_agent_config(ctx: BuildContext) -> None:
    path = ctx.in_root(CONFIG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(agent_config(ctx.manifest), indent=2) + "\n")
    path.chmod(0o600)  # bootstrap steps may carry things only root should read


def write_unit(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
