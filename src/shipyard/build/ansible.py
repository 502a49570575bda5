"""The ansible provision step: ansible-playbook on the build host, acting in the image root.

Ansible connects through Shipyard's own chroot (``ansible_plugins/connection``), so its
tasks get the same namespaces, mounts and cleanup as shell steps, and its file
transfers happen inside the image. Variables reach the playbook through a file.

Facts that describe the machine (kernel, virtualisation, memory) are the build host's
inside a chroot; the ones Shipyard knows are set as variables instead (see FACTS below).
Another serverless engine (Salt masterless, chef-solo) would be a module like this one.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.errors import BuildError
from shipyard.manifest.schema import RELEASES, AnsibleSpec
from shipyard.proc import run, tail, which

PLUGINS = Path(__file__).parent / "ansible_plugins"
INTERPRETER = "/usr/bin/python3"
# Ansible's scratch folder inside the image, removed when the step ends.
REMOTE_TMP = "/tmp/.shipyard-ansible"
# Debian architecture → what Ansible calls it (ansible_architecture).
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


def ansible_version() -> str | None:
    """The version of ansible-core on the build host, or None when it is not installed."""
    try:
        return metadata.version("ansible-core")
    except metadata.PackageNotFoundError:
        return None


def run_ansible(ctx: BuildContext, index: int, spec: AnsibleSpec) -> None:
    """Run ``spec``'s playbook against the image root; a failed task fails the step."""
    where = f"provision[{index}]"
    playbook_cmd = _ansible_playbook(where)
    if not _exists_in_root(ctx, INTERPRETER):
        raise BuildError(
            f"{where}: Ansible needs {INTERPRETER} in the image, and it has none;"
            " add python3 to packages.include"
        )
    folder = ctx.work_dir / f"ansible-{index}"
    folder.mkdir()
    (folder / "ansible.cfg").write_text(_config(spec, folder))
    (folder / "inventory.ini").write_text("image ansible_connection=shipyard_chroot\n")
    (folder / "vars.json").write_text(json.dumps(build_variables(ctx, spec), indent=2) + "\n")
    argv = [playbook_cmd, "-i", str(folder / "inventory.ini")]
    for vars_file in spec.vars_files:
        argv += ["-e", f"@{vars_file}"]
    # Last, so the manifest's vars and Shipyard's own win over the vars files.
    argv += ["-e", f"@{folder / 'vars.json'}"]
    if spec.tags:
        argv += ["--tags", ",".join(spec.tags)]
    if spec.skip_tags:
        argv += ["--skip-tags", ",".join(spec.skip_tags)]
    argv.append(str(spec.playbook))
    env = {
        "ANSIBLE_CONFIG": str(folder / "ansible.cfg"),
        "ANSIBLE_HOME": str(folder / "home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "SHIPYARD_IMAGE_ROOT": str(ctx.root),
        # The plugin imports Shipyard: the build's own interpreter has it.
        "PYTHONPATH": ":".join(p for p in sys.path if p),
    }
    try:
        result = run(argv, env=env, cwd=spec.playbook.parent, check=False, what=where)
    finally:
        run_in_root(ctx.root, ["rm", "-rf", REMOTE_TMP], check=False)
    output = (result.stdout + result.stderr).strip()
    with open(ctx.log_file, "a", encoding="utf-8") as fh:
        fh.write(f"--- {where}: ansible-playbook {spec.playbook.name}\n{output}\n")
    if result.returncode != 0:
        raise BuildError(f"{where} failed: {failure(output, result.returncode)}")


def build_variables(ctx: BuildContext, spec: AnsibleSpec) -> dict[str, object]:
    """The manifest's vars, then what Shipyard knows of the build and the image."""
    system = ctx.manifest.system
    return {
        **spec.vars,
        "ansible_python_interpreter": INTERPRETER,
        "shipyard_build_id": ctx.build_id,
        "shipyard_image_name": ctx.name,
        "shipyard_release": system.release,
        "shipyard_architecture": system.architecture,
        # FACTS: the image's, not the build host's.
        "ansible_distribution": "Debian",
        "ansible_os_family": "Debian",
        "ansible_distribution_release": system.release,
        "ansible_distribution_major_version": RELEASES[system.release],
        "ansible_architecture": MACHINES[system.architecture],
        "ansible_hostname": system.hostname,
    }


def failure(output: str, returncode: int) -> str:
    """The failed task's name and message from ansible-playbook's output, in one line."""
    task = ""
    for line in output.splitlines():
        started = re.match(r"^TASK \[(.*)\] \**$", line.strip())
        if started:
            task = started.group(1)
            continue
        failed = re.match(r"^(?:fatal|failed): \[[^\]]*\].*?=> (\{.*\})\s*$", line.strip())
        if failed:
            return f"task '{task}': {_message(failed.group(1))}"
    if "ERROR" in output:
        errors = [line for line in output.splitlines() if "ERROR" in line]
        return errors[0].strip()
    return f"ansible-playbook exit code {returncode}\n{tail(output, 15)}"


def _message(report: str) -> str:
    try:
        data = json.loads(report)
    except ValueError:
        return report
    for key in ("msg", "stderr", "reason"):
        value = data.get(key) if isinstance(data, dict) else None
        if value:
            return str(value).strip().splitlines()[0]
    return report


def _ansible_playbook(where: str) -> str:
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.exists() else which("ansible-playbook")
    if found is None or ansible_version() is None:
        raise BuildError(
            f"{where}: the ansible step needs ansible-core on the build host;"
            " install it with pip install 'shipyard[ansible]'"
        )
    return found


def _exists_in_root(ctx: BuildContext, path: str) -> bool:
    # Asked inside the chroot: an absolute symlink there means the image's file.
    result = run_in_root(ctx.root, ["test", "-x", path], check=False)
    return result.returncode == 0


def _config(spec: AnsibleSpec, folder: Path) -> str:
    lines = [
        "[defaults]",
        f"connection_plugins = {PLUGINS / 'connection'}",
        f"remote_tmp = {REMOTE_TMP}",
        f"local_tmp = {folder / 'tmp'}",
        f"interpreter_python = {INTERPRETER}",
        "retry_files_enabled = False",
        "host_key_checking = False",
        "gathering = implicit",
    ]
    if spec.roles_path:
        lines.append(f"roles_path = {':'.join(str(p) for p in spec.roles_path)}")
    if spec.collections_path:
        lines.append(f"collections_path = {':'.join(str(p) for p in spec.collections_path)}")
    lines += ["", "[connection]", "pipelining = True", ""]
    return "\n".join(lines)
