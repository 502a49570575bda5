"""``agent: cloud-init``: Debian's cloud-init, limited to the EC2 datasource.

The image's own network configuration (DHCP on every interface) stays in charge, so
cloud-init is told not to write one; bootstrap steps become per-instance scripts.
"""

from __future__ import annotations

from shipyard.build.context import BuildContext
from shipyard.errors import BuildError
from shipyard.manifest.schema import Manifest, ScriptStep, ShellStep

CONFIG = "/etc/cloud/cloud.cfg.d/90-shipyard.cfg"
PER_INSTANCE = "/var/lib/cloud/scripts/per-instance"


def packages(manifest: Manifest) -> tuple[str, ...]:
    return ("cloud-init",)


def cloud_config(manifest: Manifest) -> str:
    import yaml

    user = manifest.system.user
    doc = {
        "datasource": {
            "Ec2": {
                "metadata_urls": ["http://169.254.169.254"],
                "strict_id": False,
                "timeout": 5,
                "max_wait": 60,
            }
        },
        "network": {"config": "disabled"},
        "disable_root": True,
        "ssh_pwauth": False,
        "preserve_hostname": False,
        "users": ["default"],
        "system_info": {
            "default_user": {
                "name": user,
                "lock_passwd": True,
                "groups": ["sudo"],
                "sudo": ["ALL=(ALL) NOPASSWD:ALL"],
                "shell": "/bin/bash",
            }
        },
    }
    # ds-identify (which decides at boot whether cloud-init runs) reads this key with a
    # line-based parser that wants the list on one line.
    return "datasource_list: [ Ec2, None ]\n" + yaml.safe_dump(doc, sort_keys=False)


def install(ctx: BuildContext) -> None:
    if not ctx.in_root("/usr/bin/cloud-init").exists():
        raise BuildError("cloud-init is not installed in the image")
    config = ctx.in_root(CONFIG)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(cloud_config(ctx.manifest))
    scripts = ctx.in_root(PER_INSTANCE)
    scripts.mkdir(parents=True, exist_ok=True)
    for index, step in enumerate(ctx.manifest.bootstrap):
        if isinstance(step, ShellStep):
            body = f"#!/bin/sh\nset -e\n{step.shell}\n"
        elif isinstance(step, ScriptStep):
            body = step.script.read_text()
            if not body.startswith("#!"):
                body = "#!/bin/sh\n" + body
        else:
            continue  # first-boot Ansible needs the shipyard agent; the manifest says so
        path = scripts / f"{index:02d}-shipyard-bootstrap"
        path.write_text(body)
        path.chmod(0o700)
