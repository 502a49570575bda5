"""``extends``: a child manifest deep-merged over its parent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest
from shipyard.manifest.schema import FileStep, ScriptStep

WriteFiles = Callable[..., Path]

BASE = """\
name: debian-{release}-{flavour}
flavour: base
system:
  release: bookworm
  hostname: base
  user: admin
packages:
  include: [openssh-server, curl]
  exclude: [nano]
volume:
  size: 2GiB
formats: [raw, qcow2]
provision:
  - script: scripts/base.sh
  - file: {source: files/motd, destination: /etc/motd}
"""


@pytest.fixture
def family(write: WriteFiles) -> WriteFiles:
    """A base manifest in base/ with its own scripts; children are written by the test."""
    write("base/base.yml", BASE)
    write("base/scripts/base.sh", "echo base\n")
    write("base/files/motd", "hello\n")
    return write


def test_child_wins_and_mappings_merge(family: WriteFiles) -> None:
    family("web.yml", "extends: base/base.yml\nflavour: web\nsystem:\n  hostname: web\n")
    loaded = load_manifest("web.yml")
    manifest = loaded.manifest
    assert manifest.flavour == "web"
    assert manifest.system.hostname == "web"
    # Keys the child leaves alone keep the parent's values, at every depth.
    assert manifest.system.release == "bookworm"
    assert manifest.system.user == "admin"
    assert manifest.name == "debian-{release}-{flavour}"
    assert manifest.formats == ("raw", "qcow2")
    assert manifest.packages.exclude == ("nano",)


def test_lists_are_replaced_not_concatenated(family: WriteFiles) -> None:
    family("web.yml", "extends: base/base.yml\npackages:\n  include: [nginx]\nformats: [raw]\n")
    manifest = load_manifest("web.yml").manifest
    assert manifest.packages.include == ("nginx",)
    assert manifest.packages.exclude == ("nano",)
    assert manifest.formats == ("raw",)


def test_parent_step_sources_resolve_against_the_parents_folder(
    family: WriteFiles, tmp_path: Path
) -> None:
    family("web.yml", "extends: base/base.yml\n")
    manifest = load_manifest("web.yml").manifest
    script = manifest.provision[0]
    motd = manifest.provision[1]
    assert isinstance(script, ScriptStep) and isinstance(motd, FileStep)
    assert script.script == tmp_path / "base/scripts/base.sh"
    assert motd.file.source == tmp_path / "base/files/motd"


def test_child_steps_resolve_against_the_childs_folder(family: WriteFiles, tmp_path: Path) -> None:
    family("flavours/scripts/web.sh", "echo web\n")
    family(
        "flavours/web.yml", "extends: ../base/base.yml\nprovision:\n  - script: scripts/web.sh\n"
    )
    manifest = load_manifest("flavours/web.yml").manifest
    assert manifest.provision == (ScriptStep(script=tmp_path / "flavours/scripts/web.sh"),)


def test_files_lists_the_chain_child_first(family: WriteFiles, tmp_path: Path) -> None:
    family("web.yml", "extends: base/base.yml\n")
    family("web-big.yml", "extends: web.yml\nvolume: {size: 8GiB}\n")
    loaded = load_manifest("web-big.yml")
    assert loaded.files == (
        tmp_path / "web-big.yml",
        tmp_path / "web.yml",
        tmp_path / "base/base.yml",
    )
    assert loaded.path == Path("web-big.yml")
    assert loaded.manifest.volume.size == 8 * 1024**3
    assert loaded.manifest.system.hostname == "base"


def test_extends_is_consumed(family: WriteFiles) -> None:
    family("web.yml", "extends: base/base.yml\n")
    loaded = load_manifest("web.yml")
    assert loaded.manifest.extends is None
    assert loaded.resolved["extends"] is None


def test_error_in_a_parent_names_the_parents_file_and_line(family: WriteFiles) -> None:
    family("base/base.yml", BASE.replace("size: 2GiB", "size: lots"))
    family("web.yml", "extends: base/base.yml\nflavour: web\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("web.yml")
    assert str(caught.value).startswith("base/base.yml:11: volume.size: 'lots' is not a size")


def test_missing_source_in_a_parent_names_the_parents_line(family: WriteFiles) -> None:
    (Path("base/scripts/base.sh")).unlink()
    family("web.yml", "extends: base/base.yml\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("web.yml")
    assert str(caught.value).startswith(
        "base/base.yml:14: provision.0.script: scripts/base.sh does not exist"
    )


def test_a_child_that_replaces_a_broken_list_is_not_blamed(family: WriteFiles) -> None:
    (Path("base/scripts/base.sh")).unlink()
    family("web.yml", "extends: base/base.yml\nprovision:\n  - shell: echo web\n")
    assert len(load_manifest("web.yml").manifest.provision) == 1


def test_an_overridden_value_is_blamed_on_the_child(family: WriteFiles) -> None:
    family("web.yml", "flavour: web\nextends: base/base.yml\nsystem:\n  release: buster\n")
    with pytest.raises(ManifestError, match=r"^web\.yml:4: system\.release: unknown release"):
        load_manifest("web.yml")


def test_a_cycle_is_an_error_naming_the_chain(write: WriteFiles) -> None:
    write("a.yml", "extends: b.yml\nname: a\n")
    write("b.yml", "extends: c.yml\n")
    write("c.yml", "name: c\nextends: a.yml\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("a.yml")
    assert str(caught.value) == (
        "c.yml:2: extends: the chain a.yml → b.yml → c.yml → a.yml is a cycle"
    )


def test_extending_itself_is_a_cycle(write: WriteFiles) -> None:
    write("a.yml", "extends: ./a.yml\n")
    with pytest.raises(ManifestError, match=r"^a\.yml:1: extends: the chain a\.yml → a\.yml"):
        load_manifest("a.yml")


def test_a_missing_parent_names_the_line_of_extends(write: WriteFiles, tmp_path: Path) -> None:
    write("web.yml", "flavour: web\n\nextends: ../base.yml\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("web.yml")
    assert str(caught.value) == (
        f"web.yml:3: extends: the parent manifest ../base.yml does not exist "
        f"(looked for {tmp_path.parent / 'base.yml'})"
    )


def test_a_parent_that_is_a_folder_is_refused(write: WriteFiles) -> None:
    write("base/.keep")
    write("web.yml", "extends: base\n")
    with pytest.raises(ManifestError, match=r"^web\.yml:1: extends: the parent manifest base is"):
        load_manifest("web.yml")


def test_a_syntax_error_in_a_parent_names_the_parent(write: WriteFiles) -> None:
    write("base.yml", "name: [x\n")
    write("web.yml", "extends: base.yml\n")
    with pytest.raises(ManifestError, match=r"^base\.yml:2:1: YAML syntax error"):
        load_manifest("web.yml")


def test_yaml_merge_keys_work_and_explicit_keys_win(write: WriteFiles) -> None:
    write(
        "m.yml",
        "x-common: &common\n  release: trixie\n  hostname: common\n"
        "system:\n  <<: *common\n  hostname: mine\n",
    )
    # The anchor holder is an unknown key: it is reported, not silently ignored.
    with pytest.raises(ManifestError, match=r"^m\.yml:1: x-common: unknown key"):
        load_manifest("m.yml")
    write("m.yml", "system:\n  <<: {release: trixie, hostname: common}\n  hostname: mine\n")
    system = load_manifest("m.yml").manifest.system
    assert (system.release, system.hostname) == ("trixie", "mine")


def test_a_cycle_through_a_symlink_is_found(write: WriteFiles) -> None:
    write("real/a.yml", "extends: ../link/a.yml\n")
    Path("link").symlink_to("real")
    with pytest.raises(ManifestError, match=r"^real/a\.yml:1: extends: the chain real/a\.yml"):
        load_manifest("real/a.yml")


SECRET = "root:$y$j9T$secrethash:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SECRET, r"^host/shadow: is not a Shipyard manifest: none of its top-level keys is one of"),
        ("token: *secretname\n", r"^host/shadow:1: is not a manifest: it is not valid YAML"),
        ("- 2024-13-01\n", r"^host/shadow:1: the top level of a manifest must be"),
        ("password: !!int secret\n", r"^host/shadow: is not a Shipyard manifest"),
    ],
    ids=["shadow", "undefined alias", "bad date", "tagged value"],
)
def test_a_parent_that_is_not_a_manifest_is_never_quoted(
    write: WriteFiles, text: str, expected: str
) -> None:
    write("host/shadow", text)
    write("m.yml", "name: x\nextends: host/shadow\n")
    with pytest.raises(ManifestError, match=expected) as caught:
        load_manifest("m.yml")
    message = str(caught.value)
    assert "secret" not in message and "root" not in message and "13" not in message


def test_extends_etc_shadow_names_the_file_only(write: WriteFiles) -> None:
    write("m.yml", "name: x\nextends: /etc/shadow\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    message = str(caught.value)
    assert "root:" not in message
    assert message.startswith("/etc/shadow: is not a Shipyard manifest") or (
        "extends: the parent manifest /etc/shadow does not exist" in message
    )
