"""Render an appliance profile for one host: Jinja2 in a sandbox, attributes as data."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from shipyard.frontend.core.problems import Invalid
from shipyard.frontend.schemas.profile import Profile, RenderedProfile


@cache
def _environment() -> SandboxedEnvironment:
    # The sandbox stops templates from reaching Python internals; StrictUndefined makes a
    # missing attribute an error instead of an empty string in a config file.
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@cache
def _compile(source: str) -> Template:
    return _environment().from_string(source)


def _templates(profile: Profile) -> list[tuple[str, str]]:
    named = [(f"package {p}", p) for p in profile.packages]
    named += [(f"file {f.path}", f.content) for f in profile.files]
    named += [(f"script {s.name}", s.content) for s in profile.scripts]
    named += [(f"bootstrap step {i + 1}", b.shell) for i, b in enumerate(profile.bootstrap)]
    return named


def check_templates(profile: Profile) -> None:
    """Refuse a profile whose templates do not parse."""
    for what, source in _templates(profile):
        try:
            _compile(source)
        except TemplateError as exc:
            raise Invalid(f"profile {what} is not a valid template: {exc}") from exc


def render(
    profile_data: dict[str, Any],
    *,
    host: dict[str, Any],
    attributes: dict[str, str],
) -> RenderedProfile:
    """The profile with every template rendered against the host and its attributes."""
    profile = Profile.model_validate(profile_data)
    context: dict[str, Any] = {"host": host, "attrs": attributes}
    # Attribute names that are plain identifiers may be used bare: {{ ntp_server }}.
    context.update({k: v for k, v in attributes.items() if k.isidentifier()})
    context["host"], context["attrs"] = host, attributes

    def fill(what: str, source: str) -> str:
        try:
            return _compile(source).render(context)
        except TemplateError as exc:
            raise Invalid(f"profile {what} cannot be rendered for {host['name']}: {exc}") from exc

    return RenderedProfile(
        host=host["name"],
        appliance=host["appliance"],
        attributes=attributes,
        packages=[fill(f"package {p}", p) for p in profile.packages],
        files=[
            f.model_copy(update={"content": fill(f"file {f.path}", f.content)})
            for f in profile.files
        ],
        scripts=[
            s.model_copy(update={"content": fill(f"script {s.name}", s.content)})
            for s in profile.scripts
        ],
        bootstrap=[
            b.model_copy(update={"shell": fill(f"bootstrap step {i + 1}", b.shell)})
            for i, b in enumerate(profile.bootstrap)
        ],
        reboot=profile.reboot,
    )
