"""Where each key of a manifest came from, so every error can name a file and a line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ManifestError

# A key path into the manifest data: ("volume", "size") or ("provision", 2, "script").
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """A line of a manifest file, or a ``--set`` override given on the command line."""

    display: str  # the file as the user would name it, or the --set text
    line: int = 0  # 1-based; 0 for an override
    file: Path | None = None  # absolute path of the file; None for an override

    def __str__(self) -> str:
        return f"{self.display}:{self.line}" if self.line else self.display


Locations = dict[KeyPath, Location]


def dotted(path: KeyPath) -> str:
    """``("provision", 2, "script")`` → ``provision.2.script``, the spelling ``--set`` takes."""
    return ".".join(str(part) for part in path)


def locate(locations: Mapping[KeyPath, Location], path: KeyPath) -> Location | None:
    """The location of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = locations.get(path[:end])
        if found is not None:
            return found
    return None


def error_at(where: Location | None, path: KeyPath, problem: str) -> ManifestError:
    """One sentence: ``FILE:LINE: key.path: problem``."""
    parts = [str(where)] if where is not None else []
    if path:
        parts.append(dotted(path))
    parts.append(problem)
    return ManifestError(": ".join(parts))


def error_for(locations: Mapping[KeyPath, Location], path: KeyPath, problem: str) -> ManifestError:
    """An error about ``path``, placed at the line that set it (or its nearest ancestor)."""
    return error_at(locate(locations, path), path, problem)


def describe_type(value: object) -> str:
    """What a YAML value is, in the words a manifest author uses."""
    if value is None:
        return "nothing (null)"
    names: list[tuple[type, str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (tuple, "a list"),
        (dict, "a mapping"),
    ]
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"
