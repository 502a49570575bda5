"""Reading and checking the dashboard's form posts: CSRF first, then the fields."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

from shipyard.web.session import SessionSigner, WebSession, current

FORM_TYPE = "application/x-www-form-urlencoded"


class CsrfRefused(Exception):
    """A form post without this session's CSRF token, or from another site."""


class LoginRequired(Exception):
    """A page asked for by someone who has not logged in (or whose login ended)."""


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]
    session: WebSession

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default).strip()

    def flag(self, name: str) -> bool:
        return self.fields.get(name, "") in ("on", "true", "1", "yes")


async def read_form(request: Request, signer: SessionSigner) -> Form:
    """The posted fields, once the CSRF token and the origin are checked."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise CsrfRefused("the form was sent from another site")
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise CsrfRefused("the request is not a form post")
    body = (await request.body()).decode("utf-8", "replace")
    try:
        fields = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=64))
    except ValueError:
        raise CsrfRefused("the form has more fields than any of this dashboard's forms") from None
    session = current(request, signer)
    if session is None:
        raise CsrfRefused(
            "the browser sent no session cookie with the form: allow cookies for this site, "
            "reload the page and try again"
        )
    if not signer.csrf_ok(session, fields.pop("csrf", "")):
        raise CsrfRefused("the form is stale or came from another site: reload the page and retry")
    return Form(fields, session)
