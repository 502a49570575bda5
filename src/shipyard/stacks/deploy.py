"""Change-set deploys: preview, execute, stream events, check what really exists.

Every AWS call goes through one :class:`Stacks` object over a CloudFormation client
made by Shipyard's session factory, so tests run it against a moto server over HTTP.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from shipyard.aws.session import call, error_code, translated
from shipyard.errors import AWSError, StackError
from shipyard.stacks.plan import StackPlan
from shipyard.stacks.records import Change, ChangeSet, DeployedStack, Event, Resource
from shipyard.stacks.resources import dependencies, error_reason, template_resources

log = logging.getLogger("shipyard.stacks")

NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
DONE_STATES = ("COMPLETE", "FAILED")
FAILED_STATES = (
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
)


EventSink = Callable[[Event], None]


def parameter_text(value: str) -> str:
    """A list parameter as CloudFormation spells it (``a,b``); the moto server answers
    with Python's spelling of a list (``['a', 'b']``)."""
    if value.startswith("['") and value.endswith("']"):
        import ast

        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        if isinstance(items, list):
            return ",".join(str(i) for i in items)
    return value


class Stacks:
    """CloudFormation, as `shipyard stacks` uses it."""

    def __init__(self, client: Any, *, poll: float = 2.0, timeout: float = 3600.0) -> None:
        self.client = client
        self.poll = poll
        self.timeout = timeout

    # Reading

    def describe(self, name: str) -> DeployedStack | None:
        """The stack called ``name``, or None when there is none (or it was deleted)."""
        try:
            with translated(f"DescribeStacks {name}"):
                found = self.client.describe_stacks(StackName=name)["Stacks"]
        except AWSError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        if not found or found[0]["StackStatus"] in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
            return None
        stack = found[0]
        return DeployedStack(
            name=name,
            status=stack["StackStatus"],
            outputs={o["OutputKey"]: str(o["OutputValue"]) for o in stack.get("Outputs", [])},
            tags={t["Key"]: t["Value"] for t in stack.get("Tags", [])},
            parameters={
                p["ParameterKey"]: parameter_text(str(p.get("ParameterValue", "")))
                for p in stack.get("Parameters", [])
            },
        )

    def outputs(self, name: str) -> dict[str, str] | None:
        """The stack's outputs; computed from its resources when the endpoint has none."""
        stack = self.describe(name)
        if stack is None:
            return None
        if stack.outputs:
            return stack.outputs
        return self.computed_outputs(stack)

    def computed_outputs(self, stack: DeployedStack) -> dict[str, str]:
        from cfnlint.decode import cfn_yaml

        from shipyard.stacks.outputs import compute_outputs

        template = cfn_yaml.loads(self.template(stack.name))
        if not isinstance(template, dict) or not template.get("Outputs"):
            return {}
        physical = {r.logical_id: r.physical_id for r in self.resources(stack.name)}
        pseudo = {
            "AWS::StackName": stack.name,
            "AWS::Region": str(self.client.meta.region_name),
            "AWS::Partition": "aws",
        }
        computed, missing = compute_outputs(template, physical, stack.parameters, pseudo)
        if missing:
            log.warning(
                "%s: the endpoint reports no outputs; %s need resource attributes it does "
                "not tell, the others are computed from the stack's resources",
                stack.name,
                ", ".join(missing),
            )
        return computed

    def deployed(self) -> list[DeployedStack]:
        found: list[DeployedStack] = []
        with translated("ListStacks"):
            pages = self.client.get_paginator("describe_stacks").paginate()
            for page in pages:
                for stack in page["Stacks"]:
                    if stack["StackStatus"] in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
                        continue
                    found.append(
                        DeployedStack(
                            stack["StackName"],
                            stack["StackStatus"],
                            {
                                o["OutputKey"]: str(o["OutputValue"])
                                for o in stack.get("Outputs", [])
                            },
                            {t["Key"]: t["Value"] for t in stack.get("Tags", [])},
                            {},
                        )
                    )
        return found

    def template(self, name: str) -> str:
        body = call(self.client, "get_template", f"GetTemplate {name}", StackName=name)[
            "TemplateBody"
        ]
        return body if isinstance(body, str) else json.dumps(body, indent=2)

    def resources(self, name: str) -> list[Resource]:
        found: list[Resource] = []
        with translated(f"ListStackResources {name}"):
            for page in self.client.get_paginator("list_stack_resources").paginate(StackName=name):
                for item in page["StackResourceSummaries"]:
                    found.append(
                        Resource(
                            item["LogicalResourceId"],
                            item["ResourceType"],
                            item.get("PhysicalResourceId", ""),
                            item.get("ResourceStatus", ""),
                        )
                    )
        return found

    def events(self, name: str) -> list[Event]:
        """The stack's events, oldest first."""
        found: list[Event] = []
        with translated(f"DescribeStackEvents {name}"):
            for page in self.client.get_paginator("describe_stack_events").paginate(StackName=name):
                for item in page["StackEvents"]:
                    found.append(
                        Event(
                            item["EventId"],
                            str(item["Timestamp"]),
                            item.get("LogicalResourceId", ""),
                            item.get("ResourceType", ""),
                            item.get("ResourceStatus", ""),
                            item.get("ResourceStatusReason", "") or "",
                        )
                    )
        return list(reversed(found))

    # Changing

    def create_change_set(self, plan: StackPlan) -> ChangeSet:
        """A change set for ``plan``, waited for; ``empty`` when nothing would change."""
        existing = self.describe(plan.name)
        kind = "CREATE" if existing is None else "UPDATE"
        if existing is not None and existing.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
            raise StackError(
                f"stack {plan.name} is {existing.status} from a failed create and cannot be "
                "updated",
                hint=f"delete it with `shipyard stacks delete {plan.name}`, then deploy again",
            )
        name = f"shipyard-{int(time.time() * 1000)}"
        try:
            answer = call(
                self.client,
                "create_change_set",
                f"CreateChangeSet {plan.name}",
                StackName=plan.name,
                ChangeSetName=name,
                ChangeSetType=kind,
                TemplateBody=plan.body,
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters.items()
                ],
                Tags=[{"Key": k, "Value": v} for k, v in plan.tags.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except AWSError as exc:
            # Some endpoints refuse an unchanged stack at once instead of failing the set.
            if any(text in str(exc) for text in NO_CHANGES):
                return ChangeSet(plan.name, "", kind, (), empty=True, body=plan.body)
            raise
        change_set_id = answer["Id"]
        described = self._wait_change_set(change_set_id, plan.name)
        reason = str(described.get("StatusReason") or "")
        if described["Status"] == "FAILED":
            if any(text in reason for text in NO_CHANGES):
                self._discard(change_set_id, plan.name)
                return ChangeSet(plan.name, change_set_id, kind, (), empty=True, body=plan.body)
            raise StackError(f"the change set for stack {plan.name} failed: {reason}")
        changes = tuple(
            Change(
                rc.get("Action", ""),
                rc.get("LogicalResourceId", ""),
                rc.get("ResourceType", ""),
                str(rc.get("Replacement") or ""),
            )
            for item in described.get("Changes", [])
            for rc in [item.get("ResourceChange", {})]
        )
        return ChangeSet(plan.name, change_set_id, kind, changes, body=plan.body)

    def _wait_change_set(self, change_set_id: str, stack: str) -> dict[str, Any]:
        for _ in self._ticks(f"the change set for stack {stack}"):
            described: dict[str, Any] = call(
                self.client,
                "describe_change_set",
                f"DescribeChangeSet {stack}",
                ChangeSetName=change_set_id,
                StackName=stack,
            )
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
        raise AssertionError("unreachable")

    def _discard(self, change_set_id: str, stack: str) -> None:
        call(
            self.client,
            "delete_change_set",
            f"DeleteChangeSet {stack}",
            ChangeSetName=change_set_id,
            StackName=stack,
        )
        if self.describe(stack) is None:
            # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind.
            self._delete_quietly(stack)

    def discard(self, change_set: ChangeSet) -> None:
        """Drop a change set the user said no to (and the empty stack a CREATE made)."""
        self._discard(change_set.id, change_set.stack)

    def execute(self, change_set: ChangeSet, on_event: EventSink, keep_failed: bool) -> str:
        """Run the change set and stream events until the stack settles; its final status.

        A failure raises StackError naming the resource that failed and why.
        """
        seen = {e.id for e in self._events_or_none(change_set.stack)}
        try:
            call(
                self.client,
                "execute_change_set",
                f"ExecuteChangeSet {change_set.stack}",
                ChangeSetName=change_set.id,
                StackName=change_set.stack,
                DisableRollback=keep_failed,
            )
        except AWSError as exc:
            # An endpoint that creates resources while executing (the moto server) reports
            # a resource it rejects as the call's error, with no event naming it.
            self._stream(change_set.stack, seen, on_event)
            culprit = self._first_missing(change_set, exc)
            if culprit:
                raise StackError(
                    f"stack {change_set.stack}: resource {culprit[0]} ({culprit[1]}) failed: "
                    f"{error_reason(str(exc))}"
                ) from exc
            raise StackError(self._failure(change_set.stack, seen, str(exc))) from exc
        status = ""
        for _ in self._ticks(f"stack {change_set.stack}"):
            self._stream(change_set.stack, seen, on_event)
            stack = self.describe(change_set.stack)
            status = stack.status if stack else "DELETE_COMPLETE"
            if not status.endswith("_IN_PROGRESS"):
                break
        if status in FAILED_STATES or status.endswith("_FAILED"):
            raise StackError(self._failure(change_set.stack, set(), f"it ended {status}"))
        return status

    def _first_missing(self, change_set: ChangeSet, error: AWSError) -> tuple[str, str] | None:
        """The resource an endpoint refused while executing, when no event names it.

        Resources the stack lists are left out; of the others, the one whose type the
        error code names (``InvalidSubnet.Range`` → ``AWS::EC2::Subnet``) is chosen, else
        the first whose dependencies all exist.
        """
        try:
            present = {r.logical_id for r in self.resources(change_set.stack)}
        except (AWSError, StackError):
            present = set()
        resources = template_resources(change_set.body)
        candidates = [
            (logical_id, str(resource.get("Type", "")))
            for logical_id, resource in resources.items()
            if logical_id not in present and "Condition" not in resource
        ]
        match = re.search(r"failed: (?:Invalid)?([A-Za-z]+)", str(error))
        noun = match.group(1).lower() if match else ""
        named = [c for c in candidates if noun and c[1].lower().endswith(f"::{noun}")]
        if named:
            return named[0]
        if not present:
            return None
        for logical_id, kind in candidates:
            if dependencies(resources[logical_id]) & set(resources) <= present:
                return logical_id, kind
        return None

    def exists(self, name: str) -> bool:
        """Whether anything of stack ``name`` is left, in whatever state."""
        status = self._raw_status(name)
        return status is not None and status != "DELETE_COMPLETE"

    def follow(self, name: str, seen: set[str], on_event: EventSink) -> None:
        """Pass on new events of ``name`` until the stack is no longer in progress."""
        for _ in self._ticks(f"stack {name}"):
            self._stream(name, seen, on_event)
            stack = self.describe(name)
            if stack is None or not stack.status.endswith("_IN_PROGRESS"):
                return

    def _events_or_none(self, name: str) -> list[Event]:
        try:
            return self.events(name)
        except AWSError:
            return []

    def _stream(self, name: str, seen: set[str], on_event: EventSink) -> list[Event]:
        fresh = [e for e in self._events_or_none(name) if e.id not in seen]
        for event in fresh:
            seen.add(event.id)
            on_event(event)
        return fresh

    def _failure(self, name: str, before: set[str], fallback: str) -> str:
        """One sentence naming the first resource that failed, and why."""
        events = [e for e in self._events_or_none(name) if e.id not in before]
        for event in events:
            if event.failed and event.logical_id != name and "cancelled" not in event.reason:
                return (
                    f"stack {name}: resource {event.logical_id} ({event.resource_type}) failed: "
                    f"{event.reason.rstrip('.') or event.status}"
                )
        started = [e for e in events if e.status.endswith("_IN_PROGRESS") and e.logical_id != name]
        completed = {e.logical_id for e in events if e.status.endswith("_COMPLETE")}
        pending = [e for e in started if e.logical_id not in completed]
        if pending:
            event = pending[-1]
            return (
                f"stack {name}: resource {event.logical_id} ({event.resource_type}) failed: "
                f"{fallback}"
            )
        return f"stack {name} failed: {fallback}"

    def delete(self, name: str, on_event: EventSink) -> None:
        seen = {e.id for e in self._events_or_none(name)}
        call(self.client, "delete_stack", f"DeleteStack {name}", StackName=name)
        for _ in self._ticks(f"deleting stack {name}"):
            self._stream(name, seen, on_event)
            stack = self._raw_status(name)
            if stack is None or stack == "DELETE_COMPLETE":
                return
            if stack == "DELETE_FAILED":
                raise StackError(self._failure(name, set(), "the delete failed"))

    def _raw_status(self, name: str) -> str | None:
        try:
            found = self.client.describe_stacks(StackName=name)["Stacks"]
        except Exception as exc:  # botocore's ClientError: a deleted stack is "not found"
            if error_code(exc) == "ValidationError":
                return None
            raise
        return str(found[0]["StackStatus"]) if found else None

    def _delete_quietly(self, name: str) -> None:
        try:
            self.client.delete_stack(StackName=name)
        except Exception:  # best effort: an empty review stack costs nothing
            return

    def _ticks(self, what: str) -> Iterator[int]:
        deadline = time.monotonic() + self.timeout
        tick = 0
        while True:
            yield tick
            tick += 1
            if time.monotonic() > deadline:
                raise StackError(f"{what} did not settle within {int(self.timeout)} s")
            time.sleep(self.poll if tick > 1 else min(self.poll, 0.2))
