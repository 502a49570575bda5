"""Read an appliance profile from a YAML file, with errors that name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipyard.errors import UsageError


def load_profile(path: Path) -> dict[str, Any]:
    """The profile in ``path``, validated; file contents may be given inline or as `source`."""
    import yaml
    from pydantic import ValidationError

    from shipyard.frontend.schemas.profile import Profile

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"cannot read profile {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"profile {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"profile {path} must be a mapping of packages, files, scripts, ...")
    for section in ("files", "scripts"):
        for entry in data.get(section) or []:
            # `source: a.conf` reads the content from a file beside the profile.
            if isinstance(entry, dict) and "source" in entry:
                source = path.parent / str(entry.pop("source"))
                try:
                    entry["content"] = source.read_text(encoding="utf-8")
                except OSError as exc:
                    raise UsageError(
                        f"profile {path}: cannot read {source}: {exc.strerror}"
                    ) from exc
    try:
        return Profile.model_validate(data).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"profile {path}: {where}: {first['msg']}") from exc
