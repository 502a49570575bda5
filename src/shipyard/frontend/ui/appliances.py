"""Appliances (their profiles and attributes) and the global attributes."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipyard.frontend.api.deps import SessionDep, SettingsDep
from shipyard.frontend.core.problems import Problem
from shipyard.frontend.crud import appliances, attributes
from shipyard.frontend.models import Appliance
from shipyard.frontend.schemas.appliances import ApplianceCreate
from shipyard.frontend.schemas.profile import Profile
from shipyard.frontend.ui.attrs import set_from_form, unset_from_form
from shipyard.frontend.ui.deps import AdminDep, FormDep, PagesDep
from shipyard.validation_text import first_problem
from shipyard.web.pages import PREFIX, Pages, redirect

router = APIRouter()
DONE = {
    "added": "Appliance added.",
    "profile": "Profile saved.",
    "set": "Attribute set.",
    "unset": "Attribute removed.",
    "removed": "Appliance removed.",
}


def parse_profile(text: str) -> Profile:
    """A profile from the text of a profile file (inline content only), as the CLI checks it."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"profile is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("profile must be a mapping of packages, files, scripts, ...")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"profile: {first_problem(exc.errors())}") from exc


def profile_text(appliance: Appliance) -> str:
    if not appliance.profile:
        return ""
    return yaml.safe_dump(appliance.profile, sort_keys=False, allow_unicode=True)


def _list_context(session: Session, **extra: Any) -> dict[str, Any]:
    return {"title": "Appliances", "appliances": appliances.listing(session), **extra}


@router.get("/appliances")
def appliances_page(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, done: str = ""
) -> Response:
    context = _list_context(session, notice=DONE.get(done, ""))
    return pages.render(request, "appliances.html", context)


@router.post("/appliances")
def add_appliance(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    try:
        body = ApplianceCreate(name=form.get("name"), description=form.get("description"))
        appliances.create(session, body)
    except ValidationError as exc:
        error = f"appliance {first_problem(exc.errors())}"
        return pages.render(
            request, "appliances.html", _list_context(session, error=error), status=422
        )
    except Problem as exc:
        context = _list_context(session, error=str(exc))
        return pages.render(request, "appliances.html", context, status=exc.status)
    return redirect(f"{PREFIX}/appliances/{body.name}?done=added")


def _appliance_context(session: Session, appliance: Appliance, **extra: Any) -> dict[str, Any]:
    return {
        "title": appliance.name,
        "appliance": appliance,
        "hosts": appliances.host_count(session, appliance.id),
        "profile": profile_text(appliance),
        "attributes": attributes.public_rows(
            attributes.at_scope(session, "appliance", appliance.id), appliance.name
        ),
        **extra,
    }


def _found(request: Request, pages: Pages, session: Session, name: str) -> Appliance | Response:
    try:
        return appliances.get(session, name)
    except Problem as exc:
        context = {"title": "Not found", "error": str(exc)}
        return pages.render(request, "refused.html", context, status=404)


@router.get("/appliances/{name}")
def appliance_page(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, done: str = ""
) -> Response:
    found = _found(request, pages, session, name)
    if isinstance(found, Response):
        return found
    context = _appliance_context(session, found, notice=DONE.get(done, ""))
    return pages.render(request, "appliance.html", context)


@router.post("/appliances/{name}/profile")
def save_profile(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    found = _found(request, pages, session, name)
    if isinstance(found, Response):
        return found
    text = form.fields.get("profile", "")
    try:
        appliances.set_profile(session, found.name, parse_profile(text))
    except (ValueError, Problem) as exc:
        # The admin's text stays in the box, to be fixed rather than typed again.
        context = _appliance_context(session, found, error=str(exc), profile=text)
        return pages.render(request, "appliance.html", context, status=422)
    return redirect(f"{PREFIX}/appliances/{found.name}?done=profile")


@router.post("/appliances/{name}/remove")
def remove_appliance(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, _f: FormDep
) -> Response:
    found = _found(request, pages, session, name)
    if isinstance(found, Response):
        return found
    try:
        appliances.remove(session, found.name)
    except Problem as exc:
        context = _appliance_context(session, found, error=str(exc))
        return pages.render(request, "appliance.html", context, status=exc.status)
    return redirect(f"{PREFIX}/appliances?done=removed")


@router.post("/appliances/{name}/attributes")
def set_appliance_attribute(
    request: Request,
    name: str,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    _a: AdminDep,
    form: FormDep,
) -> Response:
    found = _found(request, pages, session, name)
    if isinstance(found, Response):
        return found
    problem = set_from_form(session, "appliance", found.id, form, settings.secret_key)
    if problem:
        context = _appliance_context(session, found, error=problem)
        return pages.render(request, "appliance.html", context, status=422)
    return redirect(f"{PREFIX}/appliances/{found.name}?done=set")


@router.post("/appliances/{name}/attributes/unset")
def unset_appliance_attribute(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    found = _found(request, pages, session, name)
    if isinstance(found, Response):
        return found
    problem = unset_from_form(session, "appliance", found.id, form)
    if problem:
        context = _appliance_context(session, found, error=problem)
        return pages.render(request, "appliance.html", context, status=404)
    return redirect(f"{PREFIX}/appliances/{found.name}?done=unset")


def _globals_context(session: Session, **extra: Any) -> dict[str, Any]:
    rows = attributes.public_rows(attributes.at_scope(session, "global", 0))
    return {"title": "Attributes", "attributes": rows, **extra}


@router.get("/attributes")
def attributes_page(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, done: str = ""
) -> Response:
    context = _globals_context(session, notice=DONE.get(done, ""))
    return pages.render(request, "attributes.html", context)


@router.post("/attributes")
def set_global_attribute(
    request: Request,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    _a: AdminDep,
    form: FormDep,
) -> Response:
    problem = set_from_form(session, "global", 0, form, settings.secret_key)
    if problem:
        context = _globals_context(session, error=problem)
        return pages.render(request, "attributes.html", context, status=422)
    return redirect(f"{PREFIX}/attributes?done=set")


@router.post("/attributes/unset")
def unset_global_attribute(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    problem = unset_from_form(session, "global", 0, form)
    if problem:
        context = _globals_context(session, error=problem)
        return pages.render(request, "attributes.html", context, status=404)
    return redirect(f"{PREFIX}/attributes?done=unset")
