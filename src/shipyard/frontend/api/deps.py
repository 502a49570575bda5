"""Dependencies: settings, a database session per request, and who is calling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.core.db import Database
from shipyard.frontend.core.problems import Forbidden, Unauthorized
from shipyard.frontend.crud import tokens

bearer = HTTPBearer(auto_error=False, description="an admin, join or host token")


async def get_settings(request: Request) -> FrontendConfig:
    settings: FrontendConfig = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def write_turn(request: Request) -> AsyncIterator[None]:
    """Wait for this request's turn to use the database (SQLite: one at a time)."""
    async with request.app.state.db.turns:
        yield


# scope="function": the turn ends (and the commit below happens) before the response is
# sent, so a client that got a 2xx can read its own write.
TurnDep = Annotated[None, Depends(write_turn, scope="function")]


def get_session(request: Request, _turn: TurnDep) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back."""
    with request.app.state.db.transaction() as session:
        yield session


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("this request needs a token in an 'Authorization: Bearer' header")
    return credentials.credentials


SettingsDep = Annotated[FrontendConfig, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TokenDep = Annotated[str, Depends(bearer_token)]


def require_admin(session: SessionDep, token: TokenDep) -> None:
    if tokens.find(session, token, "admin") is None:
        raise Forbidden("the token is not a valid admin token")


AdminDep = Depends(require_admin)
