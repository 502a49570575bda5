"""The manifest's JSON Schema accepts manifests that load and refuses unknown keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shipyard.manifest.loader import load_manifest, manifest_json_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD: dict[str, str] = {
    "minimal": "name: debian-{release}-{arch}\n",
    "full": """\
name: debian-{release}-{flavour}-{arch}-{date}
description: a web server
flavour: web
system: {release: bookworm, architecture: amd64, hostname: web, user: admin,
         timezone: Europe/Berlin, locale: C.UTF-8}
packages: {mirror: http://deb.debian.org/debian, include: [nginx], exclude: [nano],
           components: [main, contrib], docs: false}
volume: {size: 3GiB, filesystem: ext4, boot: [uefi, bios]}
provision:
  - shell: echo hi > /etc/motd
  - script: setup.sh
  - file: {source: setup.sh, destination: /usr/local/bin/setup, mode: 0755, owner: root}
bootstrap:
  - shell: systemctl enable --now nginx
agent: none
formats: [raw, qcow2, vmdk, vhd]
publish:
  - {to: ec2, region: eu-west-1, copy_to: [us-east-1], tags: {team: web}}
  - {to: catalog, channel: stable}
""",
    "size in bytes": "volume: {size: 4294967296}\n",
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = manifest_json_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_schema_has_a_title_and_no_id() -> None:
    schema = manifest_json_schema()
    assert schema["title"] == "Shipyard manifest"
    assert "$id" not in schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert {"name", "system", "packages", "volume", "provision", "formats"} <= set(
        schema["properties"]
    )
    assert "{release}" in schema["properties"]["name"]["description"]
    json.dumps(schema)  # plain JSON, printable as is


@pytest.mark.parametrize("text", GOOD.values(), ids=GOOD.keys())
def test_schema_accepts_manifests_that_load(
    validator: Any, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("setup.sh").write_text("echo\n")
    Path("m.yml").write_text(text)
    load_manifest("m.yml")
    validator.validate(yaml.safe_load(text))


def test_schema_accepts_the_examples(validator: Any, tmp_path: Path) -> None:
    import shutil

    # A copy, with a stand-in for what `make` builds (the frontend image's wheels).
    examples = tmp_path / "examples"
    shutil.copytree(EXAMPLES, examples, ignore=shutil.ignore_patterns("dist"))
    (examples / "dist").mkdir()
    (examples / "dist" / "wheels.tar").write_bytes(b"")
    manifests = [p for p in sorted(examples.glob("*.yml")) if p.name != "profile.yml"]
    assert {p.name for p in manifests} >= {"minimal.yml", "frontend.yml", "backend.yml"}
    for path in manifests:
        load_manifest(path)
        validator.validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "document",
    [
        {"pakages": {}},
        {"system": {"relase": "bookworm"}},
        {"volume": {"size": "2GiB", "extra": 1}},
        {"provision": [{"shell": "x", "sudo": True}]},
        {"provision": [{"run": "x"}]},
        {"formats": ["qcow3"]},
        {"agent": "systemd"},
        {"volume": {"boot": ["pxe"]}},
        {"publish": [{"to": "ec2", "regoin": "x"}]},
    ],
)
def test_schema_refuses_unknown_keys_and_values(validator: Any, document: dict[str, Any]) -> None:
    assert not validator.is_valid(document)
