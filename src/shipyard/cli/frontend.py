"""`shipyard frontend`: init the database, manage join tokens, serve the API, launch hosts."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, stderr_console, stdout_console
from shipyard.frontend.core.config import DEFAULT_LISTEN


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "frontend", help="run the host frontend (registration, profiles, install state)"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    init = verbs.add_parser(
        "init", help="create the database, an admin and a join token, and a TLS certificate"
    )
    _db_flag(init)
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
    serve.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT")
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

    launch = verbs.add_parser("launch", help="run EC2 instances that join this frontend")
    launch.add_argument("--appliance", required=True)
    launch.add_argument("--count", type=int, default=1)
    launch.add_argument("--ami", required=True)
    launch.add_argument("--instance-type", required=True)
    launch.add_argument("--subnet")
    launch.add_argument("--key-name")
    launch.add_argument(
        "--master",
        required=True,
        metavar="https://IP[:PORT]",
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


def _engine(args: argparse.Namespace) -> Any:
    from shipyard.frontend.core import db
    from shipyard.frontend.core.config import default_db_url

    return db.make_engine(args.db or default_db_url())


def cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.frontend import setup
    from shipyard.frontend.core.config import default_tls_dir

    made = setup.init(_engine(args), Path(args.tls_dir) if args.tls_dir else default_tls_dir())
    if args.json:
        emit_json(made)
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
    from rich.table import Table

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
        table = Table(
            "ID", "DESCRIPTION", "APPLIANCE", "USES LEFT", "CREATED", "EXPIRES", "REVOKED",
            box=None,
        )  # fmt: skip
        for r in rows:
            table.add_row(
                str(r.id),
                r.description,
                r.appliance or "",
                "" if r.uses_left is None else str(r.uses_left),
                f"{r.created:%F %T}",
                f"{r.expires or ''}",
                f"{r.revoked or ''}",
            )
        stdout_console().print(table)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.errors import UsageError
    from shipyard.frontend.core.config import (
        RateLimit,
        Settings,
        default_db_url,
        default_tls_dir,
    )
    from shipyard.frontend.core.sealing import read_key
    from shipyard.frontend.core.tls import tls_files
    from shipyard.frontend.server import parse_listen, read_cert, serve
    from shipyard.frontend.setup import SECRET_KEY_FILE

    host, port = parse_listen(args.listen)
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
    settings = Settings(
        db_url=args.db or default_db_url(),
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
    serve(settings, host, port, tls)
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
    from shipyard.frontend.core.tls import read_fingerprint
    from shipyard.frontend.launch import LaunchRequest, launch

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
    aws = AwsSettings(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    hosts = launch(_engine(args), req, aws)
    if args.json:
        emit_json([h.model_dump(mode="json") for h in hosts])
    else:
        for h in hosts:
            stdout_console().print(f"{h.name}\t{h.instance_id}\t{h.state}")
    return 0
