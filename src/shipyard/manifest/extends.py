"""``extends``: a manifest deep-merged over its parent, the child winning."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shipyard.errors import ManifestError
from shipyard.manifest.locations import KeyPath, Locations, describe_type
from shipyard.manifest.yamlfile import read_yaml


def load_chain(path: Path, display: str) -> tuple[dict[str, Any], Locations, tuple[Path, ...]]:
    """The manifest at ``path`` merged over its ``extends`` ancestors.

    Returns the merged data (without ``extends``), where each key path came from, and
    the chain of files, ``path`` first.
    """
    chain: list[Path] = []
    seen: list[str] = []  # real paths, so a symlink cannot hide a cycle
    displays: list[str] = []
    layers: list[tuple[dict[str, Any], Locations]] = []
    current: Path | None = Path(os.path.abspath(path))
    current_display = display
    while current is not None:
        real = os.path.realpath(current)
        if real in seen:
            names = " → ".join([*displays, displays[seen.index(real)]])
            where = layers[-1][1][("extends",)]
            raise ManifestError(f"{where}: extends: the chain {names} is a cycle")
        data, locations = read_yaml(current, current_display)
        chain.append(current)
        seen.append(real)
        displays.append(current_display)
        layers.append((data, locations))
        current, current_display = _parent(data, locations, current, current_display)

    merged: dict[str, Any] = {}
    merged_locations: Locations = {}
    for data, locations in reversed(layers):
        merged, merged_locations = merge(merged, merged_locations, data, locations)
    merged.pop("extends", None)
    for key_path in [p for p in merged_locations if p[:1] == ("extends",)]:
        del merged_locations[key_path]
    return merged, merged_locations, tuple(chain)


def _parent(
    data: dict[str, Any], locations: Locations, path: Path, display: str
) -> tuple[Path | None, str]:
    """The file ``data`` extends (relative to ``path``'s folder), or None."""
    value = data.get("extends")
    if value is None:
        return None, ""
    where = locations[("extends",)]
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(
            f"{where}: extends: expected the path of a parent manifest, got {describe_type(value)}"
        )
    parent = Path(os.path.abspath(path.parent / value))
    if not parent.is_file():
        problem = "is a directory" if parent.is_dir() else "does not exist"
        raise ManifestError(
            f"{where}: extends: the parent manifest {value} {problem} (looked for {parent})"
        )
    return parent, os.path.normpath(os.path.join(os.path.dirname(display), value))


def merge(
    parent: dict[str, Any],
    parent_locations: Locations,
    child: dict[str, Any],
    child_locations: Locations,
) -> tuple[dict[str, Any], Locations]:
    """``child`` deep-merged over ``parent``: mappings merge; lists and scalars are replaced."""
    merged = _merge_values(parent, child)
    # A parent's line survives only where no child value replaced it or an ancestor of it.
    replaced = {
        key_path
        for key_path in child_locations
        if key_path
        and not (
            isinstance(_get(child, key_path), dict) and isinstance(_get(parent, key_path), dict)
        )
    }
    locations: Locations = {
        key_path: where
        for key_path, where in parent_locations.items()
        if not any(key_path[:end] in replaced for end in range(1, len(key_path) + 1))
    }
    locations.update(child_locations)
    return merged, locations


def _merge_values(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    result = dict(parent)
    for key, value in child.items():
        below = result.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            result[key] = _merge_values(below, value)
        else:
            result[key] = value
    return result


def _get(data: Any, key_path: KeyPath) -> Any:
    """The value at ``key_path``, or None where there is none."""
    for part in key_path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
