"""Validation errors in words: never pydantic's "Value error, " prefix, never a raw regex."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints, ValidationError, field_validator

from shipyard.validation_text import allowed_characters, first_problem


class Host(BaseModel):
    name: Annotated[
        str, StringConstraints(max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    ]
    mac: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")] = (
        "00:00:00:00:00:00"
    )
    rack: int = 0

    @field_validator("rack")
    @classmethod
    def _rack(cls, value: int) -> int:
        if value < 0:
            raise ValueError("a rack number cannot be negative")
        return value


def problem(**data: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Host.model_validate(data)
    return first_problem(caught.value.errors())


def test_patterns_are_told_as_the_characters_they_allow() -> None:
    text = problem(name="Bad Name")
    assert text == "name: 'Bad Name' is not allowed here: use lower-case letters, digits and '-'"
    assert "^" not in problem(name="x", mac="zz") and "0 to 9" not in problem(name="x", mac="zz")


def test_value_errors_lose_pydantics_prefix() -> None:
    assert problem(name="x", rack=-1) == "rack: a rack number cannot be negative"
    assert problem() == "name: is required"
    assert problem(name="x" * 64) == "name: must be at most 63 characters"


def test_patterns_it_cannot_tell_say_nothing_rather_than_the_regex() -> None:
    assert allowed_characters(r"^/[^\x00]*$") == ""
