"""The ansible provision step in real builds: the role's results, symlinks, failures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.cli.main import main
from shipyard.disk.readback import read_root_file
from shipyard.record import load

pytestmark = pytest.mark.build

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _needs_ansible() -> None:
    pytest.importorskip("ansible", reason="the ansible step needs shipyard[ansible]")


def _stat(image: Path, offset: int, path: str) -> str:
    return subprocess.run(
        ["debugfs", "-R", f"stat {path}", f"{image}?offset={offset}"],
        capture_output=True,
        text=True,
    ).stdout


def test_the_example_role_configures_the_image(build_image: Callable[..., Path]) -> None:
    build_dir = build_image(EXAMPLES / "ansible.yml", ["formats=[raw]"])
    record = load(build_dir)
    image, offset = build_dir / "disk.raw", record.root_partition().start
    config = read_root_file(image, offset, "/etc/hello.conf")
    assert f"build {record.id}" in config
    assert f"greeting = Hello from {record.name}\n" in config
    assert "port = 8080\n" in config  # the manifest's vars win over the role's defaults
    assert "release = bookworm\n" in config
    assert read_root_file(image, offset, "/srv/hello/index.html") == f"Hello from {record.name}\n"
    assert "curl" in record.packages
    passwd = read_root_file(image, offset, "/etc/passwd")
    assert any(line.startswith("hello:") for line in passwd.splitlines())
    wants = "/etc/systemd/system/multi-user.target.wants/hello.service"
    assert "/etc/systemd/system/hello.service" in _stat(image, offset, wants)
    assert record.tools["ansible-core"]
    log = (build_dir / "build.log").read_text()
    assert "TASK [hello : Enable the service]" in log
    # Ansible's scratch files do not stay in the image.
    assert "/tmp/.shipyard-ansible" not in _stat(image, offset, "/tmp/.shipyard-ansible")
    assert "Inode" not in _stat(image, offset, "/tmp/.shipyard-ansible")


def _playbook(folder: Path, tasks: str) -> Path:
    (folder / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  tasks:\n" + tasks)
    return folder / "site.yml"


def test_an_absolute_symlink_in_the_image_never_reaches_the_host(
    build_image: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("symlinks")
    (folder / "payload").write_text("from the payload\n")
    _playbook(
        folder,
        "    - name: Write through the link\n"
        '      ansible.builtin.copy: {content: "from a copy\\n", dest: /etc/target, follow: true}\n'
        "    - name: Copy a file through the other link\n"
        "      ansible.builtin.copy: {src: payload, dest: /etc/target2, follow: true}\n"
        "    - name: Edit through the third link\n"
        "      ansible.builtin.lineinfile: {path: /etc/target3, line: from lineinfile}\n",
    )
    (folder / "m.yml").write_text(
        f"extends: {EXAMPLES / 'minimal.yml'}\n"
        "formats: [raw]\n"
        "provision:\n"
        "  - shell: |\n"
        "      ln -s /etc/hostname /etc/target\n"
        "      ln -s /etc/motd /etc/target2\n"
        "      ln -s /etc/issue /etc/target3\n"
        "  - ansible: {playbook: site.yml}\n"
    )
    host = {name: Path(name).read_bytes() for name in ("/etc/hostname", "/etc/motd", "/etc/issue")}
    build_dir = build_image(folder / "m.yml")
    for name, content in host.items():
        assert Path(name).read_bytes() == content, f"the host's {name} was changed"
    record = load(build_dir)
    image, offset = build_dir / "disk.raw", record.root_partition().start
    assert read_root_file(image, offset, "/etc/hostname") == "from a copy\n"
    assert read_root_file(image, offset, "/etc/motd") == "from the payload\n"
    assert "from lineinfile" in read_root_file(image, offset, "/etc/issue")


def _mounts_under(path: Path) -> list[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True)
    return [m for m in out.stdout.splitlines() if m.startswith(str(path))]


def test_a_failing_task_fails_the_build_with_its_name_and_message(
    minimal_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "manifest"
    folder.mkdir()
    _playbook(
        folder,
        "    - name: Check the widget\n      ansible.builtin.fail: {msg: the widget is broken}\n",
    )
    (folder / "m.yml").write_text(
        f"extends: {EXAMPLES / 'minimal.yml'}\nformats: [raw]\n"
        "provision:\n  - ansible: {playbook: site.yml}\n"
    )
    out = tmp_path / "out"
    code = main(["build", str(folder / "m.yml"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert "provision[0] failed: task 'Check the widget': the widget is broken" in err
    assert "Traceback" not in err
    assert _mounts_under(tmp_path) == []
    (build_dir,) = out.iterdir()
    record = json.loads((build_dir / "build.json").read_text())
    assert record["status"] == "failed"
    assert "Check the widget" in record["error"]
    assert "the widget is broken" in (build_dir / "build.log").read_text()
    assert not list(build_dir.glob(".work-*"))
