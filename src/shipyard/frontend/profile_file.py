"""Read an appliance profile from a YAML file, with errors that name the file and field.

The format is the API's profile with one addition: a file or script entry may name a
``source`` file (relative to the profile's folder, and inside it) instead of ``content``.
docs/profile.schema.json is its JSON Schema (`python -m shipyard.frontend.profile_file`).
"""

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
                source = _inside(path, str(entry.pop("source")))
                try:
                    entry["content"] = source.read_text(encoding="utf-8")
                except OSError as exc:
                    raise UsageError(
                        f"profile {path}: cannot read {source}: {exc.strerror}"
                    ) from exc
    try:
        return Profile.model_validate(data).model_dump()
    except ValidationError as exc:
        from shipyard.validation_text import first_problem

        raise UsageError(f"profile {path}: {first_problem(exc.errors())}") from exc


def _inside(profile: Path, name: str) -> Path:
    """``name`` beside the profile; a path that leads out of its folder is refused."""
    from shipyard.errors import UsageError

    folder = profile.parent.resolve()
    source = (folder / name).resolve()
    if not source.is_relative_to(folder):
        raise UsageError(
            f"profile {profile}: source {name!r} is outside the profile's folder {folder}"
        )
    return source


def profile_json_schema() -> dict[str, Any]:
    """The profile file's JSON Schema: the API's, with ``source`` as an alternative to content."""
    from shipyard.frontend.schemas.profile import Profile

    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Shipyard appliance profile"
    schema["description"] = (
        "An appliance's profile, set with `shipyard stack set appliance profile NAME "
        "file=profile.yml`. Packages, file contents and scripts are Jinja2 templates "
        "rendered per host with its attributes."
    )
    for name in ("ProfileFile", "ProfileScript"):
        entry = schema["$defs"][name]
        entry["properties"]["source"] = {
            "type": "string",
            "minLength": 1,
            "description": "a file beside the profile whose text is the content",
        }
        entry["required"] = [r for r in entry.get("required", []) if r != "content"]
        if name == "ProfileScript":  # a script needs its text, one way or the other
            entry["oneOf"] = [{"required": ["content"]}, {"required": ["source"]}]
        else:
            entry["not"] = {"required": ["content", "source"]}
    return schema


if __name__ == "__main__":
    import json
    import sys

    json.dump(profile_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
