"""Join a Shipyard frontend: register, fetch the profile, install it, report, reboot.

Runs inside the image at first boot, so it uses the standard library only and imports
nothing else from Shipyard. Everything that touches the machine (the file system root,
commands, HTTP) can be redirected, so the same code is tested on a build host.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from .files import write_atomic

DEFAULT_PORT = 8470
HTTP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 1800.0
TAIL_LINES = 40
TAIL_CHARS = 4000

Runner = Callable[[Sequence[str]], tuple[int, str]]
Report = Callable[..., None]


class JoinFailed(Exception):
    """A step failed; carries the step's name and the tail of its output."""

    def __init__(self, step: str, message: str, output: str = "") -> None:
        super().__init__(message)
        self.step, self.message, self.output = step, message, output


# Letters, digits and inner hyphens per label, at least two labels, at most 253 characters.
DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def parse_master(master: object) -> str:
    """The frontend's base URL from "https://HOST[:PORT]", "http://HOST[:PORT]" or "HOST[:PORT]".

    The bare form means plain HTTP. HOST is an IP address, or a DNS name for a frontend
    behind a load balancer (whose addresses change, so it has only a name).
    """
    if not isinstance(master, str) or not master or len(master) > 300:
        raise ValueError("master must be https://HOST[:PORT] (or HOST for plain HTTP)")
    scheme, sep, rest = master.partition("://")
    if not sep:
        scheme, rest = "http", master
    if scheme not in ("http", "https"):
        raise ValueError(f"master {master!r} is neither https:// nor http://")
    rest = rest.rstrip("/")
    host, port = rest, str(DEFAULT_PORT)
    if rest.startswith("["):
        host, bracket, tail_ = rest[1:].partition("]")
        if not bracket:
            raise ValueError(f"master {master!r} is not [IPv6]:PORT")
        if tail_:
            if not tail_.startswith(":"):
                raise ValueError(f"master {master!r} is not [IPv6]:PORT")
            port = tail_[1:]
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    try:
        address = ipaddress.ip_address(host)
        shown = f"[{address}]" if address.version == 6 else str(address)
    except ValueError:
        if rest.startswith("[") or not DNS_NAME.fullmatch(host):
            raise ValueError(f"master {master!r} is neither an IP address nor a DNS name") from None
        shown = host.lower()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"master {master!r} has no valid port")
    return f"{scheme}://{shown}:{int(port)}"


def check_transport(base: str, request: dict[str, object]) -> str:
    """The certificate pin to use (hex SHA-256, or "" for the system CAs); refuses plain HTTP.

    Everything a host receives (its token, its secrets, the scripts it runs as root)
    travels on this connection, so plain HTTP needs an explicit ``"insecure": true``.
    """
    pin = request.get("ca_sha256")
    if base.startswith("http://"):
        if request.get("insecure") is True:
            return ""
        raise ValueError(
            f"refusing plain HTTP to {base}: the host token, secrets and root scripts would "
            'travel unencrypted; use an https:// master with "ca_sha256", '
            'or set "insecure": true'
        )
    if pin is None:
        return ""
    if not isinstance(pin, str) or len(pin.replace(":", "")) != 64:
        raise ValueError("ca_sha256 must be the certificate's SHA-256 as 64 hex digits")
    pin = pin.replace(":", "").lower()
    try:
        int(pin, 16)
    except ValueError:
        raise ValueError("ca_sha256 must be the certificate's SHA-256 as 64 hex digits") from None
    return pin


class _PinnedConnection(http.client.HTTPSConnection):
    """An HTTPS connection that trusts exactly one certificate, by its SHA-256."""

    def __init__(self, *args: Any, pin: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pin = pin

    def connect(self) -> None:
        super().connect()
        der = self.sock.getpeercert(binary_form=True) or b""
        if hashlib.sha256(der).hexdigest() != self.pin:
            self.sock.close()
            raise ssl.SSLError(
                f"the frontend's certificate is not the pinned one (sha256 {self.pin[:16]}...)"
            )


class _PinnedHandler(urllib.request.HTTPSHandler):
    def __init__(self, pin: str) -> None:
        # The pin replaces the CA and name checks: the frontend is an IP address with a
        # self-signed certificate, and the user data says which certificate it is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(context=context)
        self._pin = pin

    def https_open(self, req: urllib.request.Request) -> Any:
        context = self._context  # type: ignore[attr-defined]
        connection: Any = _PinnedConnection
        return self.do_open(connection, req, context=context, pin=self._pin)


def opener(pin: str) -> urllib.request.OpenerDirector:
    """urllib with the certificate pinned when ``pin`` is given, else the system CAs."""
    if pin:
        return urllib.request.build_opener(_PinnedHandler(pin))
    return urllib.request.build_opener()


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    """Run a command with its output captured (stdout and stderr interleaved)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, done.stdout.decode(errors="replace")


def tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])[-TAIL_CHARS:]


class Api:
    """The frontend's host-facing API over urllib."""

    def __init__(self, base: str, *, attempts: int = 30, pause: float = 2.0, pin: str = "") -> None:
        self.base, self.attempts, self.pause = base, attempts, pause
        self.token = ""
        self.opener = opener(pin)

    def call(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token or self.token:
            headers["Authorization"] = f"Bearer {token or self.token}"
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.base + path, data, headers, method=method)
            try:
                with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                # 5xx may pass (a frontend restarting); a 4xx is an answer, not a hiccup.
                if exc.code < 500 or attempt == self.attempts - 1:
                    raise JoinFailed(
                        path, f"{method} {path}: HTTP {exc.code}: {_detail(exc)}"
                    ) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLError):
                    # A wrong certificate is an answer too: retrying will not change it.
                    raise JoinFailed(path, f"TLS to {self.base} failed: {reason}") from None
                # The frontend may still be starting while hosts boot.
                if attempt == self.attempts - 1:
                    raise JoinFailed(path, f"cannot reach {self.base}: {exc}") from None
            time.sleep(self.pause)
        raise JoinFailed(path, f"cannot reach {self.base}")


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail", exc.reason))
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def _ids(root: str, table: str, name: str) -> int:
    """The numeric id of a user or group, looked up in the target root's own files."""
    try:
        with open(os.path.join(root, "etc", table), encoding="utf-8") as fh:
            for line in fh:
                fields = line.split(":")
                if len(fields) > 2 and fields[0] == name:
                    return int(fields[2])
    except OSError:
        pass
    if name == "root":
        return 0
    raise JoinFailed("files", f"no {'user' if table == 'passwd' else 'group'} named {name!r}")


def under(root: str, path: str) -> str:
    """``path`` inside ``root``, refusing paths that climb out of it."""
    full = os.path.normpath(os.path.join(root, path.lstrip("/")))
    if os.path.commonpath([full, os.path.normpath(root)]) != os.path.normpath(root):
        raise JoinFailed("files", f"path {path!r} leaves the root")
    return full


def write_file(root: str, spec: dict[str, Any]) -> str:
    """Write one profile file atomically with its mode and owner; returns its path."""
    path = under(root, str(spec["path"]))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    uid = _ids(root, "passwd", str(spec.get("owner", "root")))
    gid = _ids(root, "group", str(spec.get("group", "root")))
    mode = int(str(spec.get("mode", "0644")), 8)
    owner = (uid, gid) if os.geteuid() == 0 else None
    write_atomic(path, str(spec.get("content", "")), mode, owner)
    return path


SCRIPT_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def script_name(name: object) -> str:
    """``name`` when it is a plain file name for a profile script (what the frontend allows).

    "..", "." or "a/b" would name a folder or a path elsewhere: refused, not trimmed.
    """
    text = str(name)
    if not 1 <= len(text) <= 64 or text.startswith(".") or not SCRIPT_NAME_CHARS.issuperset(text):
        shown = text[:64] + ("..." if len(text) > 64 else "")
        raise JoinFailed(
            "scripts",
            f"the profile's script name {shown!r} is not a plain file name (letters, digits, "
            "_ . -, not starting with a dot)",
        )
    return text


def _check(step: str, what: str, result: tuple[int, str]) -> str:
    code, output = result
    if code != 0:
        raise JoinFailed(step, f"{what} exited with status {code}", output)
    return output


def apply_profile(profile: dict[str, Any], *, root: str, run: Runner, report: Report) -> None:
    """Install packages, write files, run scripts and bootstrap steps, in that order."""
    packages = [str(p) for p in profile.get("packages") or []]
    if packages:
        code, output = run(["apt-get", "update"])
        if code != 0:
            # Stale or absent lists may still hold the packages (an offline mirror).
            report("packages", False, warning="apt-get update failed", output=tail(output))
        _check(
            "packages",
            "apt-get install",
            run(["apt-get", "install", "-y", "--no-install-recommends", *packages]),
        )
        report("packages", True, packages=packages)
    for spec in profile.get("files") or []:
        try:
            path = write_file(root, spec)
        except OSError as exc:
            raise JoinFailed("files", f"cannot write {spec.get('path')}: {exc}") from None
        report("file", True, path=str(spec["path"]), mode=str(spec.get("mode", "0644")))
        del path
    scripts_dir = under(root, "/var/lib/shipyard/profile")
    for script in profile.get("scripts") or []:
        name = script_name(script["name"])
        os.makedirs(scripts_dir, mode=0o700, exist_ok=True)
        path = os.path.join(scripts_dir, name)
        # Created 0700 before a byte is written: a script may hold rendered secrets.
        write_atomic(path, str(script["content"]), 0o700)
        _check(f"script {name}", f"script {name}", run([path]))
        report("script", True, name=name)
    for index, step in enumerate(profile.get("bootstrap") or [], 1):
        _check(
            f"bootstrap {index}",
            f"bootstrap step {index}",
            run(["/bin/sh", "-c", str(step["shell"])]),
        )
        report("bootstrap", True, number=index)


