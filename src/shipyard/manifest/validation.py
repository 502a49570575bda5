"""Merged manifest data → the frozen model, with pydantic's errors told as one sentence."""

from __future__ import annotations

import difflib
import functools
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from shipyard.errors import ManifestError
from shipyard.manifest.locations import (
    KeyPath,
    Location,
    Locations,
    describe_type,
    error_at,
    error_for,
    locate,
)
from shipyard.manifest.schema import STEP_KINDS, Manifest

# Kinds of step each list takes, in the order messages name them.
STEP_LISTS: dict[str, tuple[str, ...]] = {
    "provision": ("shell", "script", "file", "ansible"),
    "bootstrap": ("shell", "script", "ansible"),
}
# Lists of tagged unions: pydantic puts the member's tag into an error's location
# right after the list index; these map the tag back to the model it chose.
_TAGGED_LISTS = ("provision", "bootstrap", "publish")

_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "path_type": "a path",
}
# What one value of a choice is called, by the key that holds it.
_NOUNS: dict[str, str] = {
    "formats": "format",
    "boot": "boot mode",
    "boot_mode": "boot mode",
    "agent": "agent",
    "architecture": "architecture",
    "filesystem": "filesystem",
    "channel": "channel",
    "to": "publish target",
}


def step_errors(data: dict[str, Any], locations: Locations) -> dict[KeyPath, ManifestError]:
    """Each provision/bootstrap step must be a mapping with exactly one kind of step key."""
    found: dict[KeyPath, ManifestError] = {}
    for section, kinds in STEP_LISTS.items():
        steps = data.get(section)
        if not isinstance(steps, list):
            continue
        for index, step in enumerate(steps):
            problem = _step_problem(section, kinds, step)
            if problem:
                where = (section, index)
                found[where] = error_at(_step_location(locations, where), where, problem)
    return found


def _step_location(locations: Locations, step: KeyPath) -> Location | None:
    """Where a step was written; a --set that changed part of it is blamed first."""
    inside = [
        where
        for key_path, where in locations.items()
        if key_path[: len(step)] == step and where.file is None
    ]
    return inside[-1] if inside else locate(locations, step)


def _step_problem(section: str, kinds: tuple[str, ...], step: Any) -> str | None:
    allowed = _either(kinds)
    if not isinstance(step, dict):
        return f"a step must be a mapping with one key of {allowed}, not {describe_type(step)}"
    present = [kind for kind in kinds if kind in step]
    if len(present) > 1:
        return f"a step is exactly one of {allowed}; this one has {' and '.join(present)}"
    if present:
        return None
    if section == "bootstrap" and "file" in step:
        return "bootstrap steps are shell, script or ansible; put file steps in provision"
    for key in step:
        close = difflib.get_close_matches(str(key), kinds, n=1)
        if close:
            return f"unknown kind of step {key!r}; did you mean {close[0]!r}?"
    keys = ", ".join(repr(k) for k in step) or "no keys"
    return f"a step needs one key of {allowed}; it has {keys}"


