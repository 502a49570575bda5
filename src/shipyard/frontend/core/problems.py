"""Refusals the API turns into HTTP statuses; each is one sentence a user can act on."""

from __future__ import annotations

from shipyard import errors
from shipyard.errors import FrontendError


class Problem(FrontendError):
    status = 400


class Unauthorized(Problem):
    status = 401


class Forbidden(Problem):
    status = 403


class NotFound(Problem, errors.NotFound):
    status = 404


class Conflict(Problem, errors.Conflict):
    status = 409


class Invalid(Problem):
    status = 422
