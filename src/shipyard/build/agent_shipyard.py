"""``agent: shipyard``: copy the stdlib-only boot agent into the image and enable it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import shipyard.agent
from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.build.units import enable_unit
from shipyard.errors import BuildError
from shipyard.manifest.schema import Manifest, ScriptStep, ShellStep

LIB = "/usr/lib/shipyard-agent"
CONFIG = "/etc/shipyard/agent.json"
UNIT = "shipyard-agent.service"

UNIT_TEXT = f"""[Unit]
Description=Shipyard first-boot agent: SSH keys, host name, bootstrap, user data
Wants=network-online.target
After=network-online.target systemd-networkd.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=PYTHONPATH={LIB}
ExecStart=/usr/bin/python3 -m shipyard.agent
StandardOutput=journal
TimeoutStartSec=2h

[Install]
WantedBy=multi-user.target
"""

# Wait for one configured link, not all of them: the agent needs a route to the
# metadata service, and an instance may have interfaces that never get an address.
WAIT_ONLINE_DROPIN = """[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
"""


def packages(manifest: Manifest) -> tuple[str, ...]:
    return ("python3",)


def install(ctx: BuildContext) -> None:
    copy_agent(ctx.root)
    write_agent_config(ctx)
    write_unit(ctx.root, "/etc/systemd/system/" + UNIT, UNIT_TEXT)
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
        ["python3", "-m", "compileall", "-q", LIB],
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


def agent_config(manifest: Manifest) -> dict[str, Any]:
    """What the agent reads at boot: the user for keys and the bootstrap steps, inlined."""
    steps: list[dict[str, str]] = []
    for step in manifest.bootstrap:
        if isinstance(step, ShellStep):
            steps.append({"shell": step.shell})
        elif isinstance(step, ScriptStep):
            try:
                content = step.script.read_text()
            except OSError as exc:
                raise BuildError(f"cannot read bootstrap script {step.script}: {exc}") from exc
            steps.append({"script": step.script.name, "content": content})
    return {"user": manifest.system.user, "bootstrap": steps}


def write_agent_config(ctx: BuildContext) -> None:
    path = ctx.in_root(CONFIG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(agent_config(ctx.manifest), indent=2) + "\n")
    path.chmod(0o600)  # bootstrap steps may carry things only root should read


def write_unit(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
