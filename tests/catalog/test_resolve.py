"""Resolve: the newest matching version, skipping deprecated and other-channel ones."""

from __future__ import annotations

import pytest

from shipyard.catalog import resolve
from shipyard.catalog.index import build_products
from shipyard.catalog.records import Ami, Download, VersionRecord, product_id
from shipyard.errors import UsageError


def rec(
    flavour: str,
    version: str,
    *,
    release: str = "bookworm",
    arch: str = "amd64",
    channel: str = "daily",
    deprecated: bool = False,
    regions: tuple[str, ...] = (),
    ftypes: tuple[str, ...] = ("raw", "qcow2"),
) -> VersionRecord:
    sha = (version.replace(".", "") + flavour).ljust(64, "0")[:64]
    return VersionRecord(
        product_id=product_id(release, arch, flavour),
        version=version,
        release=release,
        arch=arch,
        flavour=flavour,
        channel=channel,  # type: ignore[arg-type]
        deprecated=deprecated,
        build_id=f"b-{flavour}-{release}-{arch}-{version}",
        name=f"debian-{release}-{flavour}",
        created="2026-11-20T00:00:00+00:00",
        downloads={
            f"disk.{f}": Download(ftype=f, path=f"blobs/{f}/{sha}", size=1, sha256=sha)
            for f in ftypes
        },
        amis={r: Ami(region=r, id=f"ami-{version.replace('.', '')}{r[-1]}") for r in regions},
    )


RECORDS = [
    rec("minimal", "20261101", channel="stable", regions=("us-east-1", "eu-west-1")),
    rec("minimal", "20261110", channel="stable", regions=("us-east-1",)),
    rec("minimal", "20261115", deprecated=True, regions=("us-east-1", "eu-west-1")),
    rec("minimal", "20261120", regions=("eu-west-1",), ftypes=("raw",)),
    rec("minimal", "20261120.1", channel="daily", ftypes=("qcow2",)),
    rec("web", "20261118", channel="stable", regions=("us-east-1",)),
    rec("web", "20261119", release="trixie"),
    rec("minimal", "20261112", arch="arm64", regions=("us-east-1",)),
]

CASES = [
    # filters, expected (flavour, release, arch, version) or None
    (["flavour=minimal", "arch=amd64"], ("minimal", "bookworm", "amd64", "20261120.1")),
    (["flavour=minimal", "arch=amd64", "ftype=raw"], ("minimal", "bookworm", "amd64", "20261120")),
    (["flavour=minimal", "channel=stable"], ("minimal", "bookworm", "amd64", "20261110")),
    (
        ["flavour=minimal", "arch=amd64", "region=us-east-1"],
        ("minimal", "bookworm", "amd64", "20261110"),
    ),
    (
        ["flavour=minimal", "arch=amd64", "region=eu-west-1"],
        ("minimal", "bookworm", "amd64", "20261120"),
    ),
    (
        ["flavour=minimal", "region=eu-west-1", "channel=stable"],
        ("minimal", "bookworm", "amd64", "20261101"),
    ),
    (["flavour=minimal", "arch=arm64"], ("minimal", "bookworm", "arm64", "20261112")),
    (["flavour=web"], ("web", "trixie", "amd64", "20261119")),
    (["flavour=web", "release=bookworm"], ("web", "bookworm", "amd64", "20261118")),
    (["flavour=web", "release!=trixie"], ("web", "bookworm", "amd64", "20261118")),
    (["flavour~^we", "release~^book"], ("web", "bookworm", "amd64", "20261118")),
    (
        ["release=bookworm", "channel=stable", "region=us-east-1"],
        ("web", "bookworm", "amd64", "20261118"),
    ),
    (["flavour=minimal", "version~^202611(0|15)"], ("minimal", "bookworm", "amd64", "20261101")),
    (["flavour=db"], None),
    (["flavour=web", "region=eu-west-1"], None),
    (["flavour=minimal", "ftype=vmdk"], None),
]


@pytest.fixture(scope="module")
def view() -> resolve.View:
    return resolve.View.from_docs(build_products(RECORDS, "now"))


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_resolve_table(
    view: resolve.View, filters: list[str], expected: tuple[str, str, str, str] | None
) -> None:
    image = resolve.resolve(view, resolve.parse_filters(filters))
    if expected is None:
        assert image is None
        return
    assert image is not None
    f = image.fields
    assert (f["flavour"], f["release"], f["arch"], image.version) == expected
    assert not image.deprecated


def test_resolve_narrows_items_to_what_was_asked(view: resolve.View) -> None:
    image = resolve.resolve(view, resolve.parse_filters(["flavour=minimal", "region=us-east-1"]))
    assert image is not None
    assert list(image.amis) == ["us-east-1"]
    image = resolve.resolve(view, resolve.parse_filters(["flavour=minimal", "ftype=qcow2"]))
    assert image is not None and list(image.downloads) == ["disk.qcow2"]


def test_list_includes_deprecated_versions_newest_first(view: resolve.View) -> None:
    found = resolve.matching(view, resolve.parse_filters(["flavour=minimal", "arch=amd64"]))
    assert [i.version for i in found] == [
        "20261120.1",
        "20261120",
        "20261115",
        "20261110",
        "20261101",
    ]
    assert [i.deprecated for i in found].count(True) == 1


@pytest.mark.parametrize("bad", ["flavour", "=x", "flavour~(", "fla vour=x"])
def test_bad_filters_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        resolve.parse_filter(bad)


# Without RE2 this search backtracks 2**64 times against a 64-character sha256: the
# timeout turns that hang into a failure.
@pytest.mark.timeout(60)
def test_a_backtracking_regex_ends_at_once(view: resolve.View) -> None:
    hostile = resolve.parse_filters([r"sha256~^([\w-]|[\w-])*!"])
    assert resolve.matching(view, hostile) == []
    assert resolve.resolve(view, resolve.parse_filters([r"flavour~^(w|e|b)+$"])) is not None


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (r"build_id~(a)\1", "is not an RE2 regular expression"),
        (r"build_id~(?=a)b", "is not an RE2 regular expression"),
        ("build_id~" + "a" * 257, "at most 256 are allowed"),
    ],
)
def test_regexes_without_a_cost_bound_are_refused(bad: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        resolve.parse_filter(bad)
    assert "\n" not in str(caught.value)
