"""What CloudFormation tells about stacks, as frozen records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    action: str  # Add, Modify, Remove
    logical_id: str
    resource_type: str
    replacement: str  # True, False, Conditional, or "" for Add/Remove


@dataclass(frozen=True)
class ChangeSet:
    stack: str
    id: str
    kind: str  # CREATE or UPDATE
    changes: tuple[Change, ...]
    empty: bool = False
    body: str = ""  # the template the change set was made from


@dataclass(frozen=True)
class Event:
    id: str
    time: str
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


@dataclass(frozen=True)
class Resource:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str


@dataclass(frozen=True)
class DeployedStack:
    name: str
    status: str
    outputs: dict[str, str]
    tags: dict[str, str]
    parameters: dict[str, str]
