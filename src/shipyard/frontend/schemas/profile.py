"""An appliance's profile: what a host installs, and the rendered form a host receives."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from shipyard.frontend.schemas.common import Body, Text

Path = Annotated[str, StringConstraints(min_length=2, max_length=1024, pattern=r"^/[^\x00]*$")]
Mode = Annotated[str, StringConstraints(pattern=r"^0?[0-7]{3,4}$")]
Owner = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z_][a-z0-9_-]*$")
]
Package = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9+.:=~-]*$")
]
# A script is written under this name into a folder on the host: ".." or "." would name
# a folder (the agent then failed with IsADirectoryError and never reported).
SCRIPT_NAME = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
ScriptName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SCRIPT_NAME)]


class ProfileFile(Body):
    path: Path
    content: Text = ""
    mode: Mode = "0644"
    owner: Owner = "root"
    group: Owner = "root"


class ProfileScript(Body):
    name: ScriptName
    content: Text

    @field_validator("name", mode="before")
    @classmethod
    def _plain_file_name(cls, value: object) -> object:
        if isinstance(value, str) and not re.match(SCRIPT_NAME, value):
            raise ValueError(
                f"{value[:64]!r} is not a plain file name (letters, digits, _ . -, not "
                "starting with a dot)"
            )
        return value


class BootstrapShell(Body):
    shell: Text


class Profile(Body):
    """Packages, files and scripts are Jinja2 templates rendered per host."""

    packages: Annotated[list[Package], Field(max_length=500)] = []
    files: Annotated[list[ProfileFile], Field(max_length=200)] = []
    scripts: Annotated[list[ProfileScript], Field(max_length=100)] = []
    bootstrap: Annotated[list[BootstrapShell], Field(max_length=100)] = []
    reboot: bool = False


class RenderedProfile(BaseModel):
    host: str
    appliance: str
    attributes: dict[str, str]
    packages: list[str]
    files: list[ProfileFile]
    scripts: list[ProfileScript]
    bootstrap: list[BootstrapShell]
    reboot: bool
    # Names of the shadow attributes: the host masks their values in what it prints.
    shadow: list[str] = []
