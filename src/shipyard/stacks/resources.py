"""What a template says about its resources: their ids, types and dependencies, and which
of them a stack lacks after a deploy."""

from __future__ import annotations

import re
from typing import Any

from shipyard.stacks.records import Resource


def error_reason(message: str) -> str:
    """AWS's message without the operation's prefix ``ExecuteChangeSet x failed: ``."""
    return message.split(" failed: ", 1)[-1].rstrip(".")


def dependencies(resource: Any) -> set[str]:
    """Logical ids a resource refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    found: set[str] = set()
    depends = resource.get("DependsOn") if isinstance(resource, dict) else None
    if isinstance(depends, str):
        found.add(depends)
    elif isinstance(depends, list):
        found.update(str(d) for d in depends)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                    found.add(str(target))
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) else inner
                    found.update(re.findall(r"\$\{([A-Za-z0-9]+)", str(text)))
                walk(inner)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource.get("Properties", {}) if isinstance(resource, dict) else {})
    return found


def template_resources(body: str) -> dict[str, dict[str, Any]]:
    """The Resources mapping of a template body (JSON or YAML with CloudFormation tags)."""
    from cfnlint.decode import cfn_yaml

    data = cfn_yaml.loads(body)
    resources = data.get("Resources", {}) if isinstance(data, dict) else {}
    return {str(k): v for k, v in resources.items() if isinstance(v, dict)}


def skipped_resources(body: str, existing: list[Resource]) -> list[tuple[str, str]]:
    """Resources of the template the endpoint did not create: (logical id, type).

    Resources under a Condition are left out: a false condition legitimately makes none.
    """
    present = {r.logical_id for r in existing}
    return [
        (logical_id, str(resource.get("Type", "")))
        for logical_id, resource in template_resources(body).items()
        if logical_id not in present and "Condition" not in resource
    ]
