"""The built-in recipes: one module each, registered here by name, imported when chosen.

Each module has ``RECIPE``: a :class:`Recipe` whose template documents its parameters
and outputs (their descriptions) and whose ``example`` parameters render and lint clean.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from troposphere import Template

from shipyard.errors import StackError

REGISTRY: dict[str, str] = {
    "network": "shipyard.stacks.recipes.network",
    "security-groups": "shipyard.stacks.recipes.security_groups",
    "web": "shipyard.stacks.recipes.web",
    "s3": "shipyard.stacks.recipes.s3",
    "ecs": "shipyard.stacks.recipes.ecs",
    "rds": "shipyard.stacks.recipes.rds",
    "jenkins": "shipyard.stacks.recipes.jenkins",
    "beanstalk": "shipyard.stacks.recipes.beanstalk",
    "docker-app": "shipyard.stacks.recipes.docker_app",
    "registry": "shipyard.stacks.recipes.registry",
    "frontend": "shipyard.stacks.recipes.frontend",
}


@dataclass(frozen=True)
class Recipe:
    """A template written in Python, and parameters that show it working."""

    name: str
    summary: str
    build: Callable[[], Template]
    example: Mapping[str, str] = field(default_factory=dict)


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> Recipe:
    """The recipe called ``name``; StackError naming the known ones otherwise."""
    module_name = REGISTRY.get(name)
    if module_name is None:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(REGISTRY)}"
        raise StackError(f"no recipe called {name!r}", hint=hint)
    recipe: Recipe = importlib.import_module(module_name).RECIPE
    return recipe
