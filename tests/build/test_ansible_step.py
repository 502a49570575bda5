"""The ansible step's pieces that need no root: its failure sentence and its variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.build import ansible
from shipyard.build.ansible import build_variables, failure, run_ansible
from shipyard.build.cache import Cache
from shipyard.build.context import BuildContext
from shipyard.cleanup import Cleanup
from shipyard.disk.layout import plan_layout
from shipyard.errors import BuildError
from shipyard.manifest.schema import AnsibleSpec, Manifest

OUTPUT = """\
PLAY [all] *********************************************************************

TASK [app : Install the package] ***********************************************
ok: [image]

TASK [app : Check the widget] **************************************************
fatal: [image]: FAILED! => {"changed": false, "msg": "the widget is broken"}

PLAY RECAP *********************************************************************
image                      : ok=1    changed=0    unreachable=0    failed=1
"""


def test_a_failed_task_is_told_by_its_name_and_message() -> None:
    assert failure(OUTPUT, 2) == "task 'app : Check the widget': the widget is broken"


def test_a_failed_command_task_is_told_by_its_error_output() -> None:
    output = (
        "TASK [Run it] ***\n"
        'fatal: [image]: FAILED! => {"changed": true, "cmd": "false", "msg": "", '
        '"rc": 1, "stderr": "no such thing\\nsecond line"}\n'
    )
    assert failure(output, 2) == "task 'Run it': no such thing"


def test_a_playbook_that_does_not_parse_is_told_by_ansible_s_error() -> None:
    output = "[ERROR]: conflicting action statements: debug, command\nOrigin: site.yml:3:7\n"
    assert failure(output, 4) == "[ERROR]: conflicting action statements: debug, command"


def _ctx(tmp_path: Path) -> BuildContext:
    manifest = Manifest.model_validate({"system": {"release": "trixie", "architecture": "arm64"}})
    return BuildContext(
        manifest=manifest,
        manifest_path=tmp_path / "m.yml",
        manifest_sha256="0" * 64,
        build_id="20260101-000000-abcdef",
        name="image-name",
        build_dir=tmp_path,
        work_dir=tmp_path / "work",
        cache=Cache(tmp_path / "cache"),
        cleanup=Cleanup(),
        log_file=tmp_path / "build.log",
        layout=plan_layout(2 * 1024**3, ("uefi",), "arm64"),
    )


def test_the_playbook_sees_the_build_and_the_image_s_facts(tmp_path: Path) -> None:
    spec = AnsibleSpec(playbook=tmp_path / "site.yml", vars={"app_user": "web"})
    variables = build_variables(_ctx(tmp_path), spec)
    assert variables["app_user"] == "web"
    assert variables["shipyard_build_id"] == "20260101-000000-abcdef"
    assert variables["shipyard_image_name"] == "image-name"
    assert variables["shipyard_release"] == "trixie"
    assert variables["shipyard_architecture"] == "arm64"
    assert variables["ansible_python_interpreter"] == "/usr/bin/python3"
    assert variables["ansible_distribution_major_version"] == "13"
    assert variables["ansible_architecture"] == "aarch64"


def test_without_ansible_core_the_step_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ansible, "ansible_version", lambda: None)
    spec = AnsibleSpec(playbook=tmp_path / "site.yml")
    with pytest.raises(BuildError) as caught:
        run_ansible(_ctx(tmp_path), 2, spec)
    assert str(caught.value) == (
        "provision[2]: the ansible step needs ansible-core on the build host;"
        " install it with pip install 'shipyard[ansible]'"
    )
