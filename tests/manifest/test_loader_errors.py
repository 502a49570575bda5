"""Bad manifests: each is refused with one sentence naming the file, the line and the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest

WriteFiles = Callable[..., Path]

# (case, manifest text, expected message fragment); the manifest is written as m.yml
# next to scripts/ok.sh, files/ok.conf and an empty folder named folder/.
BAD: list[tuple[str, str, str]] = [
    (
        "syntax error",
        "name: x\nsystem: [bookworm\n",
        "m.yml:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 2)",
    ),
    (
        "bad indentation",
        "name: x\n  flavour: y\n",
        "m.yml:2:10: YAML syntax error: mapping values are not allowed here",
    ),
    ("tab", "name: x\n\tflavour: y\n", "m.yml:2:1: YAML syntax error: found character '\\t'"),
    ("two documents", "name: x\n---\nname: y\n", "m.yml:2:1: YAML syntax error: but found"),
    ("empty file", "", "m.yml:1: the manifest is empty; expected a mapping of keys"),
    ("only comments", "# nothing yet\n", "m.yml:1: the manifest is empty"),
    (
        "top level list",
        "- name: x\n",
        "m.yml:1: the top level of a manifest must be a mapping of keys such as name, system "
        "and packages, not a list",
    ),
    ("top level string", "debian\n", "m.yml:1: the top level of a manifest must be a mapping"),
    (
        "unknown key, close",
        "name: x\npakages:\n  include: [htop]\n",
        "m.yml:2: pakages: unknown key; did you mean 'packages'?",
    ),
    (
        "unknown key, far",
        "name: x\nwhatever: 1\n",
        "m.yml:2: whatever: unknown key; expected one of name, description, extends",
    ),
    (
        "unknown nested key",
        "system:\n  release: bookworm\n  hostnme: web\n",
        "m.yml:3: system.hostnme: unknown key; did you mean 'hostname'?",
    ),
    (
        "unknown key in a step",
        "provision:\n  - shell: echo hi\n    sudo: true\n",
        "m.yml:3: provision.0.sudo: unknown key; expected one of shell",
    ),
    (
        "mapping expected",
        "system: bookworm\n",
        "m.yml:1: system: expected a mapping, got a string ('bookworm')",
    ),
    (
        "list expected",
        "formats: qcow2\n",
        "m.yml:1: formats: expected a list, got a string ('qcow2'); write a list such as [qcow2]",
    ),
    (
        "string expected",
        "system:\n  hostname: yes\n",
        "m.yml:2: system.hostname: expected a string, got a boolean (True); quote the value",
    ),
    ("null section", "system:\n", "m.yml:1: system: expected a mapping, got nothing (null)"),
    (
        "unknown host key type",
        "system:\n  ssh_host_keys: [ed25519, dsa]\n",
        "m.yml:2: system.ssh_host_keys.1: 'dsa' is not a known value; "
        "expected one of ed25519, ecdsa, rsa",
    ),
    (
        "no host key type",
        "system:\n  ssh_host_keys: []\n",
        "m.yml:2: system.ssh_host_keys: name at least one key type (ed25519, ecdsa, rsa)",
    ),
    (
        "bad size",
        "volume:\n  size: two gigs\n",
        "m.yml:2: volume.size: 'two gigs' is not a size; use a number and a unit such as 2GiB",
    ),
    (
        "unknown size unit",
        "volume:\n  size: 2 gigs\n",
        "m.yml:2: volume.size: '2 gigs' has an unknown unit 'gigs'; use B, KiB, MiB, GiB",
    ),
    (
        "size too small",
        "volume: {size: 100MiB}\n",
        "m.yml:1: volume.size: the volume must be at least 512MiB",
    ),
    (
        "unknown release",
        "system:\n  release: buster\n",
        "m.yml:2: system.release: unknown release 'buster'; expected one of bullseye, bookworm,",
    ),
    (
        "unknown format",
        "formats:\n  - raw\n  - qcow3\n",
        "m.yml:3: formats.1: 'qcow3' is not a known format; expected one of raw, qcow2, vmdk, vhd",
    ),
    (
        "unknown boot mode",
        "volume:\n  boot: [uefi, pxe]\n",
        "m.yml:2: volume.boot.1: 'pxe' is not a known boot mode; expected one of uefi, bios",
    ),
    (
        "unknown agent",
        "agent: systemd\n",
        "m.yml:1: agent: 'systemd' is not a known agent; "
        "expected one of shipyard, cloud-init, none",
    ),
    (
        "unknown architecture",
        "system: {architecture: i386}\n",
        "m.yml:1: system.architecture: 'i386' is not a known architecture; expected one of amd64",
    ),
    (
        "missing script",
        "provision:\n  - shell: echo hi\n  - script: scripts/nope.sh\n",
        "m.yml:3: provision.1.script: scripts/nope.sh does not exist (looked for ",
    ),
    (
        "script is a folder",
        "provision:\n  - script: folder\n",
        "m.yml:2: provision.0.script: folder is a directory; expected a file",
    ),
    (
        "missing file source",
        "provision:\n  - file:\n      source: files/nope.conf\n      destination: /etc/a\n",
        "m.yml:3: provision.0.file.source: files/nope.conf does not exist",
    ),
    (
        "missing bootstrap script",
        "bootstrap:\n  - script: first-boot.sh\n",
        "m.yml:2: bootstrap.0.script: first-boot.sh does not exist",
    ),
    (
        "file step without destination",
        "provision:\n  - file:\n      source: files/ok.conf\n",
        "m.yml:2: provision.0.file: missing the required key 'destination'",
    ),
    (
        "required key misspelt",
        "provision:\n  - file: {sorce: files/ok.conf, destination: /etc/a}\n",
        "m.yml:2: provision.0.file.sorce: unknown key; did you mean 'source'?",
    ),
    (
        "relative destination",
        "provision:\n  - file: {source: files/ok.conf, destination: etc/a}\n",
        "m.yml:2: provision.0.file.destination: 'etc/a' must be an absolute path",
    ),
    (
        "bad file mode",
        "provision:\n  - file: {source: files/ok.conf, destination: /etc/a, mode: 999}\n",
        "m.yml:2: provision.0.file.mode: '999' is not a file mode such as \"0644\"",
    ),
    (
        "step with two kinds",
        "provision:\n  - shell: echo\n    script: scripts/ok.sh\n",
        "m.yml:2: provision.0: a step is exactly one of shell, script, file or ansible; "
        "this one has shell and script",
    ),
    (
        "step kind misspelt",
        "provision:\n  - shel: echo\n",
        "m.yml:2: provision.0: unknown kind of step 'shel'; did you mean 'shell'?",
    ),
    (
        "step kind unknown",
        "provision:\n  - chef: site.rb\n",
        "m.yml:2: provision.0: a step needs one key of shell, script, file or ansible; "
        "it has 'chef'",
    ),
    (
        "step is a string",
        "provision:\n  - echo hi\n",
        "m.yml:2: provision.0: a step must be a mapping with one key of shell, script, file or "
        "ansible, "
        "not a string",
    ),
    (
        "empty shell step",
        "provision:\n  - shell: ''\n",
        "m.yml:2: provision.0.shell: must not be empty",
    ),
    (
        "file step at first boot",
        "bootstrap:\n  - file: {source: files/ok.conf, destination: /etc/a}\n",
        "m.yml:2: bootstrap.0: bootstrap steps are shell, script or ansible; "
        "put file steps in provision",
    ),
    (
        "duplicate key",
        "name: x\nsystem:\n  release: bookworm\n  release: trixie\n",
        "m.yml:4: system.release: duplicate key (first given at line 3)",
    ),
    (
        "duplicate top-level key",
        "formats: [raw]\nname: x\nformats: [qcow2]\n",
        "m.yml:3: formats: duplicate key (first given at line 1)",
    ),
    (
        "key read as a boolean",
        "packages:\n  on: true\n",
        "m.yml:2: packages: the key 'on' is read as a boolean, not a name; quote it",
    ),
    (
        "unknown variable",
        "flavour: web\nname: debian-{relase}-{arch}\n",
        "m.yml:2: name: 'debian-{relase}-{arch}' uses the unknown variable {relase}; "
        "did you mean {release}?",
    ),
    (
        "malformed brace",
        "name: debian-{release\n",
        "m.yml:1: name: 'debian-{release' has a malformed brace",
    ),
    (
        "unknown variable in the description",
        "name: x\ndescription: built {when}\n",
        "m.yml:2: description: 'built {when}' uses the unknown variable {when}; expected one of",
    ),
    (
        "formatted variable",
        "name: debian-{date:%Y}\n",
        "m.yml:1: name: 'debian-{date:%Y}' formats {date}; variables take no format",
    ),
    (
        "impossible date",
        "description: 2024-13-01\n",
        "m.yml:1: description: cannot read the value '2024-13-01' (month must be in 1..12)",
    ),
    ("date for a string", "description: 2024-12-01\n", "m.yml:1: description: expected a string"),
    (
        "bad package name",
        "packages:\n  include:\n    - Not_A_Package\n",
        "m.yml:2: packages.include: 'Not_A_Package' is not a Debian package name",
    ),
    (
        "publish target without to",
        "publish:\n  - region: eu-west-1\n",
        "m.yml:2: publish.0: a publish target needs 'to: ec2' or 'to: catalog'",
    ),
    (
        "publish key misspelt",
        "publish:\n  - to: ec2\n    regoin: eu-west-1\n",
        "m.yml:3: publish.0.regoin: unknown key; did you mean 'region'?",
    ),
    (
        "extends is not a path",
        "extends: [base.yml]\n",
        "m.yml:1: extends: expected the path of a parent manifest, got a list",
    ),
    (
        "missing parent",
        "name: x\nextends: base.yml\n",
        "m.yml:2: extends: the parent manifest base.yml does not exist (looked for ",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest_is_refused_with_its_line(write: WriteFiles, text: str, expected: str) -> None:
    write("scripts/ok.sh", "#!/bin/sh\necho ok\n")
    write("files/ok.conf", "ok\n")
    write("folder/.keep")
    write("m.yml", text)
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    message = str(caught.value)
    assert expected in message
    assert message.startswith("m.yml:")
    assert "\n" not in message
    assert "Traceback" not in message and "pydantic" not in message


def test_a_missing_manifest_file_is_named(write: WriteFiles) -> None:
    with pytest.raises(ManifestError, match=r"^nowhere\.yml: no such manifest file$"):
        load_manifest("nowhere.yml")


def test_a_folder_is_not_a_manifest(write: WriteFiles) -> None:
    write("folder/.keep")
    with pytest.raises(ManifestError, match=r"^folder: is a directory, not a manifest file$"):
        load_manifest("folder")


def test_binary_file_is_not_a_manifest(write: WriteFiles) -> None:
    write("m.yml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ManifestError, match=r"^m\.yml: is not UTF-8 text"):
        load_manifest("m.yml")


def test_every_mistake_is_reported_in_one_pass_in_line_order(write: WriteFiles) -> None:
    write(
        "m.yml",
        "name: x\n"
        "sytem:\n"
        "  release: bookworm\n"
        "volume:\n"
        "  size: 2 GB\n"
        "  boot: [uefi, floppy]\n"
        "provision:\n"
        "  - {shel: echo hi}\n"
        "formats: [raw, iso]\n",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    assert caught.value.problems == (
        "m.yml:2: sytem: unknown key; did you mean 'system'?",
        "m.yml:5: volume.size: '2 GB' is not a size: GB is ambiguous (decimal or binary); "
        "write 2GiB for binary units",
        "m.yml:6: volume.boot.1: 'floppy' is not a known boot mode; expected one of uefi, bios",
        "m.yml:8: provision.0: unknown kind of step 'shel'; did you mean 'shell'?",
        "m.yml:9: formats.1: 'iso' is not a known format; expected one of raw, qcow2, vmdk, vhd",
    )


def test_the_cli_prints_each_mistake_on_a_line_of_its_own(
    write: WriteFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    from shipyard.cli.main import main

    write("m.yml", "name: x\nflavour: 1\nvolume: {size: 1 MB}\n")
    assert main(["manifest", "validate", "m.yml"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("shipyard: error: m.yml:") for line in err)
    assert not any("Value error" in line for line in err)


def _alias_bomb(levels: int) -> str:
    """Each level lists the previous one nine times: 9**levels values from a few bytes."""
    lines = ["name: x", "x-0: &l0 [a, b, c, d, e, f, g, h, i]"]
    for level in range(1, levels + 1):
        lines.append(f"x-{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(write: WriteFiles) -> None:
    write("m.yml", _alias_bomb(6))
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    assert str(caught.value) == (
        "m.yml:6: x-4.0: aliases expand to more than 10000 values, far more than a manifest "
        "needs; nest fewer aliases"
    )


def test_aliases_a_manifest_really_uses_are_fine(write: WriteFiles) -> None:
    write(
        "m.yml",
        "name: &n web\nflavour: *n\nx-pkgs: &p [htop, curl]\n"
        "packages: {include: *p}\nsystem: &s {hostname: *n}\n",
    )
    with pytest.raises(ManifestError, match=r"^m\.yml:3: x-pkgs: unknown key"):
        load_manifest("m.yml")
    write("m.yml", "name: &n web\nflavour: *n\nsystem: {hostname: *n}\n")
    assert load_manifest("m.yml").manifest.system.hostname == "web"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nx: &a [*a]\n", "m.yml:2: x.0: an alias refers to the anchor that contains it"),
        (
            "name: x\nsystem: &s {hostname: h, more: *s}\n",
            "m.yml:2: system.more: an alias refers to the anchor that contains it",
        ),
        (
            "name: x\nsystem: &s {<<: *s}\n",
            "m.yml:2: system: an alias refers to the anchor that contains it",
        ),
    ],
    ids=["list", "mapping", "merge key"],
)
def test_a_recursive_anchor_is_one_sentence(write: WriteFiles, text: str, expected: str) -> None:
    write("m.yml", text)
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    assert str(caught.value).startswith(expected)
    assert str(caught.value).endswith("anchors cannot hold themselves")


@pytest.mark.parametrize("levels", [60, 5000])
def test_deep_nesting_is_one_sentence(write: WriteFiles, levels: int) -> None:
    write("m.yml", "name: x\ndescription: " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(ManifestError, match=r"values nest deeper than 50 levels"):
        load_manifest("m.yml")
