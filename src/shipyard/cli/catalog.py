"""`shipyard catalog ...`: store builds, resolve, serve, pull, retire, and keep flavours current."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from shipyard.cli.argtypes import ListenAddress, listen_address
from shipyard.cli.output import (
    add_json_flag,
    emit_json,
    print_table,
    stderr_console,
    stdout_console,
)
from shipyard.errors import UsageError


def _store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        help="catalog store: a directory or s3://bucket/prefix (default: $SHIPYARD_CATALOG "
        "or the user's data directory)",
    )
    p.add_argument("--endpoint-url", help="S3 endpoint for an s3:// store (e.g. a moto server)")
    p.add_argument(
        "--keyring",
        type=Path,
        help="GnuPG home with the catalog's key, or a public key file to verify with "
        "(default: $SHIPYARD_CATALOG_GNUPGHOME or the user's data directory)",
    )
    add_json_flag(p)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "filters",
        nargs="*",
        metavar="FILTER",
        help="key=value, key!=value or key~regex (flavour, release, arch, region, ftype, channel)",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("catalog", help="the image catalog: store, resolve, serve, pull")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    p = verbs.add_parser("add", help="add a build to the catalog")
    p.add_argument("build", help="build directory or its build.json")
    p.add_argument("--channel", choices=["daily", "stable"])
    _store_flags(p)
    p.set_defaults(func=cmd_add)

    p = verbs.add_parser("resolve", help="the newest image matching the filters")
    _filters(p)
    _store_flags(p)
    p.set_defaults(func=cmd_resolve)

    p = verbs.add_parser("list", help="every image matching the filters")
    _filters(p)
    _store_flags(p)
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("show", help="one version in detail")
    p.add_argument("version", help="YYYYMMDD[.n] or a build id")
    p.add_argument("--product", help="product id, when several products have this version")
    _store_flags(p)
    p.set_defaults(func=cmd_show)

    for verb, helptext in (
        ("deprecate", "mark a version deprecated: resolve skips it"),
        ("promote", "move a version to another channel"),
    ):
        p = verbs.add_parser(verb, help=helptext)
        p.add_argument("version", help="YYYYMMDD[.n] or a build id")
        p.add_argument("--product", help="product id, when several products have this version")
        if verb == "deprecate":
            p.add_argument("--undo", action="store_true", help="make it current again")
        else:
            p.add_argument("--channel", choices=["daily", "stable"], default="stable")
            p.add_argument(
                "--ssm",
                action="store_true",
                help="also point the SSM parameter /shipyard/images/OS/RELEASE/ARCH/FLAVOUR/"
                "CHANNEL at the version's AMI in each of its regions",
            )
            p.add_argument("--aws-endpoint-url", help="SSM endpoint (e.g. a moto server)")
            p.add_argument("--profile", help="AWS profile for --ssm")
        _store_flags(p)
        p.set_defaults(func=cmd_change)

    p = verbs.add_parser("prune", help="remove old versions, their AMIs and snapshots")
    p.add_argument("--keep", type=int, required=True, help="versions to keep per product+channel")
    p.add_argument("--older-than", type=float, metavar="DAYS", help="only remove older versions")
    p.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    p.add_argument("--ec2-endpoint-url", help="EC2 endpoint (e.g. a moto server)")
    _store_flags(p)
    p.set_defaults(func=cmd_prune)

    p = verbs.add_parser("serve", help="serve the index, blobs and a resolve API over HTTP")
    p.add_argument(
        "--listen",
        type=listen_address,
        default="127.0.0.1:8780",
        metavar="IP:PORT",
        help="IP:PORT (default %(default)s)",
    )
    p.add_argument(
        "--admin-token-file",
        type=Path,
        help="file holding the token that allows changes (else $SHIPYARD_CATALOG_ADMIN_TOKEN)",
    )
    _store_flags(p)
    p.set_defaults(func=cmd_serve)

    p = verbs.add_parser("pull", help="resolve against a remote catalog and download the image")
    p.add_argument("url", help="base URL of a catalog server")
    _filters(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="directory for the files")
    p.add_argument(
        "--keyring",
        type=Path,
        help="public key file or GnuPG home trusted to sign the index "
        "(default: $SHIPYARD_CATALOG_GNUPGHOME or the user's data directory)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_pull)

    p = verbs.add_parser("key", help="print the catalog's public key (for clients to trust)")
    p.add_argument("--keyring", type=Path, help="GnuPG home of the catalog")
    p.set_defaults(func=cmd_key)

    p = verbs.add_parser("watch", help="rebuild flavours whose packages the mirror has updated")
    p.add_argument("folder", type=Path, help="folder of manifests, one per flavour")
    p.add_argument("-o", "--output", type=Path, default=Path("builds"), help="build directory")
    p.add_argument("--interval", type=float, default=3600, help="seconds between passes")
    p.add_argument("--once", action="store_true", help="one pass, then exit (cron, CI)")
    p.add_argument("--keep", type=int, default=3, help="versions kept per product and channel")
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="'URL SUITE [COMP...]'",
        help="an extra apt source layered on the mirror (a suite ending in / is a flat repo)",
    )
    p.add_argument("--ec2-endpoint-url", help="EC2 endpoint for pruning AMIs")
    _store_flags(p)
    p.set_defaults(func=cmd_watch)


def _store(args: argparse.Namespace) -> Any:
    from shipyard.catalog.store import open_store

    return open_store(args.store, endpoint_url=args.endpoint_url)


def _home(args: argparse.Namespace) -> Path | None:
    keyring: Path | None = args.keyring
    return keyring if keyring is None or keyring.is_dir() or not keyring.exists() else None


def _view(args: argparse.Namespace) -> Any:
    from shipyard.catalog import resolve, sign

    verifier = sign.verifier(args.keyring)
    try:
        return resolve.view_from_store(_store(args), verifier)
    finally:
        verifier.close()


def cmd_add(args: argparse.Namespace) -> int:
    from shipyard.catalog.add import add_build
    from shipyard.cli.progress_view import shown_progress

    with shown_progress(quiet=args.json) as progress:
        result = add_build(_store(args), Path(args.build), args.channel, _home(args), progress)
    if args.json:
        emit_json(result.model_dump(mode="json"))
    else:
        state = "added" if result.changed else "already in the catalog, unchanged"
        stdout_console().print(f"{result.product_id} {result.version} ({result.channel}): {state}")
    return 0


def _print_image(image: dict[str, Any]) -> None:
    out = stdout_console()
    out.print(
        f"{image['product_id']} {image['version']}  channel={image.get('channel')}"
        + ("  DEPRECATED" if image.get("deprecated") else "")
    )
    for name, item in image.get("downloads", {}).items():
        out.print(f"  {name}  {item['ftype']}  {item['size']} bytes  sha256:{item['sha256']}")
    for region, ami in image.get("amis", {}).items():
        out.print(f"  {region}  {ami['id']}  {ami.get('boot_mode') or ''}")


def cmd_resolve(args: argparse.Namespace) -> int:
    from shipyard.catalog import resolve
    from shipyard.errors import CatalogNotFound

    filters = resolve.parse_filters(args.filters)
    image = resolve.resolve(_view(args), filters)
    if image is None:
        raise CatalogNotFound(f"no image in the catalog matches {resolve.describe(filters)}")
    if args.json:
        emit_json(image.to_json())
    else:
        _print_image(image.to_json())
    return 0


def cmd_list(args: argparse.Namespace) -> int:

    from shipyard.catalog import resolve

    images = resolve.matching(_view(args), resolve.parse_filters(args.filters))
    if args.json:
        emit_json([i.to_json() for i in images])
        return 0
    print_table(
        ("product", "version", "channel", "deprecated", "formats", "regions"),
        (
            (
                i.product_id,
                i.version,
                i.fields.get("channel"),
                "yes" if i.deprecated else "",
                " ".join(sorted(d["ftype"] for d in i.downloads.values())),
                " ".join(sorted(i.amis)),
            )
            for i in images
        ),
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from shipyard.catalog.add import choose

    rec = choose(_store(args), args.version, args.product)
    doc = rec.model_dump(mode="json")
    if args.json:
        emit_json(doc)
    else:
        _print_image({**doc, "downloads": doc["downloads"], "amis": doc["amis"]})
        stdout_console().print(
            f"  build {rec.build_id}, {len(rec.packages)} packages, {rec.created}"
        )
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    from shipyard.catalog.add import update

    if args.verb == "deprecate":
        changes: dict[str, Any] = {"deprecated": not args.undo}
    else:
        changes = {"channel": args.channel}
    rec = update(_store(args), args.version, args.product, _home(args), **changes)
    ssm: dict[str, str] = {}
    if getattr(args, "ssm", False):
        ssm = _write_ssm(args, rec)
    if args.json:
        emit_json(
            {"product_id": rec.product_id, "version": rec.version, **changes}
            | ({"ssm": ssm} if ssm else {})
        )
    else:
        what = ", ".join(f"{k}={v}" for k, v in changes.items())
        stdout_console().print(f"{rec.product_id} {rec.version}: {what}")
    return 0


def _write_ssm(args: argparse.Namespace, rec: Any) -> dict[str, str]:
    from shipyard.aws.session import AwsSettings, client, make_session
    from shipyard.catalog.ssm import write_parameters

    def client_for(region: str) -> Any:
        settings = AwsSettings(
            region=region, profile=args.profile, endpoint_url=args.aws_endpoint_url
        )
        return client(make_session(settings), "ssm", settings)

    written = write_parameters(rec, client_for)
    if not args.json:
        for region, name in written.items():
            stderr_console().print(f"{region}: {name} → {rec.amis[region].id}", markup=False)
    return written


def cmd_prune(args: argparse.Namespace) -> int:
    from shipyard.catalog.ec2 import client_factory
    from shipyard.catalog.lifecycle import prune

    result = prune(
        _store(args),
        args.keep,
        args.older_than,
        client_factory(args.ec2_endpoint_url),
        _home(args),
        args.dry_run,
    )
    if args.json:
        emit_json(result.model_dump(mode="json"))
        return 0
    out = stdout_console()
    verb = "would remove" if args.dry_run else "removed"
    for removed in result.removed:
        amis = ", ".join(f"{a.region} {a.ami_id}" for a in removed.amis)
        out.print(f"{verb} {removed.product_id} {removed.version}" + (f" ({amis})" if amis else ""))
    for kept in result.kept:
        out.print(f"kept {kept.product_id} {kept.version}: {'; '.join(kept.reasons)}")
    if not result.removed and not result.kept:
        out.print("nothing to prune")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shipyard.catalog.api.app import create_app
    from shipyard.catalog.api.deps import ServedCatalog
    from shipyard.serving import uvicorn_limits

    listen: ListenAddress = args.listen
    token = os.environ.get("SHIPYARD_CATALOG_ADMIN_TOKEN")
    if args.admin_token_file:
        try:
            token = args.admin_token_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"{args.admin_token_file}: cannot read the admin token") from exc
    served = ServedCatalog(_store(args), args.keyring, token or None)
    stderr_console().print(f"serving {served.store.url} on http://{listen}/")
    uvicorn.run(
        create_app(served),
        host=listen.host,
        port=listen.port,
        log_level="warning",
        **uvicorn_limits(),
    )
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from shipyard.catalog import client, resolve, sign
    from shipyard.cli.progress_view import shown_progress

    verifier = sign.verifier(args.keyring)
    remote = client.RemoteCatalog(args.url, verifier)
    try:
        with shown_progress(quiet=args.json) as progress:
            filters = resolve.parse_filters(args.filters)
            result = client.pull(remote, filters, args.output, progress)
    finally:
        remote.close()
        verifier.close()
    if args.json:
        emit_json(result.model_dump(mode="json"))
    else:
        for f in result.files:
            how = f" (resumed at byte {f.resumed_from})" if f.resumed_from else ""
            stdout_console().print(f"{f.path}  sha256:{f.sha256}{how}")
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    import sys

    from shipyard.catalog import sign

    # Only the default home is made on first use: a named one that is missing is a typo,
    # and making it would hand out a new key that no client trusts.
    if args.keyring is not None and not args.keyring.is_dir():
        raise UsageError(
            f"--keyring {args.keyring}: no such GnuPG home",
            hint="leave --keyring out to use (and on first use create) the default one",
        )
    home = args.keyring or sign.default_home()
    sign.ensure_key(home)
    sys.stdout.write(sign.export_public(home))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from shipyard.catalog import mirror
    from shipyard.catalog.ec2 import client_factory
    from shipyard.cli.build import require_root
    from shipyard.watch import build_with_pipeline, watch_once

    def build_as_root(manifest: Path, out: Path) -> Path:
        require_root()
        return build_with_pipeline(manifest, out)

    extra = [mirror.Source.parse(s) for s in args.source]
    store = _store(args)
    while True:
        result = watch_once(
            store,
            args.folder,
            args.output,
            extra=extra,
            keep=args.keep,
            home=_home(args),
            builder=build_as_root,
            ec2=client_factory(args.ec2_endpoint_url),
        )
        if args.json:
            emit_json(result.model_dump(mode="json"))
        else:
            for f in result.flavours:
                state = f"error: {f.error}" if f.error is not None else f.reason
                stdout_console().print(f"{Path(f.manifest).name}: {state}")
        if args.once:
            return 1 if result.failed else 0
        time.sleep(args.interval)
