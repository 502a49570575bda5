"""`shipyard frontend`: init the database, manage join tokens, serve the API, launch hosts."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.argtypes import ListenAddress, listen_address
from shipyard.cli.output import (
    add_json_flag,
    emit_json,
    print_table,
    stderr_console,
    stdout_console,
)
from shipyard.frontend.core.config import DEFAULT_LISTEN


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "frontend", help="run the host frontend (registration, profiles, install state)"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    init = verbs.add_parser(
        "init",
        help="create the database, an admin and a join token, and a TLS certificate",
        description="Migrate the database to the newest schema (under a lock every replica "
        "takes) and, the first time only, mint an admin and a join token. Running it again "
        "never mints more tokens. Tokens made elsewhere are adopted from "
        f"--admin-token-file/--join-token-file or ${INIT_ADMIN_ENV}/${INIT_JOIN_ENV}.",
    )
    _db_flag(init)
    init.add_argument(
        "--migrate-only",
        action="store_true",
        help="only bring the schema up to date (what each replica runs at start)",
    )
    init.add_argument("--admin-token-file", metavar="FILE", help="adopt this admin token")
    init.add_argument("--join-token-file", metavar="FILE", help="adopt this join token")
    init.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where to make (or keep) the TLS certificate and the secret key "
        "(default: the user's data dir)",
    )
    add_json_flag(init)
    init.set_defaults(func=cmd_init)

    token = verbs.add_parser("token", help="create, list, rotate or revoke join or admin tokens")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="mint a token")
    create.add_argument("--description", default="", help="what the token is for")
    create.add_argument(
        "--ttl", type=int, default=86400, metavar="SECONDS", help="lifetime (0: none)"
    )
    create.add_argument("--uses", type=int, metavar="N", help="joins it allows (join tokens)")
    create.add_argument("--appliance", help="the one appliance it joins (join tokens)")
    listing = actions.add_parser("list", help="list tokens (never their values)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int, help="the token's id from `token list`")
    rotate = actions.add_parser("rotate", help="revoke a token and mint its replacement")
    rotate.add_argument("id", type=int, help="the token's id from `token list`")
    for sub in (create, listing, revoke, rotate):
        sub.add_argument("--kind", choices=("join", "admin"), default="join")
        _db_flag(sub)
        add_json_flag(sub)
        sub.set_defaults(func=cmd_token)

    serve = verbs.add_parser("serve", help="serve the frontend API (OpenAPI at /openapi.json)")
    _db_flag(serve)
    serve.add_argument("--listen", type=listen_address, default=DEFAULT_LISTEN, metavar="IP:PORT")
    serve.add_argument(
        "--identity-cert",
        action="append",
        default=[],
        metavar="[REGION=]PEM",
        help="a certificate that signs instance-identity documents (repeatable)",
    )
    serve.add_argument(
        "--identity-account",
        action="append",
        default=[],
        metavar="ID",
        help="accept identity documents only from this account (repeatable)",
    )
    serve.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--secret-key-file",
        metavar="FILE",
        help="the key shadow attributes are sealed with "
        "(default: $SHIPYARD_FRONTEND_KEY, else the one `frontend init` wrote)",
    )
    serve.add_argument(
        "--identity-bind",
        action="append",
        default=[],
        metavar="APPLIANCE:KEY=VALUE",
        help="where an appliance's identity-joined hosts may come from; KEY is ami, region, "
        "vpc, subnet or role (repeatable; vpc, subnet and role need --confirm-instances)",
    )
    serve.add_argument(
        "--confirm-instances",
        action="store_true",
        help="confirm identity-joined instances are running with EC2 DescribeInstances",
    )
    serve.add_argument("--ec2-endpoint-url", help="EC2 endpoint for --confirm-instances")
    serve.add_argument(
        "--identity-max-age",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="refuse identity documents of instances launched longer ago (pendingTime)",
    )
    serve.add_argument(
        "--join-rate-per-token",
        type=int,
        default=600,
        metavar="N",
        help="joins a minute one token may make before 429 (default 600)",
    )
    serve.add_argument(
        "--join-rate-per-address",
        type=int,
        default=120,
        metavar="N",
        help="joins a minute one source address may make before 429 (default 120)",
    )
    serve.add_argument("--host-token-ttl", type=int, default=3600, metavar="SECONDS")
    serve.add_argument("--install-timeout", type=int, default=3600, metavar="SECONDS")
    serve.set_defaults(func=cmd_serve)

    launch = verbs.add_parser(
        "launch",
        help="run EC2 instances that join this frontend",
        description="Run COUNT instances with user data that joins this frontend "
        "(--ami, --instance-type, --master), or raise an auto-scaling group's desired "
        "capacity by COUNT (--asg; its launch template carries the user data). Either way "
        "the new hosts are recorded as expected, pinned to their instance ids.",
    )
    launch.add_argument("--appliance", required=True)
    launch.add_argument("--count", type=int, default=1)
    launch.add_argument("--asg", metavar="GROUP", help="grow this auto-scaling group instead")
    launch.add_argument("--ami", help="the image (not with --asg)")
    launch.add_argument("--instance-type", help="e.g. t3.small (not with --asg)")
    launch.add_argument("--subnet")
    launch.add_argument("--key-name")
    launch.add_argument(
        "--master",
        metavar="https://HOST[:PORT]",
        help="the frontend's address as hosts see it",
    )
    launch.add_argument(
        "--tls-cert", metavar="PEM", help="the frontend's certificate, which hosts pin"
    )
    launch.add_argument(
        "--insecure", action="store_true", help="let hosts join over plain HTTP (a lab only)"
    )
    launch.add_argument("--region")
    launch.add_argument("--profile", help="AWS profile")
    launch.add_argument("--endpoint-url", help="EC2 endpoint (e.g. a local moto server)")
    _db_flag(launch)
    add_json_flag(launch)
    launch.set_defaults(func=cmd_launch)


def _db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///PATH or postgresql://... (default: $SHIPYARD_FRONTEND_DB or a local file)",
    )


def _engine(args: argparse.Namespace, *, init: bool = False) -> Any:
    """The database engine; only `init` may create a SQLite file, and only in a real folder.

    The default file lives in Shipyard's own data folder, which init makes when needed.
    """
    from shipyard.frontend.core import db
    from shipyard.frontend.core.config import default_db_url

    url = args.db or default_db_url()
    if not init:
        db.require_initialised(url)
    elif args.db:
        db.require_folder(url)
    return db.make_engine(url)


INIT_ADMIN_ENV = "SHIPYARD_INIT_ADMIN_TOKEN"
INIT_JOIN_ENV = "SHIPYARD_INIT_JOIN_TOKEN"


def _given_token(kind: str, file: str | None, env: str) -> str | None:
    """A token for init to adopt: from ``file``, else from the environment variable."""
    import os
    from pathlib import Path

    from shipyard.errors import UsageError
    from shipyard.frontend.core.security import check_given_token

    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--{kind}-token-file {file}: cannot read it") from exc
        return check_given_token(kind, text, f"--{kind}-token-file {file}")
    if value := os.environ.get(env):
        return check_given_token(kind, value, f"${env}")
    return None


def cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.frontend import setup
    from shipyard.frontend.core import db
    from shipyard.frontend.core.config import default_tls_dir

    # Given tokens are checked before anything is created.
    admin_token = _given_token("admin", args.admin_token_file, INIT_ADMIN_ENV)
    join_token = _given_token("join", args.join_token_file, INIT_JOIN_ENV)
    engine = _engine(args, init=True)
    if args.migrate_only:
        db.upgrade_locked(engine)
        revision = db.current_revision(engine)
        if args.json:
            emit_json({"revision": revision})
        else:
            stdout_console().print(f"schema at revision {revision}")
        return 0
    made = setup.init(
        engine,
        Path(args.tls_dir) if args.tls_dir else default_tls_dir(),
        admin_token=admin_token,
        join_token=join_token,
    )
    if args.json:
        emit_json(made)
    elif made["initialised"] == "already":
        out = stdout_console()
        out.print("already initialised: the schema is current, and no new tokens were made")
        out.print(f"TLS cert:    {made['tls_cert']}")
        out.print(f"ca_sha256:   {made['ca_sha256']}")
        stderr_console().print("`shipyard frontend token create` makes more tokens.")
    else:
        out = stdout_console()
        out.print(f"admin token: {made['admin_token']}")
        out.print(f"join token:  {made['join_token']}")
        out.print(f"TLS cert:    {made['tls_cert']}")
        out.print(f"ca_sha256:   {made['ca_sha256']}")
        out.print(f"secret key:  {made['secret_key_file']}")
        stderr_console().print("Keep these: only their digests are stored.")
    return 0


def cmd_token(args: argparse.Namespace) -> int:

    from shipyard.frontend import setup

    engine, kind = _engine(args), args.kind
    if args.action in ("create", "rotate"):
        if args.action == "create":
            token_id, plain = setup.create_token(
                engine,
                kind,
                args.description,
                ttl=args.ttl or None,
                uses=args.uses if kind == "join" else None,
                appliance=args.appliance if kind == "join" else None,
            )
        else:
            token_id, plain = setup.rotate_token(engine, args.id, kind)
        if args.json:
            emit_json({"id": token_id, f"{kind}_token": plain})
        else:
            stdout_console().print(plain)
    elif args.action == "revoke":
        setup.revoke_token(engine, args.id, kind)
        if args.json:
            emit_json({"id": args.id, "revoked": True})
    else:
        rows = setup.list_tokens(engine, kind)
        if args.json:
            emit_json([vars(r) for r in rows])
            return 0
        print_table(
            ("id", "description", "appliance", "uses left", "created", "expires", "revoked"),
            (
                (
                    r.id,
                    r.description,
                    r.appliance or "",
                    "" if r.uses_left is None else r.uses_left,
                    f"{r.created:%F %T}",
                    f"{r.expires or ''}",
                    f"{r.revoked or ''}",
                )
                for r in rows
            ),
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.errors import UsageError
    from shipyard.frontend.core.config import (
        FrontendConfig,
        RateLimit,
        default_db_url,
        default_tls_dir,
    )
    from shipyard.frontend.core.sealing import read_key
    from shipyard.frontend.core.tls import tls_files
    from shipyard.frontend.server import read_cert, serve
    from shipyard.frontend.setup import SECRET_KEY_FILE

    listen: ListenAddress = args.listen
    if args.identity_cert and not args.identity_account:
        raise UsageError(
            "--identity-cert needs --identity-account: AWS signs every account's "
            "documents in a region with the same certificate"
        )
    tls = tls_files(args.tls_cert, args.tls_key)
    key_file = Path(args.secret_key_file) if args.secret_key_file else None
    if key_file is not None and not key_file.exists():
        raise UsageError(f"--secret-key-file {key_file} does not exist")
    confirm = None
    if args.confirm_instances:
        from shipyard.aws.session import AwsSettings

        confirm = AwsSettings(endpoint_url=args.ec2_endpoint_url)
    from shipyard.frontend.core.db import require_initialised

    db_url = args.db or default_db_url()
    require_initialised(db_url)
    settings = FrontendConfig(
        db_url=db_url,
        identity_certs=tuple(read_cert(c) for c in args.identity_cert),
        identity_bindings=parse_bindings(args.identity_bind),
        confirm_instances=confirm,
        identity_accounts=tuple(args.identity_account),
        identity_max_age=args.identity_max_age,
        join_rate_per_token=RateLimit(max(1, args.join_rate_per_token), 60.0),
        join_rate_per_address=RateLimit(max(1, args.join_rate_per_address), 60.0),
        secret_key=read_key(key_file or default_tls_dir() / SECRET_KEY_FILE),
        host_token_ttl=args.host_token_ttl,
        install_timeout=args.install_timeout,
    )
    scheme = "https" if tls else "http"
    stderr_console().print(f"frontend listening on {scheme}://{args.listen}")
    stderr_console().print(f"dashboard: {scheme}://{args.listen}/ui/")
    serve(settings, listen.host, listen.port, tls)
    return 0


_BIND_KEYS = {
    "ami": "image_ids",
    "region": "regions",
    "vpc": "vpc_ids",
    "subnet": "subnet_ids",
    "role": "roles",
}


def parse_bindings(specs: list[str]) -> tuple[Any, ...]:
    """--identity-bind APPLIANCE:KEY=VALUE, repeated, as one binding per appliance."""
    from shipyard.errors import UsageError
    from shipyard.frontend.core.config import IdentityBinding

    found: dict[str, dict[str, list[str]]] = {}
    for spec in specs:
        appliance, _, pair = spec.partition(":")
        key, sep, value = pair.partition("=")
        if not appliance or not sep or not value or key not in _BIND_KEYS:
            raise UsageError(
                f"--identity-bind {spec!r} is not APPLIANCE:KEY=VALUE "
                f"with KEY one of {', '.join(_BIND_KEYS)}"
            )
        found.setdefault(appliance, {}).setdefault(_BIND_KEYS[key], []).append(value)
    return tuple(
        IdentityBinding(appliance, **{k: tuple(v) for k, v in fields.items()})
        for appliance, fields in found.items()
    )


def cmd_launch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.aws.session import AwsSettings
    from shipyard.errors import UsageError
    from shipyard.frontend.core.tls import read_fingerprint
    from shipyard.frontend.launch import LaunchRequest, grow_group, launch

    aws = AwsSettings(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    if args.asg:
        extra = [
            f for f in ("ami", "instance_type", "master", "subnet", "key_name") if getattr(args, f)
        ]
        if extra:
            flag = "--" + extra[0].replace("_", "-")
            raise UsageError(f"{flag} is for RunInstances; with --asg the launch template decides")
        hosts = grow_group(_engine(args), args.appliance, args.count, args.asg, aws)
        _print_hosts(hosts, args.json)
        return 0
    missing = [f for f in ("ami", "instance_type", "master") if not getattr(args, f)]
    if missing:
        raise UsageError(
            f"--{missing[0].replace('_', '-')} is required (or grow a group with --asg)"
        )
    req = LaunchRequest(
        appliance=args.appliance,
        count=args.count,
        ami=args.ami,
        instance_type=args.instance_type,
        master=args.master,
        subnet=args.subnet,
        key_name=args.key_name,
        ca_sha256=read_fingerprint(Path(args.tls_cert)) if args.tls_cert else None,
        insecure=args.insecure,
    )
    hosts = launch(_engine(args), req, aws)
    _print_hosts(hosts, args.json)
    return 0


def _print_hosts(hosts: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json([h.model_dump(mode="json") for h in hosts])
    else:
        print_table(
            ("host", "instance", "state"), ((h.name, h.instance_id, h.state) for h in hosts)
        )
