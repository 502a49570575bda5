"""What a stack file says, as frozen models: the stack, its image, parameters, artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutputRef(_Frozen):
    """``{stack: network-dev, output: VpcId}``: another stack's output, read at deploy."""

    stack: str = Field(min_length=1)
    output: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.stack}.{self.output}"


class ImageRef(_Frozen):
    """Which catalog image the stack runs; resolved to a pinned AMI id per region."""

    flavour: str = Field(min_length=1)
    release: str = "bookworm"
    arch: str = "amd64"
    channel: Literal["daily", "stable"] | None = "stable"
    parameter: str = "ImageId"  # the template parameter that takes the AMI id
    # pin: the AMI id resolved now; ssm: the channel's SSM parameter (`catalog promote
    # --ssm`), resolved by CloudFormation at each deploy into the same AMI id.
    follow: Literal["pin", "ssm"] = "pin"


class Artifact(_Frozen):
    """A folder zipped and uploaded before the deploy; its object key becomes a parameter."""

    folder: str = Field(min_length=1)
    bucket: str | OutputRef


ParameterValue = str | OutputRef


class StackFile(_Frozen):
    """One stack file (`stacks/*.yml`)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9-]*$")
    recipe: str | None = None
    template: str | None = None
    region: str | None = None
    image: ImageRef | None = None
    parameters: dict[str, ParameterValue] = {}
    tags: dict[str, str] = {}
    artifacts: dict[str, Artifact] = {}

    @model_validator(mode="after")
    def _one_source(self) -> StackFile:
        if (self.recipe is None) == (self.template is None):
            raise ValueError("a stack needs exactly one of recipe or template")
        return self

    def references(self) -> set[str]:
        """The stacks whose outputs this one reads."""
        refs = {v.stack for v in self.parameters.values() if isinstance(v, OutputRef)}
        refs |= {a.bucket.stack for a in self.artifacts.values() if isinstance(a.bucket, OutputRef)}
        return refs


class StackDefinition(BaseModel):
    """A stack file as loaded: the model and the file it came from (None for a recipe's
    example, rendered when no stack file of that name exists)."""

    model_config = ConfigDict(frozen=True)

    spec: StackFile
    path: Path | None = None

    @property
    def display(self) -> str:
        return str(self.path) if self.path else f"recipe {self.spec.recipe}"
