"""Run the frontend under uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.errors import FrontendError, UsageError
from shipyard.frontend.core.config import FrontendConfig, IdentityCert
from shipyard.frontend.core.tls import TlsFiles

KEEP_ALIVE = 65


def read_cert(spec: str) -> IdentityCert:
    """An identity certificate from "PEM" or "REGION=PEM"."""
    region, sep, path = spec.partition("=")
    if not sep:
        region, path = "", spec
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read identity certificate {path}: {exc.strerror}") from exc
    if b"BEGIN CERTIFICATE" not in pem:
        raise UsageError(f"{path} is not a PEM certificate")
    return IdentityCert(pem=pem, region=region or None)


def _ssl_options(tls: TlsFiles | None) -> dict[str, Any]:
    if tls is None:
        return {}
    return {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}


def serve(settings: FrontendConfig, host: str, port: int, tls: TlsFiles | None = None) -> None:
    """Serve until interrupted; the database must already be initialised."""
    import uvicorn

    from shipyard.frontend.api.app import create_app
    from shipyard.frontend.core import db
    from shipyard.serving import uvicorn_limits

    engine = db.make_engine(settings.db_url)
    # Every replica migrates at start, under the lock, so a rolling upgrade needs no step.
    db.upgrade_locked(engine)
    db.check_initialised(engine)
    app = create_app(settings, engine=engine)
    # Keep idle connections longer than a load balancer's idle timeout (60 s on AWS):
    # a backend closing first races with the next request on the same connection.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE,
        **uvicorn_limits(),
        **_ssl_options(tls),
    )


@contextmanager
def background(
    app: Any, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None
) -> Iterator[str]:
    """Serve ``app`` from a thread while the block runs; yields its base URL."""
    import uvicorn

    from shipyard.serving import uvicorn_limits

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE,
        **uvicorn_limits(),
        **_ssl_options(tls),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="frontend", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise FrontendError(f"the frontend did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
