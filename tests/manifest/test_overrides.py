"""``--set key.path=value``: applied after extends, before validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest
from shipyard.manifest.schema import FileStep, ScriptStep, ShellStep

WriteFiles = Callable[..., Path]

BASE = """\
flavour: base
packages:
  include: [curl]
provision:
  - shell: echo one
  - file: {source: files/motd, destination: /etc/motd}
"""


@pytest.fixture
def manifest_file(write: WriteFiles) -> str:
    write("files/motd", "hello\n")
    write("m.yml", BASE)
    return "m.yml"


def test_set_values_are_read_as_yaml(manifest_file: str) -> None:
    manifest = load_manifest(
        manifest_file,
        [
            "volume.size=3GiB",
            "formats=[raw,qcow2]",
            "packages.include=[htop, curl]",
            "packages.docs=true",
            "system.release=trixie",
        ],
    ).manifest
    assert manifest.volume.size == 3 * 1024**3
    assert manifest.formats == ("raw", "qcow2")
    assert manifest.packages.include == ("htop", "curl")
    assert manifest.packages.docs is True
    assert manifest.system.release == "trixie"


def test_set_replaces_lists_and_later_wins(manifest_file: str) -> None:
    manifest = load_manifest(
        manifest_file, ["packages.include=[htop]", "packages.include=[vim]"]
    ).manifest
    assert manifest.packages.include == ("vim",)


def test_set_applies_after_extends(write: WriteFiles, manifest_file: str) -> None:
    write("child.yml", "extends: m.yml\nflavour: child\n")
    manifest = load_manifest("child.yml", ["flavour=override"]).manifest
    assert manifest.flavour == "override"
    assert manifest.packages.include == ("curl",)


def test_set_flow_mapping_merges_nothing_but_replaces(manifest_file: str) -> None:
    manifest = load_manifest(manifest_file, ["system={release: trixie}"]).manifest
    assert manifest.system.release == "trixie"
    assert manifest.system.hostname == "debian"


def test_set_reaches_into_a_list_item(manifest_file: str) -> None:
    manifest = load_manifest(
        manifest_file, ["provision.0.shell=echo two", "provision.1.file.mode=0600"]
    ).manifest
    shell, file = manifest.provision
    assert isinstance(shell, ShellStep) and isinstance(file, FileStep)
    assert shell.shell == "echo two"
    assert file.file.mode == "0600"


def test_set_mode_keeps_its_digits(manifest_file: str) -> None:
    manifest = load_manifest(manifest_file, ["provision.1.file.mode=755"]).manifest
    file = manifest.provision[1]
    assert isinstance(file, FileStep)
    assert file.file.mode == "0755"


def test_set_script_is_relative_to_the_current_folder(
    write: WriteFiles, manifest_file: str, tmp_path: Path
) -> None:
    write("local.sh", "echo local\n")
    manifest = load_manifest(manifest_file, ["provision=[{script: local.sh}]"]).manifest
    assert manifest.provision == (ScriptStep(script=tmp_path / "local.sh"),)


def test_empty_value_is_an_empty_string(manifest_file: str) -> None:
    assert load_manifest(manifest_file, ["description="]).manifest.description == ""


BAD_SETS: list[tuple[list[str], str | None]] = [
    (["volume.size"], "--set volume.size: expected KEY.PATH=VALUE, such as volume.size=3GiB"),
    (["=3GiB"], "--set =3GiB: expected KEY.PATH=VALUE"),
    (["volume..size=1G"], "--set volume..size=1G: 'volume..size' is not a key path"),
    (["volume.size =1G"], None),  # spaces around the key are forgiven
    (["0.size=1G"], "--set 0.size=1G: a key path starts with a key name, not an index"),
    (["formats=[raw, qcow2"], "--set formats=[raw, qcow2: the value '[raw, qcow2' is not a YAML"),
    (["volme.size=3GiB"], "--set volme.size=3GiB: volme: unknown key; did you mean 'volume'?"),
    (
        ["volume.sise=3GiB"],
        "--set volume.sise=3GiB: volume.sise: unknown key; did you mean 'size'?",
    ),
    (["volume.size=3 gigs"], "--set volume.size=3 gigs: volume.size: '3 gigs' has an unknown unit"),
    (
        ["formats=[raw,qcow3]"],
        "--set formats=[raw,qcow3]: formats.1: 'qcow3' is not a known format",
    ),
    (["flavour.name=x"], "--set flavour.name=x: flavour is a string, not a mapping, so it has no"),
    (["provision.5.shell=x"], "--set provision.5.shell=x: provision has 2 item(s), so there is no"),
    (
        ["bootstrap.0.shell=x"],
        "--set bootstrap.0.shell=x: bootstrap is not set, so it has no index",
    ),
    (["packages.0=x"], "--set packages.0=x: packages is a mapping, not a list, so it has no index"),
    (["provision.0.script=nope.sh"], "--set provision.0.script=nope.sh: provision.0: a step is"),
    (["provision=[{script: nope.sh}]"], "--set provision=[{script: nope.sh}]: provision.0.script:"),
]


@pytest.mark.parametrize(("sets", "fragment"), BAD_SETS, ids=[s[0][0] for s in BAD_SETS])
def test_bad_set_is_refused_naming_the_option(
    manifest_file: str, sets: list[str], fragment: str | None
) -> None:
    if fragment is None:
        load_manifest(manifest_file, sets)
        return
    with pytest.raises(ManifestError) as caught:
        load_manifest(manifest_file, sets)
    assert str(caught.value).startswith(fragment)
