"""How `shipyard stacks` shows change sets, events and outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.cli.output import print_table, stderr_console

if TYPE_CHECKING:
    from shipyard.stacks.records import ChangeSet, Event


def print_event(event: Event, prefix: str = "") -> None:
    style = "red" if event.failed else "green" if event.status.endswith("COMPLETE") else ""
    reason = f"  {event.reason}" if event.reason else ""
    line = f"{prefix}  {event.status:<22} {event.logical_id:<28} {event.resource_type}{reason}"
    stderr_console().print(line, style=style or None, markup=False)


class Progress:
    """Events with a running count of resources settled out of those the change set names."""

    def __init__(self, stack: str, total: int) -> None:
        self.stack = stack
        self.total = total
        self.done: set[str] = set()

    def __call__(self, event: Event) -> None:
        settled = event.status.endswith(("_COMPLETE", "_FAILED"))
        if settled and event.logical_id != self.stack:
            self.done.add(event.logical_id)
        prefix = f"[{min(len(self.done), self.total)}/{self.total}]"
        print_event(event, prefix)


def change_table(change_set: ChangeSet, to_stderr: bool = False) -> None:
    print_table(
        ("action", "logical id", "type", "replacement"),
        [(c.action, c.logical_id, c.resource_type, c.replacement) for c in change_set.changes],
        title=f"change set for {change_set.stack} ({change_set.kind.lower()})",
        to_stderr=to_stderr,
    )


def outputs_table(name: str, outputs: dict[str, str]) -> None:
    print_table(("output", "value"), sorted(outputs.items()), title=f"outputs of {name}")
