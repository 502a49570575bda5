"""Variables in ``name`` and ``description``: ``debian-{release}-{arch}-{date}``."""

from __future__ import annotations

import difflib
import string
from datetime import UTC, datetime

# What each variable means; the keys are the only names a template may use.
VARIABLES: dict[str, str] = {
    "release": "the Debian release codename, such as bookworm",
    "arch": "the architecture, such as amd64",
    "flavour": "the manifest's flavour",
    "date": "the build's UTC date as YYYYMMDD",
    "time": "the build's UTC time as HHMMSS",
    "build_id": "the build's id",
}


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be rendered (a malformed brace, an unknown variable), or None."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in _parse(template) if f is not None]
    except ValueError as exc:
        return (
            f"{template!r} has a malformed brace ({exc}); write variables as {{release}} "
            "and a literal brace as {{ or }}"
        )
    for field, spec, conv in fields:
        if field == "":
            return f"{template!r} has an empty {{}}; expected one of {_allowed()}"
        if field not in VARIABLES:
            close = difflib.get_close_matches(field, VARIABLES, n=1)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            return (
                f"{template!r} uses the unknown variable {{{field}}}; "
                f"{hint}expected one of {_allowed()}"
            )
        if spec or conv:
            return f"{template!r} formats {{{field}}}; variables take no format, use {{{field}}}"
    return None


def _parse(template: str) -> list[tuple[str, str | None, str, str | None]]:
    return [
        (literal, field, spec or "", conv)
        for literal, field, spec, conv in string.Formatter().parse(template)
    ]


def _allowed() -> str:
    return ", ".join(f"{{{name}}}" for name in VARIABLES)


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with its variables filled in from ``values`` (already checked names)."""
    return "".join(
        literal + (values[field] if field is not None else "")
        for literal, field, _, _ in _parse(template)
    )


def time_values(now: datetime) -> dict[str, str]:
    """{date} and {time} of ``now`` in UTC; a naive ``now`` is taken to be UTC already."""
    moment = now.astimezone(UTC) if now.tzinfo is not None else now
    return {"date": moment.strftime("%Y%m%d"), "time": moment.strftime("%H%M%S")}
