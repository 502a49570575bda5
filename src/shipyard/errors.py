"""The one error tree of Shipyard.

Every error a user can cause or meet derives from :class:`ShipyardError`; the CLI
prints its message as one sentence and exits non-zero. Errors from libraries
(boto, HTTP, subprocess) are translated into these where they enter our code.
"""

from __future__ import annotations


class ShipyardError(Exception):
    """Base of every error Shipyard reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ManifestError(ShipyardError):
    """The manifest (or a file it names) is wrong: the message names file, line and key."""

    exit_code = 2


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


class FrontendError(ShipyardError):
    """The frontend refused a request or could not be reached."""


class CatalogError(ShipyardError):
    """The image catalog could not be read, verified or written."""


class StackError(ShipyardError):
    """A CloudFormation stack could not be rendered or deployed."""


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
    1: "the work failed (build, boot, AWS, catalog, frontend)",
    2: "bad usage or input: a wrong argument or a wrong manifest",
    3: "a server could not start (address taken or not allowed)",
    130: "interrupted (Ctrl-C or SIGTERM); cleanup has run",
}


def exit_code_for(exc: BaseException) -> int:
    """The exit code for ``exc``: its class's, 130 for an interrupt, 1 for anything else."""
    if isinstance(exc, ShipyardError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted.exit_code
    return 1
