"""load_manifest on good manifests: the model, the chain, the digest, the resolved form."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

from shipyard.manifest.loader import LoadedManifest, load_manifest
from shipyard.manifest.schema import FileStep, ScriptStep, ShellStep

WriteFiles = Callable[..., Path]

MANIFEST = """\
name: debian-{release}-{flavour}-{arch}-{date}
flavour: web
system:
  release: trixie
packages:
  include: [nginx]
volume:
  size: 3GiB
  boot: [uefi]
provision:
  - shell: echo hi > /etc/motd
  - script: scripts/setup.sh
  - file:
      source: files/site.conf
      destination: /etc/nginx/sites-enabled/site.conf
      mode: 0600
      owner: root:www-data
bootstrap:
  - script: scripts/first-boot.sh
formats: [qcow2]
agent: none
"""


@pytest.fixture
def loaded(write: WriteFiles) -> LoadedManifest:
    write("scripts/setup.sh", "#!/bin/sh\necho setup\n")
    write("scripts/first-boot.sh", "#!/bin/sh\necho first\n")
    write("files/site.conf", "server {}\n")
    write("m.yml", MANIFEST)
    return load_manifest("m.yml")


def test_a_good_manifest_loads_into_the_frozen_model(loaded: LoadedManifest) -> None:
    manifest = loaded.manifest
    assert manifest.system.release == "trixie"
    assert manifest.volume.size == 3 * 1024**3
    assert manifest.volume.boot == ("uefi",)
    assert manifest.formats == ("raw", "qcow2")
    assert manifest.agent == "none"
    kinds = [type(step).__name__ for step in manifest.provision]
    assert kinds == [ShellStep.__name__, ScriptStep.__name__, FileStep.__name__]
    with pytest.raises(pydantic.ValidationError):
        manifest.system.release = "sid"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.sha256 = "x"  # type: ignore[misc]


def test_step_sources_become_absolute(loaded: LoadedManifest, tmp_path: Path) -> None:
    script = loaded.manifest.provision[1]
    file = loaded.manifest.provision[2]
    first_boot = loaded.manifest.bootstrap[0]
    assert isinstance(script, ScriptStep) and isinstance(file, FileStep)
    assert isinstance(first_boot, ScriptStep)
    assert script.script == tmp_path / "scripts/setup.sh"
    assert file.file.source == tmp_path / "files/site.conf"
    assert first_boot.script == tmp_path / "scripts/first-boot.sh"
    # An unquoted 0600 is the mode the author meant, not the octal number YAML reads.
    assert (file.file.mode, file.file.owner) == ("0600", "root:www-data")


def test_path_files_and_resolved(loaded: LoadedManifest, tmp_path: Path) -> None:
    assert loaded.path == Path("m.yml")
    assert loaded.files == (tmp_path / "m.yml",)
    assert loaded.resolved == loaded.manifest.model_dump(mode="json")
    assert loaded.resolved["provision"][1]["script"] == str(tmp_path / "scripts/setup.sh")


def test_digest_is_stable(loaded: LoadedManifest) -> None:
    assert load_manifest("m.yml").sha256 == loaded.sha256
    assert len(loaded.sha256) == 64


def test_digest_ignores_layout_and_comments(loaded: LoadedManifest, write: WriteFiles) -> None:
    write("m.yml", "# the same manifest, written differently\n" + MANIFEST.replace("3GiB", "3G"))
    assert load_manifest("m.yml").sha256 == loaded.sha256


@pytest.mark.parametrize(
    "change",
    [
        ("scripts/setup.sh", "#!/bin/sh\necho changed\n"),
        ("files/site.conf", "server { listen 80; }\n"),
        ("scripts/first-boot.sh", "#!/bin/sh\n"),
        ("m.yml", MANIFEST.replace("echo hi", "echo hello")),
    ],
    ids=lambda change: change[0],
)
def test_digest_follows_every_input(
    loaded: LoadedManifest, write: WriteFiles, change: tuple[str, str]
) -> None:
    write(*change)
    assert load_manifest("m.yml").sha256 != loaded.sha256


def test_digest_follows_overrides(loaded: LoadedManifest) -> None:
    assert load_manifest("m.yml", ["volume.size=4GiB"]).sha256 != loaded.sha256


def test_defaults_fill_a_tiny_manifest(write: WriteFiles) -> None:
    write("m.yml", "flavour: tiny\n")
    manifest = load_manifest(Path("m.yml")).manifest
    assert manifest.system.release == "bookworm"
    assert manifest.volume.boot == ("uefi", "bios")
    assert manifest.formats == ("raw",)
    assert manifest.provision == ()


def test_digest_does_not_depend_on_where_the_manifest_lives(tmp_path: Path) -> None:
    digests = []
    for place in ("one", "two/deeper"):
        folder = tmp_path / place
        (folder / "scripts").mkdir(parents=True)
        (folder / "scripts" / "s.sh").write_text("#!/bin/sh\necho hi\n")
        (folder / "m.yml").write_text("provision:\n  - script: scripts/s.sh\n")
        digests.append(load_manifest(folder / "m.yml").sha256)
    assert digests[0] == digests[1]
