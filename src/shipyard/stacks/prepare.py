"""One stack, ready to deploy: rendered, linted, its image resolved, its parameters read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipyard.catalog.resolve import View
from shipyard.errors import StackError
from shipyard.stacks.deploy import Stacks
from shipyard.stacks.images import ResolvedImage, resolve_image
from shipyard.stacks.lint import Finding, lint
from shipyard.stacks.model import StackDefinition
from shipyard.stacks.plan import StackPlan, plan_stack
from shipyard.stacks.render import RenderedTemplate, render

# Uploads a stack's artifacts; returns parameter name → object key.
Uploader = Callable[[StackDefinition, Stacks], dict[str, str]]


@dataclass(frozen=True)
class Prepared:
    template: RenderedTemplate
    findings: tuple[Finding, ...]
    plan: StackPlan


def prepare(
    definition: StackDefinition,
    stacks: Stacks,
    region: str,
    view: Callable[[], View],
    upload: Uploader | None = None,
) -> Prepared:
    """Render and lint (refusing on errors), resolve the image, read referenced outputs."""
    template = render(definition)
    findings = tuple(lint(template, region))
    errors = [f for f in findings if f.is_error]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise StackError(
            f"{errors[0]}{more}",
            hint=f"`shipyard stacks lint {definition.spec.name}` lists every finding",
        )
    image: ResolvedImage | None = None
    if definition.spec.image is not None:
        image = resolve_image(definition.spec.image, region, view())
    uploaded = upload(definition, stacks) if upload and definition.spec.artifacts else {}
    plan = plan_stack(definition, template, stacks.outputs, image, uploaded)
    return Prepared(template, findings, plan)
