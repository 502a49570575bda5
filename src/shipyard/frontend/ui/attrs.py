"""Setting and removing attributes from a form, at any scope, with the API's checks."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.orm import Session

from shipyard.errors import FrontendError
from shipyard.frontend.crud import attributes
from shipyard.frontend.schemas.common import AttrKey, Body, Text
from shipyard.validation_text import first_problem
from shipyard.web.forms import Form


class AttributeForm(Body):
    key: AttrKey
    value: Text
    shadow: bool = False


def set_from_form(
    session: Session, scope: str, target: int, form: Form, secret_key: str | None
) -> str:
    """Set the posted attribute; returns what is wrong with it ("" when it was set)."""
    try:
        body = AttributeForm(
            key=form.get("key"), value=form.get("value"), shadow=form.flag("shadow")
        )
    except ValidationError as exc:
        return f"attribute {first_problem(exc.errors())}"
    try:
        attributes.put(session, scope, target, body.key, body.value, body.shadow, secret_key)
    except FrontendError as exc:
        return str(exc)
    return ""


def unset_from_form(session: Session, scope: str, target: int, form: Form) -> str:
    try:
        attributes.remove(session, scope, target, form.get("key"))
    except FrontendError as exc:
        return str(exc)
    return ""
