r"""Choosing an image: simplestreams-style filters over the catalog's products.

A filter is ``key=value``, ``key!=value`` or ``key~regex`` (searched anywhere). Keys name
product fields (os, release, arch, flavour), version fields (channel, build_id, ...)
or item fields: ftype/path/sha256 select downloads, region/id/boot_mode select AMIs.
The answer is the newest version that matches and is not deprecated.

Anyone may send a ``~`` filter to the catalog server, so regexes run on RE2, whose cost
grows linearly with the text: Python's ``re`` backtracks, and ``^([\w-]|[\w-])*!``
took 0.5 s against a 23-character build id, doubling with each character. RE2 has no
backreferences or lookaround; such patterns are refused with one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import re2

from shipyard.catalog import index, records
from shipyard.errors import CatalogError, UsageError

DOWNLOAD_KEYS = frozenset({"ftype", "path", "size", "sha256"})
AMI_KEYS = frozenset({"region", "id", "virt", "root_store", "boot_mode", "snapshot_id"})
PRODUCT_KEYS = ("os", "release", "arch", "flavour")
ALIASES = {"architecture": "arch", "flavor": "flavour", "version_name": "version"}
_FILTER = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)(!=|~|=)(.*)$")
# Real filters are a few dozen characters; the cap keeps RE2's compile work and memory small.
MAX_PATTERN = 256
_RE2_MEMORY = 1 << 20


class Pattern(Protocol):
    def search(self, text: str) -> object: ...


@dataclass(frozen=True)
class Filter:
    key: str
    op: str  # "=", "!=", "~"
    value: str
    pattern: Pattern | None = None

    def matches(self, actual: Any) -> bool:
        text = (
            None
            if actual is None
            else str(actual).lower()
            if isinstance(actual, bool)
            else str(actual)
        )
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        return text is not None and self.pattern is not None and bool(self.pattern.search(text))

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_filter(text: str) -> Filter:
    """One filter from ``key=value``, ``key!=value`` or ``key~regex``."""
    match = _FILTER.match(text)
    if not match:
        raise UsageError(f"{text!r} is not a filter (expected key=value, key!=value or key~regex)")
    key, op, value = match.groups()
    key = ALIASES.get(key, key)
    pattern = compile_pattern(text, value) if op == "~" else None
    return Filter(key, op, value, pattern)


def compile_pattern(text: str, value: str) -> Pattern:
    """The RE2 pattern of filter ``text``, whose cost to search is linear in the text searched."""
    if len(value) > MAX_PATTERN:
        raise UsageError(
            f"filter {text[:40]!r}...: the regular expression is {len(value)} characters "
            f"long; at most {MAX_PATTERN} are allowed"
        )
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _RE2_MEMORY
    try:
        pattern: Pattern = re2.compile(value, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args else "invalid"
        raise UsageError(
            f"filter {text!r}: {value!r} is not an RE2 regular expression ({reason})",
            hint="catalog filters use RE2 syntax: no backreferences or lookaround",
        ) from None
    return pattern


def parse_filters(texts: Iterable[str]) -> list[Filter]:
    return [parse_filter(t) for t in texts]


@dataclass
class Image:
    """One version of one product with its downloads and AMIs."""

    product_id: str
    version: str
    fields: dict[str, Any]
    downloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    amis: dict[str, dict[str, Any]] = field(default_factory=dict)
    sort_key: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.sort_key = records.version_key(self.version)

    @property
    def deprecated(self) -> bool:
        return bool(self.fields.get("deprecated"))

    def value(self, key: str) -> Any:
        if key == "product_id":
            return self.product_id
        if key == "version":
            return self.version
        return self.fields.get(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "version": self.version,
            **self.fields,
            "downloads": self.downloads,
            "amis": self.amis,
        }


@dataclass
class View:
    """The catalog as resolve sees it: products, each with images newest first."""

    products: dict[str, list[Image]]
    updated: str = ""

    @classmethod
    def from_docs(cls, docs: dict[str, dict[str, Any]], updated: str = "") -> View:
        merged: dict[tuple[str, str], Image] = {}
        for content_id, doc in docs.items():
            kind = "amis" if doc.get("datatype") == "image-ids" else "downloads"
            doc_products = doc.get("products")
            if not isinstance(doc_products, dict):
                raise CatalogError(f"the catalog's {content_id} document has no products")
            for pid, product in doc_products.items():
                base = {k: product.get(k) for k in PRODUCT_KEYS}
                for version, entry in product.get("versions", {}).items():
                    image = merged.get((pid, version))
                    if image is None:
                        fields = {**base, **{k: v for k, v in entry.items() if k != "items"}}
                        image = merged[(pid, version)] = Image(pid, version, fields)
                    getattr(image, kind).update(entry.get("items", {}))
        products: dict[str, list[Image]] = {}
        for image in merged.values():
            products.setdefault(image.product_id, []).append(image)
        for images in products.values():
            images.sort(key=lambda i: i.sort_key, reverse=True)
        return cls(products, updated)


def view_from_store(store: Any, verifier: Any) -> View:
    """The verified catalog view of a store (index and product files checked)."""
    idx = index.load_signed(store, index.INDEX, verifier)
    docs = {
        cid: index.load_signed(store, entry["path"], verifier)
        for cid, entry in idx.get("index", {}).items()
    }
    return View.from_docs(docs, idx.get("updated", ""))


def _split(filters: list[Filter]) -> tuple[list[Filter], list[Filter], list[Filter]]:
    plain = [f for f in filters if f.key not in DOWNLOAD_KEYS and f.key not in AMI_KEYS]
    return (
        plain,
        [f for f in filters if f.key in DOWNLOAD_KEYS],
        [f for f in filters if f.key in AMI_KEYS],
    )


def _items(items: dict[str, dict[str, Any]], filters: list[Filter]) -> dict[str, dict[str, Any]]:
    return {
        name: item
        for name, item in items.items()
        if all(f.matches(item.get(f.key)) for f in filters)
    }


def select(image: Image, filters: list[Filter], include_deprecated: bool = False) -> Image | None:
    """``image`` narrowed to the items the filters ask for, or None if it does not match."""
    plain, dl_filters, ami_filters = _split(filters)
    if image.deprecated and not include_deprecated:
        return None
    if not all(f.matches(image.value(f.key)) for f in plain):
        return None
    downloads = _items(image.downloads, dl_filters)
    amis = _items(image.amis, ami_filters)
    if (dl_filters and not downloads) or (ami_filters and not amis):
        return None
    return Image(image.product_id, image.version, image.fields, downloads, amis)


def _product_ok(images: list[Image], filters: list[Filter]) -> bool:
    first = images[0]
    return all(
        f.matches(first.value(f.key)) for f in filters if f.key in (*PRODUCT_KEYS, "product_id")
    )


def resolve(view: View, filters: list[Filter]) -> Image | None:
    """The newest non-deprecated image matching every filter."""
    best: Image | None = None
    for images in view.products.values():
        if not images or not _product_ok(images, filters):
            continue
        for image in images:
            if best is not None and image.sort_key < best.sort_key:
                break
            chosen = select(image, filters)
            if chosen is not None:
                if best is None or (chosen.sort_key, chosen.product_id) > (
                    best.sort_key,
                    best.product_id,
                ):
                    best = chosen
                break
    return best


def matching(view: View, filters: list[Filter], include_deprecated: bool = True) -> list[Image]:
    """Every image matching the filters, newest first within each product."""
    found = []
    for pid in sorted(view.products):
        images = view.products[pid]
        if not images or not _product_ok(images, filters):
            continue
        for image in images:
            chosen = select(image, filters, include_deprecated)
            if chosen is not None:
                found.append(chosen)
    return found


def describe(filters: list[Filter]) -> str:
    return " ".join(str(f) for f in filters) or "(no filters)"
