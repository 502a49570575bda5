"""Whatever value a key holds, loading either works or raises one located ManifestError."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.errors import ManifestError
from shipyard.manifest.loader import load_manifest

WriteFiles = Callable[..., Path]

GOOD: dict[str, Any] = {
    "name": "debian-{release}-{arch}",
    "description": "d",
    "flavour": "web",
    "system": {"release": "bookworm", "architecture": "amd64", "hostname": "web"},
    "packages": {"include": ["curl"], "exclude": [], "docs": False},
    "volume": {"size": "2GiB", "boot": ["uefi", "bios"]},
    "provision": [
        {"shell": "echo"},
        {"script": "s.sh"},
        {"file": {"source": "s.sh", "destination": "/etc/s", "mode": "0644"}},
    ],
    "bootstrap": [{"shell": "echo"}],
    "agent": "none",
    "formats": ["raw"],
    "publish": [{"to": "ec2", "region": "eu-west-1", "tags": {"a": "b"}}, {"to": "catalog"}],
}
ODD_VALUES: list[Any] = [None, True, 0, -1, 2.5, "", "{", "ü" * 3, [], [None], {}, {"x": 1}]


def _key_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _key_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _key_paths(item, (*path, index))


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(GOOD)
    holder: Any = document
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return document


@pytest.mark.parametrize("path", list(_key_paths(GOOD)), ids=lambda p: ".".join(map(str, p)))
def test_any_value_anywhere_loads_or_is_located(write: WriteFiles, path: tuple[Any, ...]) -> None:
    write("s.sh", "echo\n")
    for value in ODD_VALUES:
        write("m.yml", yaml.safe_dump(_with(path, value), sort_keys=False))
        try:
            load_manifest("m.yml")
        except ManifestError as exc:
            message = str(exc)
            assert message.startswith("m.yml:"), message
            assert "\n" not in message and "pydantic" not in message, message
