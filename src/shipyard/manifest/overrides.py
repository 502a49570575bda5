"""``--set key.path=value``: change a merged manifest before it is validated."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from shipyard.errors import ManifestError
from shipyard.manifest.locations import KeyPath, Location, Locations, describe_type, dotted

_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_-]*|\d+)$")


@dataclass(frozen=True)
class Override:
    text: str  # as given, for messages
    path: KeyPath
    value: Any

    @property
    def where(self) -> Location:
        return Location(f"--set {self.text}")


def parse_override(text: str) -> Override:
    """``volume.size=3GiB`` → path ("volume", "size"), value "3GiB" (the value is read as YAML)."""
    where = f"--set {text}"
    key, equals, raw = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ManifestError(f"{where}: expected KEY.PATH=VALUE, such as volume.size=3GiB")
    segments = key.split(".")
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise ManifestError(
                f"{where}: {key!r} is not a key path; expected names (and list indexes) "
                "joined by dots, such as packages.include or provision.0.shell"
            )
    if segments[0].isdigit():
        raise ManifestError(f"{where}: a key path starts with a key name, not an index")
    path: KeyPath = tuple(int(s) if s.isdigit() else s for s in segments)
    value: Any = ""
    if raw.strip():
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "malformed"
            raise ManifestError(
                f"{where}: the value {raw!r} is not a YAML value ({problem}); quote it, "
                "or write a list as [a, b]"
            ) from None
    if path[-1] == "mode" and isinstance(value, int) and not isinstance(value, bool):
        # As in files: keep the digits of a mode, which YAML would read as octal or decimal.
        value = raw.strip()
    return Override(text, path, value)


def apply_overrides(data: dict[str, Any], locations: Locations, overrides: Sequence[str]) -> None:
    """Set each override's value in ``data`` (in place), noting it as the value's location."""
    for text in overrides:
        override = parse_override(text)
        _apply(data, locations, override)


def _apply(data: dict[str, Any], locations: Locations, override: Override) -> None:
    where = override.where
    container: Any = data
    for depth, part in enumerate(override.path[:-1]):
        container = _step_into(container, part, override, depth, locations)
    last = override.path[-1]
    _check_slot(container, last, override, len(override.path) - 1)
    container[last] = override.value
    for key_path in [p for p in locations if p[: len(override.path)] == override.path]:
        del locations[key_path]
    _note(locations, override.path, override.value, where)


def _step_into(
    container: Any, part: str | int, override: Override, depth: int, locations: Locations
) -> Any:
    _check_slot(container, part, override, depth)
    if isinstance(container, dict) and part not in container:
        following = override.path[depth + 1]
        if isinstance(following, int):
            here = dotted(override.path[: depth + 1])
            raise ManifestError(
                f"{override.where}: {here} is not set, so it has no index {following}; "
                f"set the whole list instead, such as {here}=[...]"
            )
        # A key the merged manifest leaves at its default: start an empty mapping there.
        container[part] = {}
        locations[override.path[: depth + 1]] = override.where
    return container[part]


def _check_slot(container: Any, part: str | int, override: Override, depth: int) -> None:
    parent = override.path[:depth]
    if isinstance(container, dict) and isinstance(part, str):
        return
    if isinstance(container, list) and isinstance(part, int):
        if part < len(container):
            return
        raise ManifestError(
            f"{override.where}: {dotted(parent)} has {len(container)} item(s), so there is "
            f"no index {part}; set the whole list instead, such as {dotted(parent)}=[...]"
        )
    wanted = "a list" if isinstance(part, int) else "a mapping"
    raise ManifestError(
        f"{override.where}: {dotted(parent)} is {describe_type(container)}, not {wanted}, "
        f"so it has no {'index' if isinstance(part, int) else 'key'} {part!r}"
    )


def _note(locations: Locations, path: KeyPath, value: Any, where: Location) -> None:
    locations[path] = where
    if isinstance(value, dict):
        for key, item in value.items():
            _note(locations, (*path, str(key)), item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _note(locations, (*path, index), item, where)
