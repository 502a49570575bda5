"""What an ec2 publish asks for, decided from the build and the target (data-driven)."""

from __future__ import annotations

from pathlib import Path

import pytest
from awsloop import make_build

from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target
from shipyard.publish.ec2_plan import ami_name, make_plan
from shipyard.record import load


@pytest.mark.parametrize(
    ("arch", "boots", "asked", "expected"),
    [
        ("amd64", ("uefi", "bios"), None, "uefi-preferred"),
        ("amd64", ("uefi",), None, "uefi"),
        ("amd64", ("bios",), None, "legacy-bios"),
        ("amd64", ("uefi", "bios"), "legacy-bios", "legacy-bios"),
        ("amd64", ("uefi", "bios"), "uefi", "uefi"),
        ("arm64", ("uefi",), None, "uefi"),
        ("arm64", ("uefi", "bios"), None, "uefi"),
    ],
)
def test_boot_mode(
    tmp_path: Path, arch: str, boots: tuple[str, ...], asked: str | None, expected: str
) -> None:
    build = make_build(tmp_path, architecture=arch, boot_modes=boots)
    plan = make_plan(load(build), Ec2Target(to="ec2", boot_mode=asked))  # type: ignore[arg-type]
    assert plan.boot_mode == expected
    assert plan.architecture == {"amd64": "x86_64", "arm64": "arm64"}[arch]


@pytest.mark.parametrize(
    ("arch", "boots", "asked", "message"),
    [
        ("amd64", ("uefi",), "legacy-bios", "needs a build that boots with bios"),
        ("amd64", ("bios",), "uefi-preferred", "needs a build that boots with uefi"),
        ("arm64", ("uefi", "bios"), "legacy-bios", "arm64 images boot with UEFI only"),
    ],
)
def test_impossible_boot_modes(
    tmp_path: Path, arch: str, boots: tuple[str, ...], asked: str, message: str
) -> None:
    build = make_build(tmp_path, architecture=arch, boot_modes=boots)
    with pytest.raises(PublishError, match=message):
        make_plan(load(build), Ec2Target(to="ec2", boot_mode=asked))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("debian-bookworm-minimal-amd64-20261122", "debian-bookworm-minimal-amd64-20261122"),
        ("debian:12 {x}", "debian-12 -x-"),
        ("a" * 200, "a" * 128),
    ],
)
def test_ami_names_are_made_acceptable(name: str, expected: str) -> None:
    assert ami_name(name) == expected


def test_tags_carry_the_build_and_the_users_tags(tmp_path: Path) -> None:
    build = make_build(tmp_path)
    plan = make_plan(load(build), Ec2Target(to="ec2", tags={"team": "x"}, name="custom-name"))
    assert plan.name == "custom-name"
    assert plan.tags == {
        "Name": "custom-name",
        "shipyard:build-id": "20261122-000000-abcd",
        "shipyard:manifest-sha256": "0" * 64,
        "team": "x",
    }
    assert plan.description == "a test image"
