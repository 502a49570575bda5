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
