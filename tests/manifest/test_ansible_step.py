"""The ansible step in a manifest: its paths, its mistakes, and its part in the digest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest
from shipyard.manifest.schema import AnsibleStep

WriteFiles = Callable[..., Path]

STEP = """\
provision:
  - ansible:
      playbook: ansible/site.yml
      roles_path: [ansible/roles]
      vars: {app_user: web, port: 8080}
      vars_files: [ansible/prod.yml]
      tags: [image]
      skip_tags: [runtime]
"""


@pytest.fixture
def playbook(write: WriteFiles) -> WriteFiles:
    write("ansible/site.yml", "- hosts: all\n  roles: [app]\n")
    write("ansible/roles/app/tasks/main.yml", "- debug: {msg: hi}\n")
    write("ansible/prod.yml", "level: prod\n")
    return write


def test_an_ansible_step_loads_with_paths_from_the_manifest_folder(
    playbook: WriteFiles, tmp_path: Path
) -> None:
    playbook("m.yml", STEP)
    (step,) = load_manifest("m.yml").manifest.provision
    assert isinstance(step, AnsibleStep)
    spec = step.ansible
    assert spec.playbook == tmp_path / "ansible/site.yml"
    assert spec.roles_path == (tmp_path / "ansible/roles",)
    assert spec.vars_files == (tmp_path / "ansible/prod.yml",)
    assert spec.vars == {"app_user": "web", "port": 8080}
    assert (spec.tags, spec.skip_tags) == (("image",), ("runtime",))


def test_a_step_from_a_parent_manifest_finds_its_playbook_beside_the_parent(
    playbook: WriteFiles, tmp_path: Path
) -> None:
    playbook("base/ansible/site.yml", "- hosts: all\n")
    playbook("base/base.yml", "provision:\n  - ansible: {playbook: ansible/site.yml}\n")
    playbook("m.yml", "extends: base/base.yml\n")
    (step,) = load_manifest("m.yml").manifest.provision
    assert isinstance(step, AnsibleStep)
    assert step.ansible.playbook == tmp_path / "base/ansible/site.yml"


def test_changing_a_role_changes_the_manifest_digest(playbook: WriteFiles) -> None:
    playbook("m.yml", STEP)
    before = load_manifest("m.yml").sha256
    assert load_manifest("m.yml").sha256 == before
    playbook("ansible/roles/app/tasks/main.yml", "- debug: {msg: changed}\n")
    assert load_manifest("m.yml").sha256 != before


BAD = [
    (
        "missing playbook",
        "provision:\n  - ansible: {playbook: ansible/nope.yml}\n",
        "m.yml:2: provision.0.ansible.playbook: ansible/nope.yml does not exist (looked for ",
    ),
    (
        "missing role folder",
        "provision:\n  - ansible:\n      playbook: ansible/site.yml\n"
        "      roles_path: [ansible/rolez]\n",
        "m.yml:4: provision.0.ansible.roles_path.0: ansible/rolez does not exist "
        "(looked for the folder ",
    ),
    (
        "role folder is a file",
        "provision:\n  - ansible:\n      playbook: ansible/site.yml\n"
        "      roles_path: [ansible/prod.yml]\n",
        "m.yml:4: provision.0.ansible.roles_path.0: ansible/prod.yml is not a folder",
    ),
    (
        "missing vars file",
        "provision:\n  - ansible:\n      playbook: ansible/site.yml\n"
        "      vars_files: [ansible/dev.yml]\n",
        "m.yml:4: provision.0.ansible.vars_files.0: ansible/dev.yml does not exist",
    ),
    (
        "playbook is a folder",
        "provision:\n  - ansible: {playbook: ansible/roles}\n",
        "m.yml:2: provision.0.ansible.playbook: ansible/roles is a directory; expected a file",
    ),
    (
        "no playbook",
        "provision:\n  - ansible: {roles_path: [ansible/roles]}\n",
        "m.yml:2: provision.0.ansible: missing the required key 'playbook'",
    ),
    (
        "misspelt key",
        "provision:\n  - ansible: {playbook: ansible/site.yml, skip_tag: [x]}\n",
        "m.yml:2: provision.0.ansible.skip_tag: unknown key; did you mean 'skip_tags'?",
    ),
    (
        "tags not a list",
        "provision:\n  - ansible: {playbook: ansible/site.yml, tags: image}\n",
        "m.yml:2: provision.0.ansible.tags: expected a list, got a string ('image'); "
        "write a list such as [image]",
    ),
    (
        "vars not a mapping",
        "provision:\n  - ansible: {playbook: ansible/site.yml, vars: [a]}\n",
        "m.yml:2: provision.0.ansible.vars: expected a mapping, got a list",
    ),
    (
        "bad variable name",
        "provision:\n  - ansible: {playbook: ansible/site.yml, vars: {app-user: web}}\n",
        "m.yml:2: provision.0.ansible.vars: 'app-user' is not a variable name",
    ),
    (
        "no python3 in the image",
        "agent: none\nprovision:\n  - ansible: {playbook: ansible/site.yml}\n",
        "m.yml:3: provision.0.ansible: Ansible needs python3 in the image, and nothing installs "
        "it with agent: none; add python3 to packages.include",
    ),
    (
        "at first boot without the shipyard agent",
        "agent: cloud-init\nbootstrap:\n  - ansible: {playbook: ansible/site.yml}\n",
        "m.yml:3: bootstrap.0.ansible: first-boot Ansible is run by the shipyard agent; "
        "this image has agent: cloud-init",
    ),
    (
        "missing playbook at first boot",
        "bootstrap:\n  - ansible: {playbook: ansible/firstboot.yml}\n",
        "m.yml:2: bootstrap.0.ansible.playbook: ansible/firstboot.yml does not exist",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_ansible_step_is_refused_in_one_located_sentence(
    playbook: WriteFiles, text: str, expected: str
) -> None:
    playbook("m.yml", text)
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_python3_in_the_packages_lets_an_agentless_image_run_ansible(
    playbook: WriteFiles,
) -> None:
    playbook(
        "m.yml",
        "agent: none\npackages: {include: [python3]}\n"
        "provision:\n  - ansible: {playbook: ansible/site.yml}\n",
    )
    assert load_manifest("m.yml").manifest.agent == "none"
