"""Script and file sources of steps: relative to the manifest that names them, then checked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.manifest.locations import KeyPath, Locations, error_for, locate
from shipyard.manifest.schema import AnsibleSpec, AnsibleStep, FileStep, Manifest, ScriptStep

STEP_SECTIONS = ("provision", "bootstrap")
# An ansible step's paths: single ones, then lists of them.
ANSIBLE_PATH = ("playbook",)
ANSIBLE_PATH_LISTS = ("roles_path", "collections_path", "vars_files")
# Never taken into the manifest's digest: editor and VCS droppings beside a playbook.
_IGNORED_NAMES = (".git", "__pycache__", ".retry")


@dataclass(frozen=True)
class WrittenSource:
    """A step source as written, and the folder it is taken from.

    Sources written in a manifest file are confined to that file's folder; those given
    on the command line (``--set``) are not: whoever runs the command names them.
    """

    text: str
    folder: Path
    confined: bool


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
            found.extend(_ansible_paths(section, index, step.get("ansible")))
    return found


def _ansible_paths(section: str, index: int, spec: Any) -> list[KeyPath]:
    if not isinstance(spec, dict):
        return []
    found: list[KeyPath] = []
    for key in ANSIBLE_PATH:
        if isinstance(spec.get(key), str):
            found.append((section, index, "ansible", key))
    for key in ANSIBLE_PATH_LISTS:
        values = spec.get(key)
        if isinstance(values, list):
            found.extend(
                (section, index, "ansible", key, n)
                for n, value in enumerate(values)
                if isinstance(value, str)
            )
    return found


def resolve_sources(data: dict[str, Any], locations: Locations) -> dict[KeyPath, WrittenSource]:
    """Make each step source absolute, in place; returns the sources as they were written.

    A relative source is taken from the folder of the manifest file that names it (a
    parent's, when the step comes from the extends chain); one given with ``--set`` is
    taken from the current directory.
    """
    written: dict[KeyPath, WrittenSource] = {}
    for key_path in source_paths(data):
        *outer, last = key_path
        holder: Any = data
        for part in outer:
            holder = holder[part]
        value: str = holder[last]
        where = locate(locations, key_path)
        in_file = where is not None and where.file is not None
        folder = where.file.parent if where is not None and where.file else Path.cwd()
        written[key_path] = WrittenSource(value, folder, confined=in_file)
        holder[last] = os.path.abspath(folder / value) if value else value
    return written


def check_sources(
    manifest: Manifest, locations: Locations, written: dict[KeyPath, WrittenSource]
) -> tuple[Path, ...]:
    """Every step source, in order; each must be a readable regular file, inside the
    folder of the manifest that names it unless ``allow_sources_outside`` is set."""
    sources: list[Path] = []
    for section in STEP_SECTIONS:
        for index, step in enumerate(getattr(manifest, section)):
            if isinstance(step, ScriptStep):
                key_path: KeyPath = (section, index, "script")
                path = step.script
            elif isinstance(step, FileStep):
                key_path = (section, index, "file", "source")
                path = step.file.source
            elif isinstance(step, AnsibleStep):
                sources.extend(
                    _check_ansible(step.ansible, (section, index), manifest, locations, written)
                )
                continue
            else:
                continue
            origin = written.get(key_path, WrittenSource(str(path), path.parent, confined=False))
            problem = None
            if not manifest.allow_sources_outside:
                problem = _outside_problem(path, origin)
            problem = problem or _source_problem(path, origin.text)
            if problem:
                raise error_for(locations, key_path, problem)
            sources.append(path)
    return tuple(sources)


def _outside_problem(path: Path, origin: WrittenSource) -> str | None:
    # Checked before existence, so that the answer says nothing of the host's files.
    if not origin.text or not origin.confined:
        return None
    real, folder = os.path.realpath(path), os.path.realpath(origin.folder)
    if _inside(real, folder):
        return None
    if _inside(os.path.abspath(path), os.path.abspath(origin.folder)):
        where = "leads out of the manifest's folder through a symbolic link"
    else:
        where = "is outside the manifest's folder"
    return (
        f"{origin.text} {where}; sources must be inside it "
        "(set allow_sources_outside: true in the manifest to allow this)"
    )


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


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


def _check_ansible(
    spec: AnsibleSpec,
    step: KeyPath,
    manifest: Manifest,
    locations: Locations,
    written: dict[KeyPath, WrittenSource],
) -> list[Path]:
    """An ansible step's files must exist; returns every file its run can read, in order.

    The playbook's folder, the role and collection folders and the vars files all feed
    the manifest's digest, so changing a role changes the build's manifest_sha256.
    """
    base: KeyPath = (*step, "ansible")
    checks: list[tuple[KeyPath, Path, bool]] = [((*base, "playbook"), spec.playbook, False)]
    checks += [((*base, "roles_path", n), p, True) for n, p in enumerate(spec.roles_path)]
    checks += [
        ((*base, "collections_path", n), p, True) for n, p in enumerate(spec.collections_path)
    ]
    checks += [((*base, "vars_files", n), p, False) for n, p in enumerate(spec.vars_files)]
    for key_path, path, folder in checks:
        origin = written.get(key_path, WrittenSource(str(path), path.parent, confined=False))
        problem = None
        if not manifest.allow_sources_outside:
            problem = _outside_problem(path, origin)
        if folder:
            problem = problem or _folder_problem(path, origin.text)
        else:
            problem = problem or _source_problem(path, origin.text)
        if problem:
            raise error_for(locations, key_path, problem)
    folders = [spec.playbook.parent, *spec.roles_path, *spec.collections_path]
    files = {f for folder in folders for f in _files_under(folder)}
    files.update(spec.vars_files)
    return sorted(files)


def _folder_problem(path: Path, written: str) -> str | None:
    if not written:
        return "expected the path of a folder, got an empty string"
    if not path.exists():
        return f"{written} does not exist (looked for the folder {path})"
    if not path.is_dir():
        return f"{written} is not a folder"
    return None


def _files_under(folder: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_NAMES)
        found += [
            Path(current, name)
            for name in sorted(names)
            if not name.endswith(_IGNORED_NAMES) and Path(current, name).is_file()
        ]
    return found
