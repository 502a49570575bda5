"""First-boot Ansible: the image's playbook, run locally with the instance's data.

The build copied the playbook, its roles, collections and vars files into the image and
installed Debian's ansible-core; here ansible-playbook runs it with ``-c local``. The
instance's metadata and user data reach the playbook as ``shipyard_metadata`` and
``shipyard_user_data``, through a vars file readable by root only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from . import userdata
from .imds import ImdsClient

PLAYBOOK = "/usr/bin/ansible-playbook"
# What the playbook is told of the instance (meta-data paths, named without slashes).
METADATA = (
    "instance-id",
    "instance-type",
    "ami-id",
    "local-hostname",
    "local-ipv4",
    "mac",
    "placement/availability-zone",
    "placement/region",
)


def instance_variables(client: ImdsClient) -> dict[str, Any]:
    """``shipyard_metadata`` and ``shipyard_user_data`` (parsed when it is JSON)."""
    metadata: dict[str, str] = {}
    for key in METADATA:
        value = client.text(f"/latest/meta-data/{key}")
        if value is not None:
            metadata[key.replace("/", "_").replace("-", "_")] = value
    user_data: Any = None
    raw = client.get("/latest/user-data")
    if raw is not None:
        try:
            text = userdata.unpack(raw).decode(errors="replace")
        except userdata.UserDataError:
            text = ""
        try:
            user_data = json.loads(text)
        except ValueError:
            user_data = text
    return {"shipyard_metadata": metadata, "shipyard_user_data": user_data}


def run_playbook(
    step: dict[str, Any],
    variables: dict[str, Any],
    work: Path,
    log: Path,
    timeout: float,
    executable: str = PLAYBOOK,
) -> tuple[int, str]:
    """Run one first-boot ansible step; (exit code, the failed task's sentence or "")."""
    vars_file = work / "vars.json"
    fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**dict(step.get("vars") or {}), **variables}, fh)
    argv = [executable, "-c", "local", "-i", "localhost,"]
    for extra in step.get("vars_files") or []:
        argv += ["-e", f"@{extra}"]
    argv += ["-e", f"@{vars_file}"]
    if step.get("tags"):
        argv += ["--tags", ",".join(step["tags"])]
    if step.get("skip_tags"):
        argv += ["--skip-tags", ",".join(step["skip_tags"])]
    playbook = str(step["playbook"])
    argv.append(playbook)
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": ":".join(step.get("roles_path") or []),
        "ANSIBLE_COLLECTIONS_PATH": ":".join(step.get("collections_path") or []),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "HOME": str(work),
    }
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=os.path.dirname(playbook) or "/",
            env=env,
            timeout=timeout,
            check=False,
        )
        output = (result.stdout + result.stderr).decode(errors="replace")
        code = result.returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        output, code = f"{exc}\n", -1
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"--- ansible-playbook {playbook}\n{output}")
    return code, "" if code == 0 else failed_task(output, code)


def failed_task(output: str, code: int) -> str:
    """The failed task's name and message, in one line."""
    task = ""
    for line in output.splitlines():
        line = line.strip()
        started = re.match(r"^TASK \[(.*)\] \**$", line)
        if started:
            task = started.group(1)
            continue
        failed = re.match(r"^(?:fatal|failed): \[[^\]]*\].*?=> (\{.*\})\s*$", line)
        if failed:
            try:
                report = json.loads(failed.group(1))
                message = str(report.get("msg") or report.get("stderr") or "").strip()
            except (ValueError, AttributeError):
                message = failed.group(1)
            return f"task '{task}': {message.splitlines()[0] if message else 'failed'}"
    errors = [line.strip() for line in output.splitlines() if "ERROR" in line]
    return errors[0] if errors else f"ansible-playbook exit code {code}"
