"""Pydantic's validation errors told as a user's sentence: no "Value error, ", no raw regex.

Works on pydantic's ``ErrorDetails`` and on the same fields as FastAPI sends them in a
422 answer, so the CLI words an error the same way whether it was found here or by a server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PREFIXES = ("Value error, ", "Assertion failed, ")
_CLASS = re.compile(r"\[(\^?)((?:\\.|[^\]])*)\]")
_RANGES = {"a-z": "lower-case letters", "A-Z": "upper-case letters", "0-9": "digits"}


def problem_text(error: Mapping[str, Any]) -> str:
    """What is wrong, in words, for one error (without where it is)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    if kind == "string_pattern_mismatch":
        allowed = allowed_characters(str(ctx.get("pattern", "")))
        given = f"{value!r} " if isinstance(value, str) and len(value) <= 64 else ""
        return f"{given}is not allowed here" + (f": use {allowed}" if allowed else "")
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else str(error.get("msg"))
    message = str(error.get("msg", "is not valid"))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "must be")
    return message[:1].lower() + message[1:]


def where_text(loc: Sequence[object]) -> str:
    """``("files", 0, "path")`` → ``files.0.path``."""
    return ".".join(str(part) for part in loc)


def first_problem(errors: Sequence[Mapping[str, Any]], *, skip: int = 0) -> str:
    """``where: what`` for the first error; ``skip`` drops leading location parts (``body``)."""
    if not errors:
        return "the input is not valid"
    first = errors[0]
    where = where_text(list(first.get("loc", ()))[skip:])
    return f"{where}: {problem_text(first)}" if where else problem_text(first)


def allowed_characters(pattern: str) -> str:
    """The characters a simple pattern's classes allow, in words; "" when it cannot tell."""
    classes = _CLASS.findall(pattern)
    if not classes or any(negated for negated, _ in classes):
        return ""
    words: list[str] = []
    for _, body in classes:
        for part, name in _RANGES.items():
            if part in body and name not in words:
                words.append(name)
            body = body.replace(part, "")
        for low, high in re.findall(r"(\w)-(\w)", body):
            if f"{low} to {high}" not in words:
                words.append(f"{low} to {high}")
        body = re.sub(r"\w-\w", "", body)
        for char in re.sub(r"\\(.)", r"\1", body):
            if f"'{char}'" not in words:
                words.append(f"'{char}'")
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)
