"""The one error tree of Shipyard.

Every error a user can cause or meet derives from :class:`ShipyardError`; the CLI
prints its message as one sentence and exits non-zero. Errors from libraries
(boto, HTTP, subprocess) are translated into these where they enter our code.
"""

from __future__ import annotations


class ShipyardError(Exception):
    """Base of every error Shipyard reports to a user."""

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, setting: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The parameter at fault by its name in the code ("keep", "region"). Domain code
        # names no command-line flag: the CLI shows this as its own (--keep, --region).
        self.setting = setting

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}" if self.setting else self.message

    @property
    def problems(self) -> tuple[str, ...]:
        """Every mistake found, one sentence each; most errors stop at the first."""
        return (self.message,)


class NotFound(ShipyardError):
    """What was named does not exist: a build, a catalog version or object, a host."""

    exit_code = 4


class Conflict(ShipyardError):
    """The change clashes with what is there: the name is taken, or the thing is in use."""

    exit_code = 5


class ManifestError(ShipyardError):
    """The manifest (or a file it names) is wrong: the message names file, line and key.

    ``more`` holds the other mistakes found in the same pass, so that all of them can be
    fixed in one go (as `packer validate` reports them).
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, more: tuple[str, ...] = ()):
        super().__init__(message, hint=hint)
        self.more = more

    @property
    def problems(self) -> tuple[str, ...]:
        return (self.message, *self.more)


class UsageError(ShipyardError):
    """A command line argument is wrong."""

    exit_code = 2


class ToolError(ShipyardError):
    """An external program failed; carries the command and the tail of its output."""

    def __init__(self, message: str, *, argv: list[str], returncode: int, output_tail: str) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.output_tail = output_tail


class BuildError(ShipyardError):
    """A build stage failed."""


class CacheError(BuildError):
    """The build cache could not be read or written."""


class DiskError(BuildError):
    """A disk image could not be laid out, written or read back."""


class VMError(ShipyardError):
    """A virtual machine could not be started or did not behave."""


class AgentError(ShipyardError):
    """The boot agent reported a failure."""


class PublishError(ShipyardError):
    """Publishing a build (AMI, S3, catalog) failed."""


class AWSError(PublishError):
    """An AWS API call failed after retries; the message carries the AWS error code."""

    code: str | None = None  # AWS's error code, where AWS gave one


class AWSNotFound(AWSError, NotFound):
    """AWS has no such object, bucket, image or snapshot."""


class AWSConflict(AWSError, Conflict):
    """AWS refused to create what exists already (or a write whose condition failed)."""


class FrontendError(ShipyardError):
    """The frontend refused a request or could not be reached."""


class CatalogError(ShipyardError):
    """The image catalog could not be read, verified or written."""


class CatalogNotFound(CatalogError, NotFound):
    """The catalog has no such version, object or bucket."""


class CatalogConflict(CatalogError, Conflict):
    """The catalog already holds what was to be created."""


class VerifyError(ShipyardError):
    """A build's files do not match its record, bill of materials or provenance."""


class StackError(ShipyardError):
    """A CloudFormation stack could not be rendered or deployed."""


class StackFileError(StackError):
    """A stack file (or a template it names) is wrong: the message names file, line and key."""

    exit_code = 2


class ServeError(ShipyardError):
    """A server could not start: its address is taken, not allowed or not valid."""

    exit_code = 3


class Interrupted(ShipyardError):
    """The user or the system asked us to stop (Ctrl-C, SIGTERM)."""

    exit_code = 130


# The exit codes of the `shipyard` command, in one place: the CLI maps every error to
# one of these through the classes above, and prints this table in `shipyard --help`.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "the work failed (build, boot, AWS, catalog, frontend, verify)",
    2: "bad usage or input: a wrong argument or a wrong manifest",
    3: "a server could not start (address taken or not allowed)",
    4: "not found: what was named does not exist (a build, a catalog version)",
    5: "conflict: what was to be made exists already, or is in use",
    130: "interrupted (Ctrl-C or SIGTERM); cleanup has run",
}


# The status each kind answers with over HTTP (catalog and frontend APIs); first match wins.
HTTP_STATUSES: tuple[tuple[type[ShipyardError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (UsageError, 400),
    (ManifestError, 400),
)


def http_status_for(exc: ShipyardError) -> int:
    """The HTTP status for ``exc`` by its kind: 404, 409, 400 for bad input, else 500."""
    for kind, status in HTTP_STATUSES:
        if isinstance(exc, kind):
            return status
    return 500


def exit_code_for(exc: BaseException) -> int:
    """The exit code for ``exc``: its class's, 130 for an interrupt, 1 for anything else."""
    if isinstance(exc, ShipyardError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted.exit_code
    return 1