def _either(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def validate(data: dict[str, Any], locations: Locations) -> Manifest:
    """The frozen Manifest of ``data``; mistakes raise one ManifestError naming all of them.

    Each mistake is one located sentence, in the order of the file's lines.
    """
    steps = step_errors(data, locations)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        errors = _causes(exc.errors(include_url=False))
        # A broken step also fails its tagged union: the step's own sentence says it better.
        found = [*steps.values()]
        found += [
            _translate(e, locations) for e in errors if _key_path(tuple(e["loc"]))[:2] not in steps
        ]
        raise _combined(found) from None
    if steps:
        raise _combined([*steps.values()])
    return manifest


def _causes(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Without the "missing" errors that a misspelt key beside them explains."""
    misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)]


def _combined(errors: list[ManifestError]) -> ManifestError:
    """One error holding every distinct sentence, in the order of the file's lines."""
    unique = sorted(dict.fromkeys(error.message for error in errors), key=_place)
    return ManifestError(unique[0], more=tuple(unique[1:]))


def _place(message: str) -> tuple[str, int]:
    """``FILE:LINE: ...`` → (FILE, LINE); sentences without a line (--set) come last."""
    match = re.match(r"(.*?):(\d+): ", message)
    return (match.group(1), int(match.group(2))) if match else ("\uffff", 0)


def _translate(error: ErrorDetails, locations: Locations) -> ManifestError:
    raw = tuple(error["loc"])
    path = _key_path(raw)
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return error_for(locations, path[:-1], f"missing the required key {path[-1]!r}")
    if kind == "extra_forbidden":
        return error_for(locations, path, _unknown_key(raw))
    if kind in ("union_tag_not_found", "union_tag_invalid") and path[:1] == ("publish",):
        targets = _either([f"'to: {tag}'" for tag in _publish_tags()])
        return error_for(locations, path, f"a publish target needs {targets}")
    return error_for(locations, path, _problem(kind, error, value, path))


def _key_path(loc: tuple[str | int, ...]) -> KeyPath:
    """Pydantic's error location without the union tags it inserts."""
    if len(loc) > 2 and loc[0] in _TAGGED_LISTS and isinstance(loc[1], int):
        return (*loc[:2], *loc[3:])
    return loc


def _problem(kind: str, error: ErrorDetails, value: Any, path: KeyPath) -> str:
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        key = next((part for part in reversed(path) if isinstance(part, str)), "")
        noun = _NOUNS.get(key, "value")
        if isinstance(value, str):
            return f"{value!r} is not a known {noun}; expected one of {', '.join(allowed)}"
        return f"expected a {noun} (one of {', '.join(allowed)}), got {_given(value)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind in _EXPECTED:
        return _wrong_type(_EXPECTED[kind], value)
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return error["msg"].replace("Input should be", "must be")
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _given(value: Any) -> str:
    """``a string ('raw')``: the kind of a value, and the value itself when it is short."""
    given = describe_type(value)
    if isinstance(value, (str, int, float, bool)) and len(repr(value)) <= 40:
        given += f" ({value!r})"
    return given


def _wrong_type(expected: str, value: Any) -> str:
    given = _given(value)
    advice = ""
    simple = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if expected == "a list" and simple and re.fullmatch(r"[\w.+:/-]+", str(value)):
        advice = f"; write a list such as [{value}]"
    elif expected == "a string" and isinstance(value, (bool, int, float)):
        advice = "; quote the value to keep it as text"
    return f"expected {expected}, got {given}{advice}"


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    allowed = _keys_of(loc[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; expected one of {', '.join(allowed)}"


def _keys_of(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at pydantic location ``loc`` accepts."""
    model: type[BaseModel] = Manifest
    index = 0
    while index < len(loc):
        part = loc[index]
        index += 1
        if isinstance(part, int):
            continue
        field = _fields(model).get(part)
        candidates = _models_in(field.annotation) if field is not None else []
        if len(candidates) == 1:
            model = candidates[0]
        elif candidates and index + 1 < len(loc) and _union_member(str(loc[index + 1])):
            # A list of tagged unions: the list index, then the tag of the chosen member.
            model = _union_member(str(loc[index + 1])) or model
            index += 2
        else:
            return []
    return list(_fields(model))


@functools.cache
def _publish_tags() -> dict[str, type[BaseModel]]:
    """Publish target models by the value of their ``to`` key."""
    tags: dict[str, type[BaseModel]] = {}
    for model in _models_in(Manifest.model_fields["publish"].annotation):
        to = model.model_fields.get("to")
        for value in get_args(to.annotation) if to is not None else ():
            tags[str(value)] = model
    return tags


def _union_member(tag: str) -> type[BaseModel] | None:
    """The model pydantic chose in a tagged union, by the tag in an error's location."""
    return STEP_KINDS.get(tag) or _publish_tags().get(tag)


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key a manifest spells them with (the alias, if any)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        args = args[:1]
    elif origin not in (Union, types.UnionType, tuple, list):
        return []
    found: list[type[BaseModel]] = []
    for arg in args:
        found.extend(m for m in _models_in(arg) if m not in found)
    return found
