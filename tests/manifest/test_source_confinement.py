"""Step sources stay inside the folder of the manifest that names them, unless it says otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest

WriteFiles = Callable[..., Path]

HINT = "sources must be inside it (set allow_sources_outside: true in the manifest to allow this)"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret of the build host, next to (not inside) the manifest's folder."""
    secret = tmp_path / "host" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:*:secret\n")
    return secret


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            "- script: ../host/shadow",
            "project/m.yml:2: provision.0.script: ../host/shadow is outside the manifest's folder",
        ),
        (
            "- file: {source: ../../../../../../../etc/passwd, destination: /etc/p}",
            "project/m.yml:2: provision.0.file.source: ../../../../../../../etc/passwd is outside",
        ),
        (
            "- file: {source: /etc/passwd, destination: /etc/p}",
            "project/m.yml:2: provision.0.file.source: /etc/passwd is outside the manifest's",
        ),
        (
            "- script: files/link",
            "project/m.yml:2: provision.0.script: files/link leads out of the manifest's folder "
            "through a symbolic link",
        ),
        (
            "- script: sub/shadow",
            "project/m.yml:2: provision.0.script: sub/shadow leads out of the manifest's folder",
        ),
        (
            "- script: ../host/nosuch",
            "project/m.yml:2: provision.0.script: ../host/nosuch is outside the manifest's folder",
        ),
    ],
    ids=["dotdot", "deep dotdot", "absolute", "link", "linked folder", "missing outside"],
)
def test_sources_outside_the_folder_are_refused(
    write: WriteFiles, outside: Path, step: str, expected: str
) -> None:
    write("project/files/ok.conf", "ok\n")
    (write("project/files/.keep").parent / "link").symlink_to(outside)
    (write("project/.keep").parent / "sub").symlink_to(outside.parent)
    write("project/m.yml", f"provision:\n  {step}\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("project/m.yml")
    message = str(caught.value)
    assert expected in message
    assert message.endswith(HINT)
    assert "secret" not in message


def test_the_manifest_can_allow_sources_outside(write: WriteFiles, outside: Path) -> None:
    write(
        "project/m.yml",
        "allow_sources_outside: true\nprovision:\n  - script: ../host/shadow\n",
    )
    manifest = load_manifest("project/m.yml").manifest
    assert manifest.allow_sources_outside is True


def test_a_link_that_stays_inside_is_fine(write: WriteFiles) -> None:
    write("project/scripts/real.sh", "#!/bin/sh\n")
    (write("project/.keep").parent / "setup.sh").symlink_to("scripts/real.sh")
    write("project/m.yml", "provision:\n  - script: setup.sh\n")
    assert load_manifest("project/m.yml").manifest.provision


def test_a_parent_confines_its_steps_to_its_own_folder(write: WriteFiles) -> None:
    write("base/scripts/base.sh", "#!/bin/sh\n")
    write("base/base.yml", "provision:\n  - script: scripts/base.sh\n")
    write("flavours/web.yml", "extends: ../base/base.yml\n")
    assert load_manifest("flavours/web.yml").manifest.provision


def test_sources_given_on_the_command_line_are_not_confined(
    write: WriteFiles, outside: Path
) -> None:
    write("project/m.yml", "name: x\n")
    loaded = load_manifest("project/m.yml", [f"provision=[{{script: {outside}}}]"])
    assert loaded.manifest.provision


def test_the_key_is_in_the_json_schema() -> None:
    from shipyard.manifest.loader import manifest_json_schema

    schema = manifest_json_schema()
    assert schema["properties"]["allow_sources_outside"]["type"] == "boolean"
