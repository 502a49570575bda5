"""Load a manifest: YAML with line numbers → extends → --set → validation → checked sources.

Every problem raises :class:`~shipyard.errors.ManifestError` with one sentence of the
form ``FILE:LINE: key.path: what is wrong and what was expected``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shipyard.manifest.extends import load_chain
from shipyard.manifest.locations import Locations, error_for
from shipyard.manifest.overrides import apply_overrides
from shipyard.manifest.schema import AnsibleStep, Manifest
from shipyard.manifest.schema_json import manifest_json_schema
from shipyard.manifest.sources import check_sources, resolve_sources
from shipyard.manifest.validation import validate
from shipyard.manifest.variables import render, template_problem, time_values

__all__ = ["LoadedManifest", "load_manifest", "manifest_json_schema", "render_name"]

# Keys whose text may use {variables}.
TEMPLATED = ("name", "description")


@dataclass(frozen=True)
class LoadedManifest:
    """A validated manifest and where it came from."""

    manifest: Manifest  # frozen model, paths in steps resolved to absolute
    path: Path  # the file given
    files: tuple[Path, ...]  # the extends chain, the given file first
    sha256: str  # resolved manifest (canonical JSON) plus every step source's contents
    resolved: dict[str, Any]  # manifest.model_dump(mode="json")


def load_manifest(path: str | Path, overrides: Sequence[str] = ()) -> LoadedManifest:
    """Read, merge, override, validate and check the manifest at ``path``."""
    given = Path(path)
    data, locations, files = load_chain(given, str(path))
    apply_overrides(data, locations, overrides)
    written = resolve_sources(data, locations)
    manifest = validate(data, locations)
    _check_templates(manifest, locations)
    _check_ansible_python(manifest, locations)
    sources = check_sources(manifest, locations, written)
    resolved = manifest.model_dump(mode="json")
    return LoadedManifest(
        manifest=manifest,
        path=given,
        files=files,
        sha256=_digest(_portable(resolved, given.resolve().parent), sources),
        resolved=resolved,
    )


def render_name(template: str, manifest: Manifest, *, build_id: str, now: datetime) -> str:
    """``template`` (the manifest's name or description) with its variables filled in."""
    values = {
        "release": manifest.system.release,
        "arch": manifest.system.architecture,
        "flavour": manifest.flavour,
        "build_id": build_id,
        **time_values(now),
    }
    return render(template, values)


def _check_templates(manifest: Manifest, locations: Locations) -> None:
    for key in TEMPLATED:
        problem = template_problem(getattr(manifest, key))
        if problem:
            raise error_for(locations, (key,), problem)


def _check_ansible_python(manifest: Manifest, locations: Locations) -> None:
    """Ansible's modules run on python3 inside the image: say so before anything is built."""
    for index, first_boot in enumerate(manifest.bootstrap):
        if isinstance(first_boot, AnsibleStep) and manifest.agent != "shipyard":
            raise error_for(
                locations,
                ("bootstrap", index, "ansible"),
                f"first-boot Ansible is run by the shipyard agent; this image has"
                f" agent: {manifest.agent}",
            )
    if manifest.agent != "none":
        return  # the shipyard agent and cloud-init both bring python3
    included = {name.split("=")[0].split(":")[0] for name in manifest.packages.include}
    if included & {"python3", "python3-minimal"}:
        return
    for index, step in enumerate(manifest.provision):
        if isinstance(step, AnsibleStep):
            raise error_for(
                locations,
                ("provision", index, "ansible"),
                "Ansible needs python3 in the image, and nothing installs it with agent: none;"
                " add python3 to packages.include",
            )


def _portable(value: Any, base: Path) -> Any:
    """``value`` with absolute paths under ``base`` made relative, so that the same
    manifest checked out in two places has the same digest."""
    if isinstance(value, dict):
        return {k: _portable(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, base) for v in value]
    if isinstance(value, str) and value.startswith(f"{base}/"):
        return value[len(str(base)) + 1 :]
    return value


def _digest(resolved: dict[str, Any], sources: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(resolved, sort_keys=True, separators=(",", ":")).encode())
    for source in sources:
        content = source.read_bytes()
        # Length-prefixed, so moving bytes from one source to the next changes the sum.
        digest.update(b"\0%d\0" % len(content))
        digest.update(content)
    return digest.hexdigest()
