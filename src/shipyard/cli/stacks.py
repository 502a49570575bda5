"""`shipyard stacks VERB`: CloudFormation around the images (recipes, stack files, deploys)."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from shipyard.cli.output import (
    add_json_flag,
    emit_json,
    print_table,
    stderr_console,
    stdout_console,
)
from shipyard.cli.stacks_show import Progress, change_table, outputs_table, print_event
from shipyard.errors import UsageError

if TYPE_CHECKING:
    from shipyard.stacks.deploy import Stacks
    from shipyard.stacks.model import StackDefinition

VERBS = ("list", "render", "lint", "diff", "deploy", "events", "outputs", "delete")


class _StacksParser(argparse.ArgumentParser):
    """An unknown verb says so in one sentence, and points at `shipyard stack` (Stacki's)."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and self.prog.endswith("stacks"):
            given = message.split("'")[1] if "'" in message else ""
            close = difflib.get_close_matches(given, VERBS, n=1)
            print(f"shipyard stacks: error: no verb {given!r}", file=sys.stderr)
            if close:
                print(
                    f"shipyard: hint: did you mean `shipyard stacks {close[0]}`?", file=sys.stderr
                )
            print(
                "shipyard: hint: host commands in Stacki's grammar are "
                f"`shipyard stack {given} ...` (e.g. `shipyard stack list host`)",
                file=sys.stderr,
            )
            sys.exit(2)
        super().error(message)


def _common(p: argparse.ArgumentParser, *, aws: bool = True) -> None:
    p.add_argument(
        "--dir", type=Path, default=Path("stacks"), help="folder of stack files (default: stacks/)"
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fill {KEY} in stack files (e.g. --var env=dev)",
    )
    if aws:
        p.add_argument("--region", help="AWS region (default: the stack file's, else AWS config)")
        p.add_argument("--profile", help="AWS profile")
        p.add_argument("--endpoint-url", help="AWS endpoint, e.g. a local `shipyard aws local`")
    add_json_flag(p)


def _catalog(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="catalog store for `image:` (default: $SHIPYARD_CATALOG)")
    p.add_argument("--keyring", type=Path, help="GnuPG home or key file to verify the catalog")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stacks",
        help="CloudFormation stacks around the images: render, lint, diff, deploy",
        description="Templates from built-in recipes (troposphere) or your own, checked with "
        "cfn-lint, deployed through change sets, wired to the catalog's images.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_StacksParser)
    verbs.required = True
    parser.__class__ = _StacksParser

    p = verbs.add_parser("list", help="recipes, stack files and deployed stacks with status")
    _common(p)
    p.add_argument("--offline", action="store_true", help="do not ask AWS for deployed stacks")
    p.set_defaults(func=cmd_list)

    p = verbs.add_parser("render", help="print a stack's or a recipe's template")
    p.add_argument("name", metavar="NAME", help="a stack (from the stack files) or a recipe")
    p.add_argument("-o", "--output", type=Path, help="write the template to this file")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    _common(p, aws=False)
    p.set_defaults(func=cmd_render)

    p = verbs.add_parser("lint", help="cfn-lint a stack, a recipe or a template file")
    p.add_argument("name", metavar="NAME|TEMPLATE")
    p.add_argument("--region", help="region to check resource types against")
    _common(p, aws=False)
    p.set_defaults(func=cmd_lint)

    p = verbs.add_parser(
        "diff", help="deployed template and parameters vs rendered, and the change set"
    )
    p.add_argument("name", metavar="NAME")
    _common(p)
    _catalog(p)
    p.set_defaults(func=cmd_diff)

    p = verbs.add_parser("deploy", help="render, lint, change set, execute, outputs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="execute without asking")
    p.add_argument("--no-execute", action="store_true", help="show the change set, then drop it")
    p.add_argument(
        "--keep-failed", action="store_true", help="no rollback: leave a failed stack for a look"
    )
    _common(p)
    _catalog(p)
    p.set_defaults(func=cmd_deploy)

    p = verbs.add_parser("events", help="a stack's events, oldest first")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--follow", action="store_true", help="keep printing until the stack settles")
    _common(p)
    p.set_defaults(func=cmd_events)

    p = verbs.add_parser("outputs", help="a deployed stack's outputs")
    p.add_argument("name", metavar="NAME")
    _common(p)
    p.set_defaults(func=cmd_outputs)

    p = verbs.add_parser("delete", help="delete a deployed stack")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    _common(p)
    p.set_defaults(func=cmd_delete)


# Helpers


def _variables(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in args.var:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"--var {item!r} is not KEY=VALUE")
        values[key] = value
    return values


def _definition(args: argparse.Namespace) -> StackDefinition:
    from shipyard.stacks.files import find_stack

    return find_stack(args.name, args.dir, _variables(args))


def _region(args: argparse.Namespace, definition: StackDefinition | None = None) -> str | None:
    return (definition.spec.region if definition else None) or args.region


def _stacks(args: argparse.Namespace, region: str | None) -> Stacks:
    from shipyard.aws.session import AwsSettings, client, make_session
    from shipyard.stacks.deploy import Stacks

    settings = AwsSettings(region=region, profile=args.profile, endpoint_url=args.endpoint_url)
    session = make_session(settings)
    return Stacks(client(session, "cloudformation", settings))


def _view_loader(args: argparse.Namespace) -> Any:
    from shipyard.stacks.images import catalog_view

    return lambda: catalog_view(args.store, args.keyring)


def _uploader(args: argparse.Namespace, region: str) -> Any:
    from shipyard.aws.session import AwsSettings, client, make_session
    from shipyard.stacks.artifacts import upload_artifacts

    def upload(definition: StackDefinition, stacks: Stacks) -> dict[str, str]:
        settings = AwsSettings(region=region, profile=args.profile, endpoint_url=args.endpoint_url)
        s3 = client(make_session(settings), "s3", settings)
        return upload_artifacts(definition, s3, stacks.outputs)

    return upload


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs an answer; pass --yes when not at a terminal")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


# Verbs


def cmd_list(args: argparse.Namespace) -> int:
    from shipyard.errors import ShipyardError
    from shipyard.stacks import recipes
    from shipyard.stacks.files import load_folder
    from shipyard.stacks.plan import deploy_order

    files = load_folder(args.dir, _variables(args))
    deployed: dict[str, str] = {}
    problem = ""
    if not args.offline:
        try:
            deployed = {s.name: s.status for s in _stacks(args, args.region).deployed()}
        except ShipyardError as exc:
            problem = str(exc)
    rows_recipes = [{"name": n, "summary": recipes.get(n).summary} for n in recipes.names()]
    rows_stacks = [
        {
            "name": name,
            "source": d.spec.recipe or d.spec.template,
            "file": str(d.path),
            "status": deployed.get(name, "not deployed" if not problem else "unknown"),
        }
        for name in deploy_order(files)
        for d in [files[name]]
    ]
    others = [{"name": n, "status": s} for n, s in sorted(deployed.items()) if n not in files]
    if args.json:
        emit_json({"recipes": rows_recipes, "stacks": rows_stacks, "other_stacks": others})
        return 0
    print_table(
        ("recipe", "what it makes"),
        [(r["name"], r["summary"]) for r in rows_recipes],
        title="recipes",
    )
    print()
    print_table(
        ("stack", "recipe or template", "file", "status"),
        [(s["name"], s["source"] or "", s["file"], s["status"]) for s in rows_stacks]
        + [(o["name"], "", "(no stack file)", o["status"]) for o in others],
        title=f"stacks in {args.dir}",
    )
    if problem:
        stderr_console().print(f"deployed stacks unknown: {problem}", markup=False)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from shipyard.stacks.render import render

    rendered = render(_definition(args), args.format)
    if args.output:
        args.output.write_text(rendered.body)
        stderr_console().print(f"wrote {args.output}", markup=False)
    elif args.json:
        import json

        emit_json(json.loads(render(_definition(args), "json").body))
    else:
        sys.stdout.write(rendered.body if rendered.body.endswith("\n") else rendered.body + "\n")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from shipyard.stacks.lint import lint
    from shipyard.stacks.render import read_template, render

    given = Path(args.name)
    if given.suffix in (".yml", ".yaml", ".json", ".template") and given.is_file():
        template = read_template(given)
        region = args.region
    else:
        definition = _definition(args)
        template = render(definition)
        region = _region(args, definition)
    findings = lint(template, region)
    if args.json:
        emit_json([f.__dict__ for f in findings])
    else:
        for finding in findings:
            print(finding)
        if not findings:
            stderr_console().print(f"{template.display}: no findings", markup=False)
    return 1 if any(f.is_error for f in findings) else 0


def cmd_diff(args: argparse.Namespace) -> int:
    from shipyard.stacks.prepare import prepare

    definition = _definition(args)
    region = _region(args, definition)
    stacks = _stacks(args, region)
    prepared = prepare(
        definition, stacks, region or stacks.client.meta.region_name, _view_loader(args)
    )
    plan = prepared.plan
    deployed = stacks.describe(plan.name)
    out = stdout_console()
    report: dict[str, Any] = {"stack": plan.name, "deployed": deployed is not None}
    if deployed is not None:
        old = stacks.template(plan.name)
        lines = list(
            difflib.unified_diff(
                old.splitlines(), plan.body.splitlines(), "deployed", "rendered", lineterm=""
            )
        )
        params = {
            k: (deployed.parameters.get(k), v)
            for k, v in plan.parameters.items()
            if deployed.parameters.get(k) != v
        }
        tags = {
            k: (deployed.tags.get(k), v) for k, v in plan.tags.items() if deployed.tags.get(k) != v
        }
        report.update(template_diff=lines, parameters=params, tags=tags)
        if not args.json:
            out.print("\n".join(lines) or "template: unchanged", markup=False, highlight=False)
            for key, (before, after) in params.items():
                out.print(f"parameter {key}: {before} → {after}", markup=False)
            for key, (before, after) in tags.items():
                out.print(f"tag {key}: {before} → {after}", markup=False)
    change_set = stacks.create_change_set(plan)
    if not change_set.empty:
        stacks.discard(change_set)
    report["changes"] = [c.__dict__ for c in change_set.changes]
    if args.json:
        emit_json(report)
    elif change_set.empty:
        out.print("change set: no changes")
    else:
        change_table(change_set)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from shipyard.stacks.prepare import prepare
    from shipyard.stacks.resources import skipped_resources

    definition = _definition(args)
    region = _region(args, definition)
    stacks = _stacks(args, region)
    region = region or stacks.client.meta.region_name
    err = stderr_console()
    prepared = prepare(definition, stacks, region, _view_loader(args), _uploader(args, region))
    plan = prepared.plan
    for finding in prepared.findings:
        err.print(f"lint: {finding}", markup=False)
    if plan.image:
        err.print(
            f"image: {plan.image.ami_id} ({plan.image.product_id} {plan.image.version})",
            markup=False,
        )
    deployed = stacks.describe(plan.name)
    if deployed is not None:
        for key, value in plan.parameters.items():
            if deployed.parameters.get(key) != value:
                err.print(
                    f"parameter {key}: {deployed.parameters.get(key)} → {value}", markup=False
                )
    change_set = stacks.create_change_set(plan)
    if change_set.empty:
        err.print(f"stack {plan.name}: no changes", markup=False)
        if args.json:
            emit_json({"stack": plan.name, "changed": False, "outputs": stacks.outputs(plan.name)})
        return 0
    # With --json, stdout holds only the result document.
    change_table(change_set, to_stderr=args.json)
    try:
        go = not args.no_execute and _confirm(f"execute this change set on {plan.name}?", args.yes)
    except BaseException:  # no answer possible, or Ctrl-C at the question: drop it too
        stacks.discard(change_set)
        raise
    if not go:
        stacks.discard(change_set)
        err.print("change set dropped; nothing changed", markup=False)
        return 0
    from shipyard.cleanup import cleanup_scope

    def delete_half_made() -> None:
        if stacks.exists(plan.name):
            err.print(f"deleting the half-made stack {plan.name} (--keep-failed keeps it)")
            stacks.delete(plan.name, print_event)

    # An undo of the shared cleanup: it runs on a failure and on Ctrl-C alike, to the end
    # whatever signals follow, as every other half-made resource's does.
    with cleanup_scope() as cleanup:
        if not args.keep_failed and change_set.kind == "CREATE":
            cleanup.register(f"half-made stack {plan.name}", delete_half_made)
        progress = Progress(plan.name, len(change_set.changes))
        status = stacks.execute(change_set, progress, args.keep_failed)
    skipped = skipped_resources(plan.body, stacks.resources(plan.name))
    for logical_id, kind in skipped:
        err.print(
            f"warning: {logical_id} ({kind}) does not exist although the stack is {status}: "
            "the endpoint skipped it",
            markup=False,
            style="yellow",
        )
    outputs = stacks.outputs(plan.name) or {}
    if args.json:
        emit_json(
            {
                "stack": plan.name,
                "changed": True,
                "status": status,
                "outputs": outputs,
                "skipped": [{"logical_id": i, "type": t} for i, t in skipped],
            }
        )
    else:
        err.print(f"stack {plan.name}: {status}", markup=False)
        outputs_table(plan.name, outputs)
    return 0


def _deployed_or_fail(stacks: Stacks, name: str) -> None:
    from shipyard.errors import StackError

    if stacks.describe(name) is None:
        raise StackError(f"stack {name} is not deployed")


def cmd_events(args: argparse.Namespace) -> int:
    definition = _maybe_definition(args)
    stacks = _stacks(args, _region(args, definition))
    _deployed_or_fail(stacks, args.name)
    seen: set[str] = set()
    events = stacks.events(args.name)
    if args.json and not args.follow:
        emit_json([e.__dict__ for e in events])
        return 0
    for event in events:
        seen.add(event.id)
        print_event(event)
    if args.follow:
        stacks.follow(args.name, seen, print_event)
    return 0


def _maybe_definition(args: argparse.Namespace) -> StackDefinition | None:
    from shipyard.stacks.files import load_folder

    return load_folder(args.dir, _variables(args)).get(args.name)


def cmd_outputs(args: argparse.Namespace) -> int:
    from shipyard.errors import StackError

    stacks = _stacks(args, _region(args, _maybe_definition(args)))
    outputs = stacks.outputs(args.name)
    if outputs is None:
        raise StackError(f"stack {args.name} is not deployed")
    if args.json:
        emit_json(outputs)
    else:
        outputs_table(args.name, outputs)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    stacks = _stacks(args, _region(args, _maybe_definition(args)))
    _deployed_or_fail(stacks, args.name)
    if not _confirm(f"delete stack {args.name} and everything in it?", args.yes):
        return 0
    stacks.delete(args.name, print_event)
    stderr_console().print(f"stack {args.name}: deleted", markup=False)
    if args.json:
        emit_json({"stack": args.name, "deleted": True})
    return 0
