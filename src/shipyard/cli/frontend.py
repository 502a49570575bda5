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

    init = verbs.add_parser("init", help="create the database, an admin token and a join token")
    _db_flag(init)
    add_json_flag(init)
    init.set_defaults(func=cmd_init)

    token = verbs.add_parser("token", help="create, list or revoke join tokens")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="mint a join token")
    create.add_argument("--description", default="", help="what the token is for")
    listing = actions.add_parser("list", help="list join tokens (never their values)")
    revoke = actions.add_parser("revoke", help="revoke a join token by id")
    revoke.add_argument("id", type=int, help="the token's id from `token list`")
    for sub in (create, listing, revoke):
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
        metavar="IP[:PORT]",
        help="the frontend's address as hosts see it",
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
    from shipyard.frontend import setup

    made = setup.init(_engine(args))
    if args.json:
        emit_json(made)
    else:
        out = stdout_console()
        out.print(f"admin token: {made['admin_token']}")
        out.print(f"join token:  {made['join_token']}")
        stderr_console().print("Keep these: only their digests are stored.")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from rich.table import Table

    from shipyard.frontend import setup

    engine = _engine(args)
    if args.action == "create":
        token_id, plain = setup.create_token(engine, "join", args.description)
        if args.json:
            emit_json({"id": token_id, "join_token": plain})
        else:
            stdout_console().print(plain)
    elif args.action == "revoke":
        setup.revoke_token(engine, args.id, "join")
        if args.json:
            emit_json({"id": args.id, "revoked": True})
    else:
        rows = setup.list_tokens(engine, "join")
        if args.json:
            emit_json([vars(r) for r in rows])
            return 0
        table = Table("ID", "DESCRIPTION", "CREATED", "REVOKED", box=None)
        for r in rows:
            table.add_row(str(r.id), r.description, f"{r.created:%F %T}", f"{r.revoked or ''}")
        stdout_console().print(table)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from shipyard.frontend.core.config import Settings, default_db_url
    from shipyard.frontend.server import parse_listen, read_cert, serve

    host, port = parse_listen(args.listen)
    settings = Settings(
        db_url=args.db or default_db_url(),
        identity_certs=tuple(read_cert(c) for c in args.identity_cert),
        identity_accounts=tuple(args.identity_account),
        host_token_ttl=args.host_token_ttl,
        install_timeout=args.install_timeout,
    )
    stderr_console().print(f"frontend listening on http://{args.listen}")
    serve(settings, host, port)
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    from shipyard.aws.session import AwsSettings
    from shipyard.frontend.launch import LaunchRequest, launch

    req = LaunchRequest(
        appliance=args.appliance,
        count=args.count,
        ami=args.ami,
        instance_type=args.instance_type,
        master=args.master,
        subnet=args.subnet,
        key_name=args.key_name,
    )
    aws = AwsSettings(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    hosts = launch(_engine(args), req, aws)
    if args.json:
        emit_json([h.model_dump(mode="json") for h in hosts])
    else:
        for h in hosts:
            stdout_console().print(f"{h.name}\t{h.instance_id}\t{h.state}")
    return 0
