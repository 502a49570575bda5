"""Variables in ``name`` and ``description``, checked at load time, filled in by render_name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest, render_name
from shipyard.manifest.schema import Manifest

WriteFiles = Callable[..., Path]

NOW = datetime(2026, 3, 7, 9, 5, 2, tzinfo=UTC)
WEB = Manifest.model_validate(
    {"flavour": "web", "system": {"release": "trixie", "architecture": "arm64"}}
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("debian-{release}-{flavour}-{arch}-{date}", "debian-trixie-web-arm64-20260307"),
        ("{release}-{time}", "trixie-090502"),
        ("img-{build_id}", "img-b-123"),
        ("no variables at all", "no variables at all"),
        ("{{literal}}-{arch}", "{literal}-arm64"),
        ("{date}{date}", "2026030720260307"),
    ],
)
def test_render_name_fills_in_variables(template: str, expected: str) -> None:
    assert render_name(template, WEB, build_id="b-123", now=NOW) == expected


def test_date_and_time_are_utc() -> None:
    # 01:30 in UTC+2 is 23:30 UTC the day before.
    local = datetime(2026, 3, 7, 1, 30, 0, tzinfo=timezone(timedelta(hours=2)))
    assert render_name("{date}T{time}", WEB, build_id="x", now=local) == "20260306T233000"


def test_naive_time_is_taken_as_utc() -> None:
    naive = datetime(2026, 3, 7, 1, 30, 0)
    assert render_name("{date}-{time}", WEB, build_id="x", now=naive) == "20260307-013000"


def test_default_name_uses_the_manifest(write: WriteFiles) -> None:
    write("m.yml", "flavour: mini\nsystem: {release: bookworm}\n")
    manifest = load_manifest("m.yml").manifest
    assert render_name(manifest.name, manifest, build_id="x", now=NOW) == (
        "debian-bookworm-mini-amd64-20260307"
    )


def test_description_variables_are_checked_and_rendered(write: WriteFiles) -> None:
    write("m.yml", "description: 'Debian {release} built {date} as {build_id}'\n")
    manifest = load_manifest("m.yml").manifest
    rendered = render_name(manifest.description, manifest, build_id="b1", now=NOW)
    assert rendered == "Debian bookworm built 20260307 as b1"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("x-{arc}", "uses the unknown variable {arc}; did you mean {arch}?"),
        ("x-{hostname}", "uses the unknown variable {hostname}; expected one of {release}, {arch}"),
        ("x-{}", "has an empty {}"),
        ("x-{release", "has a malformed brace"),
        ("x-release}", "has a malformed brace"),
        ("x-{arch!r}", "formats {arch}; variables take no format"),
        ("x-{system.release}", "uses the unknown variable {system.release}"),
    ],
)
def test_bad_templates_are_refused_at_their_line(
    write: WriteFiles, name: str, fragment: str
) -> None:
    write("m.yml", f"flavour: web\nname: '{name}'\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest("m.yml")
    message = str(caught.value)
    assert message.startswith(f"m.yml:2: name: '{name}' ")
    assert fragment in message


def test_a_bad_template_from_set_names_the_option(write: WriteFiles) -> None:
    write("m.yml", "flavour: web\n")
    with pytest.raises(ManifestError, match=r"^--set name=x-\{when\}: name: 'x-\{when\}' uses"):
        load_manifest("m.yml", ["name=x-{when}"])
