"""Script and file sources of steps: relative to the manifest that names them, then checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shipyard.manifest.locations import KeyPath, Locations, error_for
from shipyard.manifest.schema import FileStep, Manifest, ScriptStep

STEP_SECTIONS = ("provision", "bootstrap")


def source_paths(data: dict[str, Any]) -> list[KeyPath]:
    """Key paths of every step source in the (not yet validated) data that is a string."""
    found: list[KeyPath] = []
    for section in STEP_SECTIONS:
        steps = data.get(section)
        if not isinstance(steps, list):
            continue
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            if isinstance(step.get("script"), str):
                found.append((section, index, "script"))
            spec = step.get("file")
            if isinstance(spec, dict) and isinstance(spec.get("source"), str):
                found.append((section, index, "file", "source"))
    return found


def resolve_sources(data: dict[str, Any], locations: Locations) -> dict[KeyPath, str]:
    """Make each step source absolute, in place; returns the sources as they were written.

    A relative source is taken from the folder of the manifest file that names it (a
    parent's, when the step comes from the extends chain); one given with ``--set`` is
    taken from the current directory.
    """
    written: dict[KeyPath, str] = {}
    for key_path in source_paths(data):
        *outer, last = key_path
        holder: Any = data
        for part in outer:
            holder = holder[part]
        value: str = holder[last]
        where = locations.get(key_path)
        folder = where.file.parent if where is not None and where.file else Path.cwd()
        written[key_path] = value
        holder[last] = os.path.abspath(folder / value) if value else value
    return written


def check_sources(
    manifest: Manifest, locations: Locations, written: dict[KeyPath, str]
) -> tuple[Path, ...]:
    """Every step source, in order; each must be a readable regular file."""
    sources: list[Path] = []
    for section in STEP_SECTIONS:
        for index, step in enumerate(getattr(manifest, section)):
            if isinstance(step, ScriptStep):
                key_path: KeyPath = (section, index, "script")
                path = step.script
            elif isinstance(step, FileStep):
                key_path = (section, index, "file", "source")
                path = step.file.source
            else:
                continue
            problem = _source_problem(path, written.get(key_path, str(path)))
            if problem:
                raise error_for(locations, key_path, problem)
            sources.append(path)
    return tuple(sources)


def _source_problem(path: Path, written: str) -> str | None:
    if not written:
        return "expected the path of a file, got an empty string"
    if not path.exists():
        return f"{written} does not exist (looked for {path})"
    if path.is_dir():
        return f"{written} is a directory; expected a file"
    if not path.is_file():
        return f"{written} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"{written} cannot be read (permission denied)"
    return None
