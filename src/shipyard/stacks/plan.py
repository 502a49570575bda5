"""What a deploy sends: parameters with other stacks' outputs and the image filled in,
and the order stacks must be deployed in, from their ``{stack:, output:}`` references."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shipyard.catalog import ssm
from shipyard.errors import StackError, StackFileError
from shipyard.stacks.images import ResolvedImage
from shipyard.stacks.model import OutputRef, StackDefinition
from shipyard.stacks.render import RenderedTemplate

MANAGED_TAG = "shipyard:stack"

# Reads a deployed stack's outputs by stack name; None when the stack does not exist.
OutputsReader = Callable[[str], Mapping[str, str] | None]


@dataclass(frozen=True)
class StackPlan:
    name: str
    body: str
    parameters: Mapping[str, str]
    tags: Mapping[str, str]
    image: ResolvedImage | None = None
    uploaded: Mapping[str, str] = field(default_factory=dict)  # artifact parameter → key


def deploy_order(stacks: Mapping[str, StackDefinition]) -> list[str]:
    """Stack names, each after the stacks it reads outputs from; StackFileError on a cycle."""
    done: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " → ".join([*visiting[visiting.index(name) :], name])
            raise StackFileError(f"stacks read each other's outputs in a cycle: {cycle}")
        visiting.append(name)
        for ref in sorted(stacks[name].spec.references()):
            if ref in stacks:
                visit(ref)
        visiting.pop()
        done.append(name)

    for name in sorted(stacks):
        visit(name)
    return done


def read_output(ref: OutputRef, reader: OutputsReader, needed_by: str) -> str:
    outputs = reader(ref.stack)
    if outputs is None:
        raise StackError(
            f"stack {needed_by} reads output {ref.output} of stack {ref.stack}, "
            f"which is not deployed; deploy {ref.stack} first"
        )
    if ref.output not in outputs:
        close = difflib.get_close_matches(ref.output, outputs, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (it has {', '.join(outputs)})"
        raise StackError(f"stack {ref.stack} has no output {ref.output!r}{hint}")
    return outputs[ref.output]


def plan_stack(
    definition: StackDefinition,
    template: RenderedTemplate,
    reader: OutputsReader,
    image: ResolvedImage | None = None,
    uploaded: Mapping[str, str] | None = None,
) -> StackPlan:
    """The parameters and tags of one deploy, every name checked against the template."""
    spec = definition.spec
    values: dict[str, str] = {}
    for key, value in spec.parameters.items():
        values[key] = (
            read_output(value, reader, spec.name) if isinstance(value, OutputRef) else value
        )
    if image is not None and spec.image is not None:
        values[spec.image.parameter] = (
            ssm.parameter_name(
                spec.image.flavour,
                spec.image.release,
                spec.image.arch,
                spec.image.channel or "stable",
            )
            if spec.image.follow == "ssm"
            else image.ami_id
        )
    values.update(uploaded or {})
    for key in values:
        if key not in template.parameters:
            close = difflib.get_close_matches(key, template.parameters, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            known = ", ".join(sorted(template.parameters)) or "none"
            raise StackFileError(
                f"{definition.display}: {template.display} has no parameter {key!r} "
                f"(it takes {known})",
                hint=hint,
            )
    tags = {**spec.tags, MANAGED_TAG: spec.name, **(image.tags() if image else {})}
    return StackPlan(spec.name, template.body, values, tags, image, dict(uploaded or {}))
