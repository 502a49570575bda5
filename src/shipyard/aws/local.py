"""A moto server on loopback: a local EC2/EBS/S3 endpoint for trying Shipyard offline."""

from __future__ import annotations

import shutil
import sys

from shipyard.errors import UsageError


def moto_server_argv(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command that runs a moto server; UsageError if the ``local`` extra is missing."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise UsageError(
            "the local AWS endpoint needs moto's server",
            hint="pip install 'shipyard[local]'",
        ) from None
    exe = shutil.which("moto_server")
    if exe:
        return [exe, "-H", host, "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
