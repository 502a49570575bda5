"""What the build puts into an image for ``agent: shipyard`` and ``agent: cloud-init``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from shipyard.build import agent_cloudinit, agent_shipyard
from shipyard.manifest.schema import Manifest


def manifest(tmp_path: Path, agent: str = "shipyard") -> Manifest:
    script = tmp_path / "setup.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    return Manifest.model_validate(
        {
            "agent": agent,
            "system": {"user": "ops"},
            "bootstrap": [{"shell": "echo from-shell"}, {"script": str(script)}],
        }
    )


def test_the_agent_needs_python3_and_cloud_init_needs_cloud_init(tmp_path: Path) -> None:
    assert agent_shipyard.packages(manifest(tmp_path)) == ("python3",)
    assert agent_cloudinit.packages(manifest(tmp_path, "cloud-init")) == ("cloud-init",)


def test_bootstrap_steps_and_user_are_recorded_with_scripts_inlined(tmp_path: Path) -> None:
    config = agent_shipyard.agent_config(manifest(tmp_path))
    assert config["user"] == "ops"
    assert config["bootstrap"] == [
        {"shell": "echo from-shell"},
        {"script": "setup.sh", "content": "#!/bin/sh\necho from-script\n"},
    ]
    json.dumps(config)


def test_the_copied_agent_runs_alone_with_the_system_python(tmp_path: Path) -> None:
    root = tmp_path / "root"
    agent_shipyard.copy_agent(root)
    lib = root / agent_shipyard.LIB.lstrip("/")
    assert (lib / "shipyard" / "__init__.py").read_text() == ""
    assert not list(lib.rglob("__pycache__"))
    result = subprocess.run(
        ["python3", "-m", "shipyard.agent", "--help"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(lib)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_cloud_init_is_limited_to_ec2_and_leaves_the_network_alone(tmp_path: Path) -> None:
    text = agent_cloudinit.cloud_config(manifest(tmp_path, "cloud-init"))
    # ds-identify reads this line on its own, so it must be one line.
    assert text.splitlines()[0] == "datasource_list: [ Ec2, None ]"
    doc = yaml.safe_load(text)
    assert doc["datasource_list"] == ["Ec2", "None"]
    assert doc["network"] == {"config": "disabled"}
    assert doc["system_info"]["default_user"]["name"] == "ops"
    assert doc["ssh_pwauth"] is False


def test_a_first_boot_playbook_is_copied_into_the_image_with_ansible_core(
    tmp_path: Path,
) -> None:
    from shipyard.build.cache import Cache
    from shipyard.build.context import BuildContext
    from shipyard.cleanup import Cleanup
    from shipyard.disk.layout import plan_layout

    source = tmp_path / "src"
    (source / "ansible/roles/app/tasks").mkdir(parents=True)
    (source / "ansible/site.yml").write_text("- hosts: all\n")
    (source / "ansible/roles/app/tasks/main.yml").write_text("- debug: {msg: hi}\n")
    (source / "prod.yml").write_text("level: prod\n")
    m = Manifest.model_validate(
        {
            "bootstrap": [
                {"shell": "true"},
                {
                    "ansible": {
                        "playbook": str(source / "ansible/site.yml"),
                        "roles_path": [str(source / "ansible/roles")],
                        "vars_files": [str(source / "prod.yml")],
                        "vars": {"port": 80},
                        "tags": ["boot"],
                    }
                },
            ]
        }
    )
    assert agent_shipyard.packages(m) == ("python3", "ansible-core")
    step = agent_shipyard.agent_config(m)["bootstrap"][1]["ansible"]
    assert step == {
        "playbook": "/var/lib/shipyard/ansible/1/playbook/site.yml",
        "roles_path": ["/var/lib/shipyard/ansible/1/roles-0"],
        "collections_path": [],
        "vars_files": ["/var/lib/shipyard/ansible/1/vars-0-prod.yml"],
        "vars": {"port": 80},
        "tags": ["boot"],
        "skip_tags": [],
    }
    ctx = BuildContext(
        manifest=m,
        manifest_path=source / "m.yml",
        manifest_sha256="0" * 64,
        build_id="b",
        name="n",
        build_dir=tmp_path,
        work_dir=tmp_path / "work",
        cache=Cache(tmp_path / "cache"),
        cleanup=Cleanup(),
        log_file=tmp_path / "build.log",
        layout=plan_layout(2 * 1024**3, ("uefi",), "amd64"),
    )
    ctx.root.mkdir(parents=True)
    agent_shipyard.copy_playbooks(ctx)
    copied = ctx.in_root("/var/lib/shipyard/ansible/1")
    assert (copied / "playbook/site.yml").read_text() == "- hosts: all\n"
    assert (copied / "roles-0/app/tasks/main.yml").exists()
    assert (copied / "vars-0-prod.yml").read_text() == "level: prod\n"
    # Root's eyes only: vars may hold secrets.
    assert (copied / "vars-0-prod.yml").stat().st_mode & 0o077 == 0


def test_the_agent_unit_starts_early_and_the_agent_waits_for_what_it_needs() -> None:
    # Python's start overlaps udev and the links coming up; the agent itself waits for
    # the links and for basic.target (tests/agent/test_agent.py).
    lines = agent_shipyard.UNIT_TEXT.splitlines()
    assert "DefaultDependencies=no" in lines
    assert "After=local-fs.target shipyard-growroot.service" in lines
    # Still part of the boot: multi-user.target means the agent has run, and shutting
    # down stops it.
    assert "Before=multi-user.target shutdown.target" in lines
    assert "Conflicts=shutdown.target" in lines
    assert not any("network-online" in line or "basic.target" in line for line in lines)


def test_the_agent_waits_for_basic_target_through_a_target_that_wants_nothing() -> None:
    # Starting basic.target itself, when the agent is run by hand, would start again what
    # it wants that is not running (the root's growing, a timer stopped on purpose).
    from shipyard.agent.system import AFTER_BASIC_TEXT

    lines = AFTER_BASIC_TEXT.splitlines()
    assert "DefaultDependencies=no" in lines
    assert "After=basic.target" in lines
    assert not any(line.startswith(("Wants=", "Requires=", "BindsTo=")) for line in lines)


def test_the_network_counts_as_online_only_when_every_link_is() -> None:
    """With two links (the local VM's metadata link and NAT link, or EC2's ENIs), online
    through one of them is not enough: the first metadata request could leave through a
    link the metadata service is not on."""
    lines = agent_shipyard.WAIT_ONLINE_DROPIN.splitlines()
    command = [line for line in lines if line.startswith("ExecStart=/")]
    assert command == ["ExecStart=/lib/systemd/systemd-networkd-wait-online --timeout=30"]
