"""Stack files: YAML with line marks (the manifest's reader) → variables → StackFile.

Every mistake is one sentence ``FILE:LINE: key.path: problem``, as for manifests.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from shipyard.errors import ManifestError, StackFileError
from shipyard.manifest.locations import KeyPath, Locations, describe_type, dotted, locate
from shipyard.manifest.yamlfile import read_yaml
from shipyard.stacks import recipes
from shipyard.stacks.model import Artifact, ImageRef, OutputRef, StackDefinition, StackFile

DEFAULT_DIR = "stacks"
_VARIABLE = re.compile(r"\{([^{}]*)\}")


def _fail(locations: Locations, path: KeyPath, problem: str) -> StackFileError:
    where = locate(locations, path)
    parts = [str(where)] if where else []
    if path:
        parts.append(dotted(path))
    return StackFileError(": ".join([*parts, problem]))


def load_stack_file(path: Path, variables: Mapping[str, str] = {}) -> StackDefinition:
    """The stack file at ``path`` with ``{variables}`` filled in (the file's own ``vars:``
    give defaults; ``variables`` win)."""
    display = str(path)
    try:
        if path.is_file() and not path.read_text(encoding="utf-8", errors="replace").strip():
            raise StackFileError(f"{display}:1: the stack file is empty; expected name and recipe")
        data, locations = read_yaml(path, display)
    except ManifestError as exc:
        message = exc.message.replace("manifest file", "stack file")
        message = message.replace("a manifest", "a stack file").replace(
            "such as name, system and packages", "such as name, recipe and parameters"
        )
        raise StackFileError(message) from None
    own = data.pop("vars", {}) or {}
    if not isinstance(own, dict):
        raise _fail(locations, ("vars",), f"expected a mapping, got {describe_type(own)}")
    values = {str(k): str(v) for k, v in own.items()} | dict(variables)
    filled = _fill(data, values, locations, ())
    _stringify_parameters(filled)
    try:
        spec = StackFile.model_validate(filled)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        raise _translate(errors[0], locations) from None
    if spec.recipe is not None and spec.recipe not in recipes.REGISTRY:
        close = difflib.get_close_matches(spec.recipe, recipes.REGISTRY, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(recipes.REGISTRY)}"
        raise _fail(locations, ("recipe",), f"no recipe called {spec.recipe!r}; {hint}")
    return StackDefinition(spec=spec, path=path)


def _fill(value: Any, values: Mapping[str, str], locations: Locations, path: KeyPath) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values, locations, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values, locations, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join(sorted(values)) or "none are set"
            raise _fail(
                locations,
                path,
                f"{{{name}}} is not set; give it with --var {name}=VALUE or under vars: "
                f"(set: {known})",
            )
        return values[name]

    return _VARIABLE.sub(one, value)


def _stringify_parameters(data: dict[str, Any]) -> None:
    """CloudFormation parameters are text: ``MinSize: 2`` means "2"."""
    params = data.get("parameters")
    if isinstance(params, dict):
        for key, value in params.items():
            if isinstance(value, bool):
                params[key] = "true" if value else "false"
            elif isinstance(value, (int, float)):
                params[key] = str(value)


def _translate(error: Any, locations: Locations) -> StackFileError:
    loc: KeyPath = tuple(error["loc"])
    kind = error["type"]
    # Unions (str | OutputRef) put the member's name into the location: drop it.
    path = tuple(p for p in loc if p not in ("str", "OutputRef"))
    if kind == "missing":
        return _fail(locations, path[:-1], f"missing the required key {path[-1]!r}")
    if kind == "extra_forbidden":
        return _fail(locations, path, _unknown_key(path))
    if kind == "value_error":
        return _fail(locations, path, str(error["ctx"]["error"]))
    if path and path[0] == "parameters" and kind in ("string_type", "model_type", "dict_type"):
        return _fail(
            locations,
            path[:2],
            "a parameter is a value or {stack: NAME, output: KEY}, "
            f"not {describe_type(error.get('input'))}",
        )
    if kind == "string_pattern_mismatch" and path == ("name",):
        return _fail(
            locations, path, "a stack name is letters, digits and hyphens, starting with a letter"
        )
    message = str(error["msg"])
    return _fail(locations, path, message[:1].lower() + message[1:])


def _unknown_key(path: KeyPath) -> str:
    parent = path[:-1]
    model: type[BaseModel] | None = None
    if parent == ():
        model = StackFile
    elif parent == ("image",):
        model = ImageRef
    elif parent[:1] == ("artifacts",) and len(parent) == 2:
        model = Artifact
    elif parent[:1] in (("parameters",), ("artifacts",)):
        model = OutputRef
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; expected one of {', '.join(allowed)}"


def load_folder(folder: Path, variables: Mapping[str, str] = {}) -> dict[str, StackDefinition]:
    """Every stack file in ``folder`` by stack name; a missing folder holds none."""
    found: dict[str, StackDefinition] = {}
    if not folder.is_dir():
        return found
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        definition = load_stack_file(path, variables)
        name = definition.spec.name
        if name in found:
            raise StackFileError(
                f"{path}: stack {name!r} is also defined in {found[name].path}; names are unique"
            )
        found[name] = definition
    return found


def find_stack(name: str, folder: Path, variables: Mapping[str, str] = {}) -> StackDefinition:
    """The stack called ``name`` in ``folder``, else the recipe of that name with its
    example parameters, so a recipe can be looked at before any stack file exists."""
    stacks = load_folder(folder, variables)
    if name in stacks:
        return stacks[name]
    if name in recipes.REGISTRY:
        recipe = recipes.get(name)
        spec = StackFile(name=name, recipe=name, parameters=dict(recipe.example))
        return StackDefinition(spec=spec)
    known = sorted([*stacks, *recipes.REGISTRY])
    close = difflib.get_close_matches(name, known, n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else f"stacks in {folder}: {', '.join(stacks) or 'none'}"
    )
    raise StackFileError(f"no stack or recipe called {name!r}", hint=hint)
