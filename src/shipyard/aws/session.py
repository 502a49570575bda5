"""The one way Shipyard talks to AWS: sessions, clients and error translation.

Credentials come from boto3's standard chain (environment, profile, SSO, instance
role), unless explicit keys are given (a manifest's ``credentials``) or only the
bootstrap-vz variables AWS_ACCESS_KEY / AWS_SECRET_KEY are set. Keys are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shipyard import __version__
from shipyard.errors import AWSConflict, AWSError, AWSNotFound, UsageError

if TYPE_CHECKING:
    import boto3

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
MAX_ATTEMPTS = 10
# botocore's retry modes: "adaptive" also limits the send rate after throttling.
RetryMode = Literal["adaptive", "standard"]


@dataclass(frozen=True)
class AwsSettings:
    """Where and as whom to call AWS; ``None`` means "as boto3 would decide"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)


def _bootstrap_vz_keys() -> tuple[str, str] | None:
    """The legacy AWS_ACCESS_KEY / AWS_SECRET_KEY pair, if the standard one is absent."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return None
    access, secret = os.environ.get("AWS_ACCESS_KEY"), os.environ.get("AWS_SECRET_KEY")
    return (access, secret) if access and secret else None


Hook = tuple[str, Callable[..., Any]]


def make_session(settings: AwsSettings, hooks: Sequence[Hook] = ()) -> boto3.Session:
    """A boto3 session for ``settings``; raises AWSError if no region can be found.

    ``hooks`` are botocore event handlers ``(event name, handler)`` registered on the
    session, e.g. to record every call a command makes.
    """
    import boto3
    import botocore.exceptions

    kwargs: dict[str, Any] = {}
    keys: tuple[str, str] | None = None
    if settings.access_key and settings.secret_key:
        keys = (settings.access_key, settings.secret_key)
    elif not settings.profile:
        keys = _bootstrap_vz_keys()
    if keys:
        kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = keys
    elif settings.profile:
        kwargs["profile_name"] = settings.profile
    try:
        session = boto3.Session(region_name=settings.region, **kwargs)
    except botocore.exceptions.ProfileNotFound as exc:
        raise AWSError(f"AWS profile {settings.profile!r} is not configured") from exc
    for event, handler in hooks:
        session.events.register(event, handler)
    if not session.region_name:
        raise AWSError(
            "no AWS region given",
            hint="name one, set AWS_REGION, or set a region in the AWS profile",
            setting="region",
        )
    return session


def client_config(
    *,
    max_attempts: int = MAX_ATTEMPTS,
    retry_mode: RetryMode = "adaptive",
    pool: int = 10,
    read_timeout: float = READ_TIMEOUT,
) -> Any:
    """botocore Config: retries (``max_attempts`` 1 turns them off), timeouts."""
    from botocore.config import Config

    retries: dict[str, Any] = (
        {"mode": retry_mode, "max_attempts": max_attempts}
        if max_attempts > 1
        else {"mode": "standard", "total_max_attempts": 1}
    )
    import botocore

    # A fixed User-Agent: botocore rebuilds its default one for every request, which
    # costs about a third of the CPU a 512 KiB PutSnapshotBlock takes.
    return Config(
        retries=retries,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        max_pool_connections=pool,
        user_agent=f"shipyard/{__version__} Botocore/{botocore.__version__}",
        tcp_keepalive=True,
    )


def client(
    session: boto3.Session,
    service: str,
    settings: AwsSettings,
    *,
    region: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    retry_mode: RetryMode = "adaptive",
    pool: int = 10,
) -> Any:
    """A client for ``service`` in ``region`` (the session's by default)."""
    if settings.endpoint_url:
        check_endpoint(settings.endpoint_url)
    return session.client(
        service,
        region_name=region or session.region_name,
        endpoint_url=settings.endpoint_url,
        config=client_config(max_attempts=max_attempts, retry_mode=retry_mode, pool=pool),
    )


ENDPOINT_PROBE_TIMEOUT = 3.0
_reachable: set[str] = set()


def check_endpoint(url: str) -> None:
    """Refuse an endpoint that is not an http(s) URL, or that nothing answers on, in seconds.

    Without this, botocore raises ValueError for a malformed URL and retries a refused
    connection for half a minute before giving up without a hint.
    """
    import socket
    from urllib.parse import urlsplit

    if url in _reachable:
        return
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise UsageError(
            f"AWS endpoint {url!r} is not an http:// or https:// URL",
            hint="give a URL like http://127.0.0.1:5000",
        )
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=ENDPOINT_PROBE_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AWSError(
            f"AWS endpoint {url} does not answer ({reason.lower()})",
            hint="start a local one with `shipyard aws local`, or check the URL",
        ) from exc
    _reachable.add(url)


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


# AWS error codes that say "there is no such thing" and "it is there already".
NOT_FOUND_CODES = frozenset(
    {
        "404",  # a HEAD request's answer has no body, so no code but its status
        "NotFound",
        "NoSuchKey",
        "NoSuchBucket",
        "InvalidAMIID.NotFound",
        "InvalidAMIID.Unavailable",
        "InvalidSnapshot.NotFound",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
    }
)
CONFLICT_CODES = frozenset(
    {
        "PreconditionFailed",
        "ConditionalRequestConflict",
        "InvalidAMIName.Duplicate",
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
    }
)


def as_aws_error(what: str, exc: Exception) -> AWSError:
    """One sentence for a botocore failure: the operation and AWS's code and message.

    Its kind says what a caller may act on: AWSNotFound, AWSConflict, else AWSError.
    """
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AWSError(
            f"{what}: no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or log in with SSO",
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or "").rstrip(".")
        kind = (
            AWSNotFound
            if code in NOT_FOUND_CODES
            else AWSConflict
            if code in CONFLICT_CODES
            else AWSError
        )
        translated = kind(f"{what} failed: {code}" + (f": {message}" if message else ""))
        translated.code = code
        return translated
    return AWSError(f"{what} failed: {exc}")


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn botocore and boto3 errors raised in the block into AWSError naming ``what``."""
    import boto3.exceptions
    import botocore.exceptions
    import botocore.parsers

    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise as_aws_error(what, exc) from exc
    except boto3.exceptions.Boto3Error as exc:
        raise as_aws_error(what, exc) from exc
    except botocore.parsers.ResponseParserError as exc:
        # Not an AWS answer at all: an HTML error page, e.g. a local endpoint's 500
        # for an operation it does not implement. Its body is not worth printing.
        raise AWSError(
            f"{what} failed: the endpoint's answer is not an AWS response",
            hint="the endpoint may not implement this operation",
        ) from exc


def call(client: Any, operation: str, what: str | None = None, **params: Any) -> Any:
    """``client.<operation>(**params)`` with errors translated; ``operation`` is snake_case."""
    with translated(what or _pretty(operation)):
        return getattr(client, operation)(**params)


def _pretty(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))
