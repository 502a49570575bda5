"""First-boot Ansible: the agent runs the image's playbook with the instance's data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from shipyard.agent.main import AgentEnvironment
from shipyard.vm.metadata import Instance

PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

pytestmark = pytest.mark.skipif(
    not PLAYBOOK.exists(), reason="ansible-core is not installed (pip install shipyard[ansible])"
)


def _configure(machine: AgentEnvironment, tmp_path: Path, tasks: str, **step: Any) -> Path:
    folder = tmp_path / "playbook"
    (folder / "roles/site/tasks").mkdir(parents=True)
    (folder / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [site]\n")
    (folder / "roles/site/tasks/main.yml").write_text(tasks)
    config = json.loads(machine.config.read_text())
    config["bootstrap"] = [
        {"shell": "true"},
        {
            "ansible": {
                "playbook": str(folder / "site.yml"),
                "roles_path": [str(folder / "roles")],
                **step,
            }
        },
    ]
    machine.config.write_text(json.dumps(config))
    machine.ansible_playbook = str(PLAYBOOK)
    return folder


def test_the_playbook_runs_once_with_the_instance_s_data(
    boot: Any, machine: AgentEnvironment, tmp_path: Path
) -> None:
    out = tmp_path / "facts.json"
    _configure(
        machine,
        tmp_path,
        "- name: Write what the instance is\n"
        "  ansible.builtin.copy:\n"
        f"    dest: {out}\n"
        '    content: \'{{ {"id": shipyard_metadata.instance_id, "az":'
        ' shipyard_metadata.placement_availability_zone, "role": shipyard_user_data.role,'
        ' "greeting": greeting} | to_json }}\'\n',
        vars={"greeting": "hello"},
    )
    instance = Instance(user_data=b'{"role": "web"}')
    result = boot(instance)
    assert result.ok, result.reports
    assert result.step("ansible")["ok"]
    assert result.step("bootstrap")["steps"] == 2
    assert json.loads(out.read_text()) == {
        "id": instance.instance_id,
        "az": "us-east-1a",
        "role": "web",
        "greeting": "hello",
    }
    out.unlink()
    boot(instance)
    assert not out.exists()  # once per instance


def test_a_failing_task_is_reported_with_its_name_and_message(
    boot: Any, machine: AgentEnvironment, tmp_path: Path
) -> None:
    _configure(
        machine,
        tmp_path,
        "- name: Check the widget\n  ansible.builtin.fail: {msg: the widget is broken}\n",
    )
    result = boot(Instance())
    assert not result.ok
    report = result.step("ansible")
    assert not report["ok"]
    assert report["error"] == "task 'site : Check the widget': the widget is broken"
    assert "seconds" in report
    assert "the widget is broken" in Path(report["log"]).read_text()
    assert result.reports[-1]["step"] == "failed"