STATE_DIR = "/var/lib/shipyard/join"


def _state(root: str, name: str) -> str:
    return os.path.join(under(root, STATE_DIR), name)


def _read_state(root: str, name: str) -> str:
    try:
        with open(_state(root, name), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _write_state(root: str, name: str, value: str) -> None:
    """Keep ``value`` where only root can read it (the nonce proves this is the host)."""
    os.makedirs(under(root, STATE_DIR), mode=0o700, exist_ok=True)
    write_atomic(_state(root, name), value, 0o600)


def _facts(request: dict[str, object], facts: dict[str, str], nonce: str = "") -> dict[str, str]:
    body = {"appliance": str(request.get("appliance") or "backend")}
    if nonce and facts.get("identity_document"):
        body["nonce"] = nonce
    for key in (
        "instance_id",
        "availability_zone",
        "region",
        "local_ipv4",
        "mac",
        "hostname",
        "identity_document",
        "identity_signature",
    ):
        if facts.get(key):
            body[key] = str(facts[key])
    return body


def join(
    request: dict[str, object],
    facts: dict[str, str],
    report: Report,
    *,
    root: str = "/",
    run: Runner = run_command,
    api: Api | None = None,
) -> bool:
    """Register with the frontend named in the user data and install the profile."""
    try:
        base = parse_master(request.get("master"))
        pin = check_transport(base, request)
    except ValueError as exc:
        report("register", False, error=str(exc))
        return False
    token = request.get("token")
    nonce = _read_state(root, "nonce")
    if _read_state(root, "installed") and not (nonce and facts.get("identity_document")):
        # A join token joins once; the frontend allows another join only after a reset.
        # A host that joined with its identity document joins again with its nonce.
        report("register", True, state="installed", note="installed already; not joining again")
        return True
    api = api or Api(base, pin=pin)
    try:
        joined = api.call(
            "POST",
            "/api/v1/join",
            _facts(request, facts, nonce),
            token=token if isinstance(token, str) else "",
        )
        api.token = joined["host_token"]
        host = joined["host"]
        if joined.get("nonce"):
            _write_state(root, "nonce", str(joined["nonce"]))
        report("register", True, host=host["name"], master=base, state=host["state"])
    except (JoinFailed, KeyError, TypeError) as exc:
        report("register", False, error=str(exc))
        return False
    if host["state"] in ("installed", "online"):
        return _report_state(api, report, "online", "back online")
    step = "profile"
    secrets: list[str] = []
    try:
        profile = api.call("GET", "/api/v1/self/profile")
        secrets = _secrets(profile)
        report("profile", True, packages=len(profile.get("packages") or []))
        api.call("POST", "/api/v1/self/status", {"state": "installing", "step": "profile"})
        report("installing", True)
        apply_profile(profile, root=root, run=run, report=report)
    except (JoinFailed, OSError, KeyError, TypeError, ValueError) as exc:
        # Whatever broke the install, the frontend hears that this host failed.
        failure = _as_failure(exc, step)
        # The output may hold rendered secrets: masked before it is printed or sent.
        message, output = mask(failure.message, secrets), mask(tail(failure.output), secrets)
        report(failure.step, False, error=message, output=output)
        failed = {
            "state": "failed",
            "step": failure.step[:200],
            "message": message[:4000],
            "output_tail": output,
        }
        try:
            api.call("POST", "/api/v1/self/status", failed)
        except JoinFailed as again:
            report("failed", False, error=again.message)
        return False
    if not _report_state(api, report, "installed", "profile applied"):
        return False
    _write_state(root, "installed", "yes")
    if profile.get("reboot"):
        report("reboot", True)
        run(["systemctl", "reboot"])
    return True


def _as_failure(exc: Exception, step: str) -> JoinFailed:
    if isinstance(exc, JoinFailed):
        return exc
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return JoinFailed("install", f"cannot write{where}: {exc.strerror or type(exc).__name__}")
    return JoinFailed(step, f"malformed profile: {type(exc).__name__}: {exc}")


MASK = "********"


def _secrets(profile: object) -> list[str]:
    """The values of the profile's shadow attributes."""
    if not isinstance(profile, dict):
        return []
    values = profile.get("attributes") or {}
    names = profile.get("shadow") or []
    if not isinstance(values, dict) or not isinstance(names, list):
        return []
    return [str(values[n]) for n in names if isinstance(n, str) and values.get(n)]


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced, longest first (one may contain another)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _report_state(api: Api, report: Report, state: str, message: str) -> bool:
    try:
        api.call("POST", "/api/v1/self/status", {"state": state, "message": message})
    except JoinFailed as exc:
        report(state, False, error=exc.message)
        return False
    report(state, True)
    return True
