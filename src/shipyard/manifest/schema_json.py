"""The manifest's JSON Schema, for editors and for checking manifests outside Shipyard."""

from __future__ import annotations

from typing import Any

from shipyard.manifest.schema import Manifest
from shipyard.manifest.variables import VARIABLES

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def manifest_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a manifest file as written, unknown keys forbidden."""
    schema = Manifest.model_json_schema(mode="validation")
    variables = ", ".join(f"{{{name}}}" for name in VARIABLES)
    properties = schema["properties"]
    properties["name"]["description"] = f"image name; may use {variables}"
    properties["description"]["description"] = f"free text; may use {variables}"
    properties["extends"]["description"] = "a parent manifest, relative to this file"
    return {
        "$schema": DIALECT,
        "title": "Shipyard manifest",
        "description": "A Debian machine image: what goes into it and how it boots.",
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }
