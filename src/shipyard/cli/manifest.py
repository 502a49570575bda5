"""``shipyard manifest validate|schema``: check a manifest without building; print its schema."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from shipyard.cli.output import add_json_flag, emit_json

if TYPE_CHECKING:
    from shipyard.manifest.loader import LoadedManifest


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable), for every command that loads a manifest."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a manifest key after extends, e.g. volume.size=3GiB or formats=[raw,qcow2]",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("manifest", help="check a manifest or print its JSON Schema")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    validate = verbs.add_parser("validate", help="load and check a manifest without building")
    validate.add_argument("manifest", metavar="MANIFEST", help="the manifest file (YAML)")
    add_set_option(validate)
    add_json_flag(validate)
    validate.set_defaults(func=run_validate)

    schema = verbs.add_parser("schema", help="print the manifest's JSON Schema on stdout")
    schema.set_defaults(func=run_schema)


def run_validate(args: argparse.Namespace) -> int:
    from shipyard.manifest.loader import load_manifest

    loaded = load_manifest(args.manifest, args.overrides)
    if args.json:
        emit_json(loaded.resolved)
    else:
        print(f"{args.manifest}: valid ({summary(loaded)})")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    from shipyard.manifest.loader import manifest_json_schema

    emit_json(manifest_json_schema())
    return 0


def summary(loaded: LoadedManifest) -> str:
    """One line about a loaded manifest: name, release, arch, steps, formats, boot, parents."""
    manifest = loaded.manifest
    parts = [
        manifest.name,
        f"{manifest.system.release} {manifest.system.architecture}",
        f"flavour {manifest.flavour}",
        _count(len(manifest.provision), "provision step"),
        _count(len(manifest.bootstrap), "bootstrap step"),
        f"formats {', '.join(manifest.formats)}",
        f"boot {'+'.join(manifest.volume.boot)}",
        f"agent {manifest.agent}",
    ]
    if len(loaded.files) > 1:
        parts.append(f"extends {' → '.join(path.name for path in loaded.files[1:])}")
    return "; ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
